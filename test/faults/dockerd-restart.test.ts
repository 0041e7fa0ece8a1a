/**
 * The Docker engine restarts under a running Berth (issue 5): dockerd is stopped (SIGTERM, as
 * an init system would) and started again with the same command line, environment and log file,
 * while a service serves under light load. Its containers die with the engine; once the engine
 * answers again Berth must bring the service back by itself: serving through the router, exactly
 * one instance of the revision it ran, nothing orphaned, the API unchanged.
 *
 * It stops the engine every other test uses, so it lives in test/faults, which scripts/test.ts
 * runs alone after the other tests. It always starts the engine again, even when it fails.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateServiceCommand, DescribeServiceCommand, ListOperationsCommand, UpdateServiceCommand } from '@aws-sdk/client-apprunner';
import { httpsGet, waitFor } from '../support/berth-process.ts';
import { dockerAvailable } from '../support/docker.ts';
import { E2eInstallation, imageSource } from '../support/e2e-installation.ts';
import { startLoad } from '../support/load.ts';
import { serviceContainers, waitForOperation, type ServiceContainer } from '../support/services.ts';

/** How long the service may take to serve again once the engine answers. */
const RECOVERY_BOUND_MS = 60_000;

/** What it takes to start a running dockerd again as it was started. */
interface DaemonLaunch {
  pid: number;
  /** The binary, from /proc/<pid>/exe (argv[0] may be a bare name resolved through PATH). */
  executable: string;
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  /** Where its stdout went, if that was a file; otherwise a new file. */
  logPath: string;
}

/** Why this test cannot restart the engine here, or undefined when it can. */
function restartUnsupported(): string | undefined {
  if (process.getuid?.() !== 0) return 'restarting the Docker engine needs root; run as root (CI does)';
  if (!existsSync('/proc/self/cmdline')) return 'finding dockerd needs Linux’s /proc';
  if (existsSync('/run/systemd/system')) return 'systemd manages dockerd here; restarting it behind systemd’s back would fight it (use `systemctl restart docker` by hand)';
  if (dockerdPids().length !== 1) return `expected one local dockerd process, found ${dockerdPids().length} (a remote or desktop engine cannot be restarted from here)`;
  return undefined;
}

function dockerdPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'dockerd' && !isZombie(Number(entry))) pids.push(Number(entry));
    } catch {
      // Exited while listing.
    }
  }
  return pids;
}

function isZombie(pid: number): boolean {
  try {
    // /proc/<pid>/stat: "pid (comm) state ..."; comm may contain spaces, the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  return existsSync(`/proc/${pid}`) && !isZombie(pid);
}

function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((candidate) => {
      try {
        const stat = readFileSync(`/proc/${candidate}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    });
}

function nulSeparated(path: string): string[] {
  return readFileSync(path, 'utf8').split('\0').filter((part) => part !== '');
}

function describeDaemon(pid: number): DaemonLaunch {
  const argv = nulSeparated(`/proc/${pid}/cmdline`);
  const env = Object.fromEntries(nulSeparated(`/proc/${pid}/environ`).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
  let executable = readlinkSync(`/proc/${pid}/exe`);
  // A binary replaced by an upgrade reads "<path> (deleted)": start what is at the path now.
  executable = executable.replace(/ \(deleted\)$/, '');
  let logPath = join(tmpdir(), `berth-dockerd-restart-${process.pid}.log`);
  try {
    const target = readlinkSync(`/proc/${pid}/fd/1`);
    if (target.startsWith('/') && statSync(target).isFile()) logPath = target;
  } catch {
    // No stdout, or not a file (a pipe, a terminal): the new file above.
  }
  return { pid, executable, argv, env, cwd: readlinkSync(`/proc/${pid}/cwd`), logPath };
}

/** SIGTERM, then waits for dockerd and the processes it ran (its containerd) to be gone. */
async function stopDaemon(daemon: DaemonLaunch): Promise<void> {
  const children = childrenOf(daemon.pid);
  process.kill(daemon.pid, 'SIGTERM');
  // dockerd stops its containers first (SIGTERM, then SIGKILL after their stop timeout).
  const deadline = Date.now() + 60_000;
  while (alive(daemon.pid) && Date.now() < deadline) await sleep(100);
  if (alive(daemon.pid)) process.kill(daemon.pid, 'SIGKILL');
  for (const pid of children) {
    const childDeadline = Date.now() + 20_000;
    while (alive(pid) && Date.now() < childDeadline) await sleep(100);
  }
  while (alive(daemon.pid)) await sleep(100);
}

/**
 * Starts dockerd as it ran before, in a session of its own so it outlives this test; returns what
 * has become of it so far (undefined while it runs).
 */
function launchDaemon(daemon: DaemonLaunch): () => string | undefined {
  const log = openSync(daemon.logPath, 'a');
  let exited: string | undefined;
  try {
    const child = spawn(daemon.executable, daemon.argv.slice(1), {
      argv0: daemon.argv[0] ?? daemon.executable,
      env: daemon.env,
      cwd: daemon.cwd,
      detached: true,
      stdio: ['ignore', log, log],
    });
    child.once('error', (error) => (exited = error.message));
    child.once('exit', (code, signal) => (exited = `exited (${signal ?? `code ${code}`})`));
    child.unref();
  } finally {
    closeSync(log);
  }
  return () => exited;
}

/** Starts dockerd again and waits for it to answer /_ping. */
async function startDaemon(daemon: DaemonLaunch): Promise<void> {
  const exited = launchDaemon(daemon);
  await waitFor(
    async () => exited() === undefined && (await dockerAvailable()),
    60_000,
    () => `dockerd did not answer /_ping within 60 s after its restart${exited() === undefined ? '' : `: it ${exited()}`}; last lines of ${daemon.logPath}:\n${readFileSync(daemon.logPath, 'utf8').slice(-3000)}`,
    () => exited() !== undefined,
  );
}

/**
 * Runs `outage` (which stops the engine), then starts the engine again whatever happened: after
 * an error, and on SIGINT or SIGTERM (an interrupted test run) before this process exits.
 */
async function withEngineStopped(daemon: DaemonLaunch, outage: () => Promise<void>): Promise<void> {
  let relaunched = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (!relaunched) {
      relaunched = true;
      // The old daemon may be shutting down still: a second one would fail on its pid file. Wait
      // for it, synchronously, as this process is about to exit (scripts/test.ts allows 5 s);
      // one still alive after that was not stopped, or is stuck, and is left as it is.
      const deadline = Date.now() + 4_000;
      while (alive(daemon.pid) && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
      if (!alive(daemon.pid)) launchDaemon(daemon);
    }
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await outage();
  } finally {
    if (!relaunched) {
      relaunched = true;
      await startDaemon(daemon);
    }
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

const unsupported = restartUnsupported();
const e2e = new E2eInstallation({ images: { v1: { tag: 'app:1', body: 'v1\n' }, v2: { tag: 'app:2', body: 'v2\n' } }, startupTimeoutSeconds: 10 });
const docker = e2e.docker;
before(async (t) => {
  if (unsupported === undefined) await e2e.start(t);
});
after(() => e2e.close());

describe('a Docker engine restart', { skip: unsupported ?? false }, () => {
  test('the service serves again with one instance of its revision, nothing orphaned, the API unchanged', async (t) => {
    const api = e2e.client;
    const up = e2e.berth;
    // A service with a history: created, then updated, so two operations must survive.
    const reply = await api.send(new CreateServiceCommand({
      ServiceName: 'engine-restart',
      SourceConfiguration: imageSource(e2e.images.v1),
      HealthCheckConfiguration: { Protocol: 'TCP', Interval: 1, Timeout: 1, HealthyThreshold: 1, UnhealthyThreshold: 2 },
    }));
    const arn = reply.Service?.ServiceArn as string;
    const id = reply.Service?.ServiceId as string;
    e2e.created.push(arn);
    const creation = await waitForOperation(api, arn, reply.OperationId as string, (s) => s !== 'IN_PROGRESS', { timeoutMs: 30_000 });
    assert.equal(creation.operation.Status, 'SUCCEEDED', `the creation ended ${creation.operation.Status}; output:\n${e2e.output()}`);
    const update = await api.send(new UpdateServiceCommand({ ServiceArn: arn, SourceConfiguration: imageSource(e2e.images.v2) }));
    const { operation } = await waitForOperation(api, arn, update.OperationId as string, (s) => s !== 'IN_PROGRESS', { timeoutMs: 30_000 });
    assert.equal(operation.Status, 'SUCCEEDED', `the update ended ${operation.Status}; output:\n${e2e.output()}`);
    const host = (await api.send(new DescribeServiceCommand({ ServiceArn: arn }))).Service?.ServiceUrl as string;
    await waitFor(async () => (await httpsGet(up, host)).body === 'v2\n', 10_000, () => `never served v2; output:\n${e2e.output()}`);
    let before: ServiceContainer[] = [];
    await waitFor(async () => (before = await serviceContainers(docker, id)).length === 1, 10_000, () => `not one container: ${JSON.stringify(before)}`);
    const revisionId = before[0]?.revisionId as string;
    const operationsBefore = (await api.send(new ListOperationsCommand({ ServiceArn: arn }))).OperationSummaryList;
    const controlPlane = up.controlPlanePid();

    const traffic = startLoad(up, { host, concurrency: 2, durationMs: 240_000, expectedBodies: ['v2\n'] });
    let stoppingAt = 0;
    let stoppedAt = 0;
    let engineBackAt = 0;
    let recoveredAt = 0;
    try {
      await waitFor(() => traffic.report().requests >= 50, 10_000, () => `no traffic: ${traffic.describe()}`);
      const daemon = describeDaemon(dockerdPids()[0] as number);
      t.diagnostic(`restarting ${daemon.executable} ${JSON.stringify(daemon.argv)} (pid ${daemon.pid}), log ${daemon.logPath}`);
      // Whatever fails in between, the rest of CI needs an engine.
      await withEngineStopped(daemon, async () => {
        stoppingAt = performance.now();
        await stopDaemon(daemon);
        stoppedAt = performance.now();
      });
      engineBackAt = performance.now();
      t.diagnostic(`dockerd took ${((stoppedAt - stoppingAt) / 1000).toFixed(1)} s to stop and ${((engineBackAt - stoppedAt) / 1000).toFixed(1)} s to answer again (pid ${dockerdPids().join(', ')})`);
      await waitFor(async () => (await httpsGet(up, host, '/', 2_000)).body === 'v2\n', RECOVERY_BOUND_MS,
        () => `the service did not serve again within ${RECOVERY_BOUND_MS} ms of the engine's restart; ${traffic.describe(traffic.report(engineBackAt))}; output:\n${e2e.output()}`);
      recoveredAt = performance.now();
      t.diagnostic(`serving again ${((recoveredAt - engineBackAt) / 1000).toFixed(1)} s after the engine answered`);
      await waitFor(() => traffic.report(recoveredAt).requests >= 100, 20_000, () => `too little traffic after the recovery: ${traffic.describe(traffic.report(recoveredAt))}`);
    } finally {
      await traffic.stop();
    }
    t.diagnostic(`before the engine stopped: ${traffic.describe(traffic.report(0, stoppingAt))}`);
    t.diagnostic(`while it was away: ${traffic.describe(traffic.report(stoppingAt, engineBackAt))}`);
    t.diagnostic(`until the service served again: ${traffic.describe(traffic.report(engineBackAt, recoveredAt))}`);
    t.diagnostic(`after: ${traffic.describe(traffic.report(recoveredAt))}`);
    assert.equal(traffic.report(0, stoppingAt).failures, 0, `requests failed before the engine stopped, while the instance was healthy: ${traffic.describe(traffic.report(0, stoppingAt))}`);
    assert.equal(traffic.report(recoveredAt).failures, 0, `requests failed after the service recovered: ${traffic.describe(traffic.report(recoveredAt))}`);

    // Exactly one instance, of the revision that ran before, and it stays that way.
    let now: ServiceContainer[] = [];
    await waitFor(
      async () => (now = await serviceContainers(docker, id)).length === 1 && now[0]?.state === 'running' && now[0].revisionId === revisionId,
      20_000,
      () => `expected one running container of revision ${revisionId}; Docker has ${JSON.stringify(now)}; output:\n${e2e.output()}`,
    );
    await sleep(2_000);
    assert.deepEqual(await serviceContainers(docker, id), now, 'the containers changed after they had settled');
    const db = new DatabaseSync(join(up.home, 'berth.db'), { readOnly: true });
    const installation = (db.prepare("SELECT value FROM meta WHERE key = 'installation-id'").get() as { value?: string } | undefined)?.value;
    db.close();
    const mine = await docker.listContainers({ all: true, labels: [`berth.installation=${installation}`] });
    assert.deepEqual(mine.map((c) => c.Id), now.map((c) => c.id), 'no container of the installation besides the service’s one');

    const described = (await api.send(new DescribeServiceCommand({ ServiceArn: arn }))).Service;
    assert.equal(described?.Status, 'RUNNING');
    assert.equal(described?.SourceConfiguration?.ImageRepository?.ImageIdentifier, e2e.images.v2);
    assert.deepEqual((await api.send(new ListOperationsCommand({ ServiceArn: arn }))).OperationSummaryList, operationsBefore, 'the operations are as they were');
    if (up.controlPlanePid() !== controlPlane) t.diagnostic(`note: the control plane restarted during the engine's absence (pid ${controlPlane} → ${up.controlPlanePid()})`);
  });
});

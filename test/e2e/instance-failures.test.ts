/**
 * Instances that die under Berth (issue 5): one of two killed under load is replaced while the
 * other serves every request, and the event log says why; instances that keep crashing are
 * replaced with growing pauses (a crash loop that backs off and shows in DescribeService), never
 * in a hot loop.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateAutoScalingConfigurationCommand,
  CreateServiceCommand,
  DeleteServiceCommand,
  DescribeServiceCommand,
  type Service,
} from '@aws-sdk/client-apprunner';
import { waitFor } from '../support/berth-process.ts';
import { killContainer } from '../support/docker.ts';
import { E2eInstallation } from '../support/e2e-installation.ts';
import { startLoad } from '../support/load.ts';
import { describeServiceRaw, serviceContainers, waitForOperation, type ServiceContainer } from '../support/services.ts';
import { signedFetch } from '../support/signed-request.ts';

const e2e = new E2eInstallation({ images: { app: {} }, startupTimeoutSeconds: 10 });
const docker = e2e.docker;
before((t) => e2e.start(t));
after(() => e2e.close());

interface ServiceEvent {
  At: number;
  Type: string;
  Message: string;
  InstanceId?: string;
  RevisionId?: string;
  OperationId?: string;
}

/** The service's event log, oldest first (`Berth.ListServiceEvents` pages newest first). */
async function serviceEvents(arn: string): Promise<ServiceEvent[]> {
  const events: ServiceEvent[] = [];
  let token: string | undefined;
  do {
    const reply = await signedFetch(e2e.berth, 'Berth.ListServiceEvents', JSON.stringify({ ServiceArn: arn, MaxResults: 100, ...(token !== undefined && { NextToken: token }) }));
    assert.equal(reply.status, 200, `Berth.ListServiceEvents answered ${reply.status}: ${reply.body}`);
    const page = reply.json() as { Events?: ServiceEvent[]; NextToken?: string };
    events.push(...(page.Events ?? []));
    token = page.NextToken;
  } while (token !== undefined);
  return events.reverse();
}

/** Creates a service from `image` with a StartCommand and quick TCP health checks; resolves once its creation ended. */
async function createService(name: string, startCommand: string, extra: { AutoScalingConfigurationArn?: string } = {}): Promise<Service> {
  const reply = await e2e.client.send(
    new CreateServiceCommand({
      ServiceName: name,
      SourceConfiguration: { ImageRepository: { ImageIdentifier: e2e.images.app, ImageRepositoryType: 'ECR', ImageConfiguration: { Port: '8080', StartCommand: startCommand } } },
      HealthCheckConfiguration: { Protocol: 'TCP', Interval: 1, Timeout: 1, HealthyThreshold: 1, UnhealthyThreshold: 2 },
      ...extra,
    }),
  );
  const arn = reply.Service?.ServiceArn as string;
  e2e.created.push(arn);
  const { operation } = await waitForOperation(e2e.client, arn, reply.OperationId as string, (s) => s !== 'IN_PROGRESS', { timeoutMs: 30_000 });
  assert.equal(operation.Status, 'SUCCEEDED', `creating ${name} ended ${operation.Status}; output:\n${e2e.output()}`);
  const service = (await e2e.client.send(new DescribeServiceCommand({ ServiceArn: arn }))).Service;
  assert.ok(service);
  return service;
}

/** The first 12 characters of a container id: its host name, which the instances below serve. */
const shortId = (c: ServiceContainer): string => c.id.slice(0, 12);

describe('instances that die', () => {
  test('one of two instances killed under load: no request fails, a replacement serves, the event log says why', async () => {
    const asc = await e2e.client.send(new CreateAutoScalingConfigurationCommand({ AutoScalingConfigurationName: 'two-instances', MinSize: 2, MaxSize: 2 }));
    // Each instance serves its own host name (its container's short id), to tell them apart.
    const service = await createService('two-instances', '/bin/busybox hostname > /www/index.html; exec /bin/busybox httpd -f -p "$PORT" -h /www', {
      AutoScalingConfigurationArn: asc.AutoScalingConfiguration?.AutoScalingConfigurationArn as string,
    });
    const id = service.ServiceId as string;
    let before: ServiceContainer[] = [];
    await waitFor(
      async () => (before = (await serviceContainers(docker, id)).filter((c) => c.state === 'running')).length === 2,
      20_000,
      () => `two instances never ran: ${JSON.stringify(before)}; output:\n${e2e.output()}`,
    );
    const traffic = startLoad(e2e.berth, { host: service.ServiceUrl as string, concurrency: 4, durationMs: 120_000 });
    const bodies = (): Set<string> => new Set(traffic.samples.filter((s) => s.status === 200).map((s) => s.body.trim()));
    let replacement: ServiceContainer | undefined;
    const [victim, survivor] = before as [ServiceContainer, ServiceContainer];
    try {
      // Both serve before one is killed, so the router balances across both.
      await waitFor(() => bodies().has(shortId(victim)) && bodies().has(shortId(survivor)), 15_000, () => `not both instances served: ${traffic.describe()}`);
      await killContainer(victim.id);
      const killedAt = performance.now();
      await waitFor(
        async () => {
          const now = await serviceContainers(docker, id);
          replacement = now.find((c) => c.id !== victim.id && c.id !== survivor.id && c.state === 'running');
          return replacement !== undefined && bodies().has(shortId(replacement));
        },
        30_000,
        () => `no replacement served; containers ${JSON.stringify(replacement)}; ${traffic.describe()}; output:\n${e2e.output()}`,
      );
      const replacedAt = performance.now();
      await waitFor(() => traffic.report(replacedAt).requests >= 20, 10_000, () => 'no traffic after the replacement');
      await traffic.stop();
      assert.equal(traffic.report().failures, 0, `requests failed though another instance was healthy throughout: ${traffic.describe()}`);
      assert.ok(traffic.report(killedAt, replacedAt).requests > 0, 'requests were sent while one instance was dead');
    } finally {
      await traffic.stop().catch(() => undefined);
    }
    const after = await serviceContainers(docker, id);
    assert.deepEqual(
      after.map((c) => [c.id, c.state]).sort(),
      [[survivor.id, 'running'], [replacement?.id, 'running']].sort(),
      'the killed container is gone and exactly two instances run',
    );
    assert.ok(after.every((c) => c.revisionId === victim.revisionId), 'the replacement runs the same revision');

    let events: ServiceEvent[] = [];
    await waitFor(
      async () => (events = await serviceEvents(service.ServiceArn as string)).some((e) => e.InstanceId === victim.instanceId && e.Type === 'INSTANCE_FAILED'),
      10_000,
      () => `no INSTANCE_FAILED event for the killed instance ${victim.instanceId}: ${JSON.stringify(events, null, 1)}`,
    );
    const failed = events.find((e) => e.InstanceId === victim.instanceId && e.Type === 'INSTANCE_FAILED');
    assert.match(failed?.Message ?? '', /exited with code 137/, 'the event says how it died (SIGKILL: 128 + 9)');
    assert.ok(events.some((e) => e.Type === 'INSTANCE_STARTED' && e.InstanceId === replacement?.instanceId), `no INSTANCE_STARTED event for the replacement: ${JSON.stringify(events, null, 1)}`);
    assert.equal((await e2e.client.send(new DescribeServiceCommand({ ServiceArn: service.ServiceArn }))).Service?.Status, 'RUNNING');
  });

  test('instances that crash a few seconds after starting are replaced with growing pauses, not in a hot loop', async (t) => {
    // Serves for 2 s, then exits 1: every instance passes its health check, then dies.
    const service = await createService('crash-loop', '/bin/busybox httpd -p "$PORT" -h /www; /bin/busybox sleep 2; exit 1');
    const arn = service.ServiceArn as string;
    const id = service.ServiceId as string;
    // Meanwhile Docker never shows two instances of the one-instance service running at once.
    let mostRunning = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const running = (await serviceContainers(docker, id).catch(() => [])).filter((c) => c.state === 'running').length;
        mostRunning = Math.max(mostRunning, running);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();
    const WINDOW_S = 30;
    let starts: number[] = [];
    try {
      const startsOf = async (): Promise<number[]> =>
        (await serviceEvents(arn)).filter((e) => e.Type === 'INSTANCE_STARTED').map((e) => e.At);
      await waitFor(async () => (starts = await startsOf()).length > 0 && Date.now() / 1000 > (starts[0] as number) + WINDOW_S + 1, (WINDOW_S + 15) * 1000,
        () => `instance starts: ${JSON.stringify(starts)}; output:\n${e2e.output()}`);
    } finally {
      watching = false;
      await watcher;
    }
    const first = starts[0] as number;
    const inWindow = starts.filter((at) => at <= first + WINDOW_S);
    const gaps = inWindow.slice(1).map((at, i) => at - (inWindow[i] as number));
    const shown = `starts at +${inWindow.map((at) => (at - first).toFixed(1)).join(', +')} s`;
    t.diagnostic(shown);
    // Without backoff an instance would start about every 3 s (2 s of life, then noticing and
    // starting the next): 10 in 30 s. Backing off 0, 1, 2, 4, 8 s between them gives 6 at most.
    assert.ok(inWindow.length < 8, `hot loop: ${inWindow.length} starts in ${WINDOW_S} s (${shown})`);
    assert.ok(inWindow.length >= 4, `the crashing instance was not kept replaced: ${inWindow.length} starts in ${WINDOW_S} s (${shown})`);
    for (let i = 1; i < gaps.length; i++) {
      assert.ok((gaps[i] as number) >= (gaps[i - 1] as number) - 0.5, `the pauses between starts do not grow: ${shown}`);
    }
    // Equal gaps give a difference of a few hundred ms at most (the reconcile interval is 250 ms).
    assert.ok((gaps.at(-1) as number) >= (gaps[0] as number) + 2, `the pauses between starts do not grow: ${shown}`);
    assert.ok(mostRunning <= 1, `${mostRunning} instances of a one-instance service ran at once`);

    const described = (await describeServiceRaw(e2e.berth, arn)).Service as { Status?: string; CrashLoop?: { Failures?: number; LastReason?: string; RevisionId?: string; NextStartAt?: number } };
    assert.ok(described.CrashLoop, `DescribeService shows no CrashLoop: ${JSON.stringify(described)}`);
    assert.ok((described.CrashLoop.Failures ?? 0) >= 3, `CrashLoop.Failures: ${JSON.stringify(described.CrashLoop)}`);
    assert.match(described.CrashLoop.LastReason ?? '', /exited with code 1/);
    const events = await serviceEvents(arn);
    assert.ok(events.some((e) => e.Type === 'CRASH_LOOP'), `no CRASH_LOOP event: ${JSON.stringify(events.map((e) => e.Type))}`);
    assert.ok(events.some((e) => e.Type === 'INSTANCE_FAILED' && /exited with code 1/.test(e.Message)), 'the event log says why the instances failed');

    // A service that is backing off is still deleted at once.
    const deleting = await e2e.client.send(new DeleteServiceCommand({ ServiceArn: arn }));
    const { operation } = await waitForOperation(e2e.client, arn, deleting.OperationId as string, (s) => s !== 'IN_PROGRESS', { timeoutMs: 20_000 });
    assert.equal(operation.Status, 'SUCCEEDED');
    assert.deepEqual(await serviceContainers(docker, id), []);
  });
});

/**
 * @module
 * The local-process runtime, for machines without a container engine: each instance of a
 * process build (process-builder.ts) is a process group on this machine, started in the build's
 * app directory with its own loopback port as PORT.
 *
 * Nothing that matters is kept in memory, so a restarted control plane sees exactly what runs:
 * - `<root>/instances/<instanceId>/state.json` says whose instance it is, its port, and the pid
 *   and start time of its supervisor (pid and start time together survive pid reuse);
 * - the supervisor, a small fixed `sh` script, is the leader of the instance's process group and
 *   session (so it outlives the control plane), runs the start command as its child, waits for
 *   it, and writes its exit status to `exit-code`; all output is appended to `output.log`;
 * - the supervisor blocks until the control plane has recorded its pid and moved it into its
 *   cgroup, then reads "go" on its stdin; if the control plane dies first, stdin ends and the
 *   supervisor exits without starting anything, so no unrecorded process is ever left running.
 *
 * Weaker isolation than containers, by nature: instances share the machine's file system, user,
 * network namespace and tools; instances of one build share its app directory; an app may listen
 * on any interface, not only the loopback address Berth routes to; CPU and memory limits apply
 * only where cgroup v2 allows it (`limits`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { open, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RuntimeError, type ContainerRuntime, type Instance, type InstanceSpec } from '../../core/runtime.ts';
import { cgroupOomKills, cgroupPopulated, createInstanceCgroup, joinCgroup, killCgroup, probeCgroupV2, removeCgroup, type CgroupSupport } from './cgroup-limits.ts';
import { directorySize } from './directory-size.ts';
import { appDirectory, DEFAULT_SEARCH_PATH, isNotFound, parseProcessImage, readArtifact, writeFileAtomic, type ProcessArtifact } from './process-artifact.ts';
import { groupHasLiveMembers, isAlive, readProcessStat, signalGroup } from './process-table.ts';

export interface ProcessRuntimeOptions {
  /** The process builder's root (e.g. `$BERTH_HOME/process`); instances live in `instances/` under it. */
  root: string;
  /** Which Berth installation owns the instances this runtime starts and lists. */
  installationId: string;
  /** The address instances are reached at; default 127.0.0.1. */
  host?: string;
  /** PATH for instances, after a build's own directories: where the machine's node, python3, ... are. */
  searchPath?: string;
  /** Where cgroup v2 is mounted; default /sys/fs/cgroup. */
  cgroupRoot?: string;
}

/** What `state.json` holds. */
interface InstanceRecord {
  readonly version: 1;
  readonly installationId: string;
  readonly instanceId: string;
  readonly serviceId: string;
  readonly serviceName: string;
  readonly revisionId: string;
  readonly image: string;
  readonly port: number;
  readonly createdAt: number;
  /** The instance's cgroup, when it has limits. */
  readonly cgroup?: string;
  /** Absent until the supervisor is spawned: the instance is then `created`. */
  readonly supervisor?: { readonly pid: number; readonly startTime: number };
}

/**
 * The supervisor: `$1` the instance directory, `$2` "oom-protected" when the control plane
 * shielded this shell from the OOM killer (the app must not inherit that), `$3` the start
 * command. Fixed text: user input only ever arrives as positional parameters.
 */
const SUPERVISOR = `IFS= read -r go || exit 125
[ "$go" = go ] || exit 125
exec </dev/null
(
  if [ "$2" = oom-protected ]; then echo 0 >/proc/self/oom_score_adj || exit 125; fi
  exec /bin/sh -c "$3"
) &
wait $!
code=$?
echo "$code" >"$1/exit-code.tmp" && mv -f "$1/exit-code.tmp" "$1/exit-code"
`;

/** How long processes get to leave after SIGKILL before removal reports a failure. */
const KILL_WAIT_MS = 5_000;
const INSTANCE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export class ProcessRuntime implements ContainerRuntime {
  readonly name = 'process';
  readonly installationId: string;
  readonly host: string;
  /** Whether instances get CPU and memory limits; decided once, at construction. */
  readonly limits: CgroupSupport['limits'];
  /** Why `limits` is what it is: for the composition root to log once at start. */
  readonly limitsReason: string;
  readonly #root: string;
  readonly #searchPath: string;
  readonly #cgroupParent: string | undefined;

  /** Probes cgroup v2 (and prepares Berth's cgroup in it when usable); otherwise does no I/O. */
  constructor(options: ProcessRuntimeOptions) {
    if (options.installationId.trim() === '') throw new Error('ProcessRuntime needs a non-empty installationId');
    if (process.platform !== 'linux') throw new Error(`The process runtime needs Linux (it reads /proc); this is ${process.platform}`);
    this.installationId = options.installationId;
    this.host = options.host ?? '127.0.0.1';
    this.#root = options.root;
    this.#searchPath = options.searchPath ?? DEFAULT_SEARCH_PATH;
    const support = probeCgroupV2(options.cgroupRoot ?? '/sys/fs/cgroup', options.installationId);
    this.limits = support.limits;
    this.limitsReason = support.reason;
    this.#cgroupParent = support.limits === 'cgroup-v2' ? support.parent : undefined;
  }

  /** A build is never rebuilt under its name, so the name itself pins it and there is nothing to refresh. */
  async ensureImage(image: string, _options?: { refresh?: boolean }): Promise<string> {
    const buildId = parseProcessImage(image);
    if (buildId === undefined) throw new RuntimeError('image-pull', notRunnable(image));
    if ((await this.#artifact(buildId)) === undefined) throw new RuntimeError('image-pull', buildMissing(image));
    return image;
  }

  async list(): Promise<Instance[]> {
    let names: string[];
    try {
      names = await readdir(this.#instancesRoot());
    } catch (error) {
      if (isNotFound(error)) return [];
      throw new RuntimeError('other', `Could not list the instances in ${this.#instancesRoot()}: ${errorText(error)}`);
    }
    // Dot-names are instance directories still being made (see start()).
    const instances = await Promise.all(names.filter((n) => !n.startsWith('.')).map((n) => this.#instanceOf(n)));
    return instances.filter((i) => i !== undefined);
  }

  async start(spec: InstanceSpec): Promise<Instance> {
    const context = `Could not start instance '${spec.instanceId}' of service '${spec.serviceName}' from '${spec.image}'`;
    const buildId = parseProcessImage(spec.image);
    if (buildId === undefined) throw new RuntimeError('start', notRunnable(spec.image));
    if (!INSTANCE_ID.test(spec.instanceId)) throw new RuntimeError('start', `${context}: the instance id must match ${INSTANCE_ID.source}`);
    const artifact = await this.#artifact(buildId);
    if (artifact === undefined) throw new RuntimeError('start', buildMissing(spec.image));

    const dir = this.#instanceDir(spec.instanceId);
    // A leftover of an attempt that crashed: stop whatever of it runs, then start afresh.
    if (await exists(dir)) await this.remove(spec.instanceId, 0);

    let record: InstanceRecord;
    let env: Record<string, string>;
    try {
      const port = await freeLoopbackPort(this.host);
      env = this.#environment(artifact, spec, port, dir);
      record = {
        version: 1,
        installationId: this.installationId,
        instanceId: spec.instanceId,
        serviceId: spec.serviceId,
        serviceName: spec.serviceName,
        revisionId: spec.revisionId,
        image: spec.image,
        port,
        createdAt: Date.now(),
      };
      // Made under a dot-name and renamed: list() never sees a directory without its state.
      const staging = join(this.#instancesRoot(), `.new-${spec.instanceId}`);
      await rm(staging, { recursive: true, force: true });
      await mkdir(staging, { recursive: true, mode: 0o700 });
      await writeFileAtomic(join(staging, 'state.json'), JSON.stringify(record));
      await rename(staging, dir);
    } catch (error) {
      throw new RuntimeError('start', `${context}: ${errorText(error)}`);
    }

    let pid: number | undefined;
    try {
      const cgroup = this.#cgroupParent === undefined ? undefined : await createInstanceCgroup(this.#cgroupParent, spec.instanceId, spec);
      if (cgroup !== undefined) {
        record = { ...record, cgroup };
        await writeFileAtomic(join(dir, 'state.json'), JSON.stringify(record));
      }
      const command = spec.startCommand ?? artifact.command;
      const output = await open(join(dir, 'output.log'), 'a', 0o600);
      let child: ChildProcess;
      try {
        child = spawn('/bin/sh', ['-c', SUPERVISOR, 'berth-supervisor', dir, cgroup === undefined ? '' : 'oom-protected', command], {
          cwd: appDirectory(this.#root, buildId),
          env,
          detached: true,
          stdio: ['pipe', output.fd, output.fd],
        });
        child.on('error', () => undefined);
        child.stdin?.on('error', () => undefined);
        await once(child, 'spawn');
      } finally {
        await output.close();
      }
      pid = child.pid;
      const started = pid === undefined ? undefined : await readProcessStat(pid);
      if (pid === undefined || started === undefined) throw new Error('its supervisor process ended as it started');
      record = { ...record, supervisor: { pid, startTime: started.startTime } };
      await writeFileAtomic(join(dir, 'state.json'), JSON.stringify(record));
      if (cgroup !== undefined) {
        await joinCgroup(cgroup, pid);
        // Under a memory limit the kernel must kill the app, not the shell that reports its exit.
        // Only privileged processes may lower the score; without that the app is still limited.
        await writeFile(`/proc/${pid}/oom_score_adj`, '-1000').catch(() => undefined);
      }
      child.stdin?.end('go\n');
      child.unref();
    } catch (error) {
      if (pid !== undefined) signalGroup(pid, 'SIGKILL');
      await this.remove(spec.instanceId, 0).catch(() => undefined);
      throw new RuntimeError('start', `${context}: ${errorText(error)}`);
    }
    return { ...this.#identity(spec.instanceId, record), state: 'running', address: `${this.host}:${record.port}` };
  }

  async remove(runtimeId: string, graceSeconds: number): Promise<void> {
    if (!INSTANCE_ID.test(runtimeId)) return;
    const dir = this.#instanceDir(runtimeId);
    try {
      const record = await this.#record(runtimeId);
      if (record?.supervisor !== undefined) await this.#stop(record, record.supervisor, graceSeconds);
      // Before the directory goes: should this fail, the instance stays listed and is removed again.
      if (record?.cgroup !== undefined) await removeCgroup(record.cgroup);
      await rm(dir, { recursive: true, force: true });
    } catch (error) {
      throw new RuntimeError('other', `Could not remove instance '${runtimeId}' (${dir}): ${errorText(error)}`);
    }
  }

  async logs(runtimeId: string, tailLines: number): Promise<string> {
    if (!INSTANCE_ID.test(runtimeId)) throw new RuntimeError('other', `'${runtimeId}' is not an instance of the process runtime`);
    try {
      return await lastLinesOfFile(join(this.#instanceDir(runtimeId), 'output.log'), tailLines);
    } catch (error) {
      const why = isNotFound(error) ? 'it does not exist' : errorText(error);
      throw new RuntimeError('other', `Could not read the logs of instance '${runtimeId}': ${why}`);
    }
  }

  /**
   * What each running instance wrote into its own directory (its HOME), this runtime's files there
   * left out, as Docker leaves out a container's logs. The build's app directory, shared by every
   * instance of the build and by no container layer, is not counted.
   */
  async storageUsage(): Promise<Map<string, number>> {
    const running = (await this.list()).filter((instance) => instance.state === 'running');
    try {
      const sizes = await Promise.all(
        running.map(async (instance) => [instance.runtimeId, await directorySize(this.#instanceDir(instance.runtimeId), { exclude: isBookkeeping })] as const),
      );
      return new Map(sizes);
    } catch (error) {
      throw new RuntimeError('other', `Could not measure the storage of the instances in ${this.#instancesRoot()}: ${errorText(error)}`);
    }
  }

  /** SIGTERM to the instance's process group, SIGKILL after the grace, until nothing of it runs. */
  async #stop(record: InstanceRecord, supervisor: NonNullable<InstanceRecord['supervisor']>, graceSeconds: number): Promise<void> {
    const { pid, startTime } = supervisor;
    // While any member of the group lives its id cannot be reused; a different process under the
    // pid means the group is long gone, and signalling "it" would hit a stranger.
    const leader = await readProcessStat(pid);
    if (leader !== undefined && leader.startTime !== startTime) return;
    const running = async (): Promise<boolean> =>
      (await groupHasLiveMembers(pid)) || (record.cgroup !== undefined && (await cgroupPopulated(record.cgroup)));
    if (!(await running())) return;
    signalGroup(pid, 'SIGTERM');
    if (await waitUntil(async () => !(await running()), graceSeconds * 1000)) return;
    signalGroup(pid, 'SIGKILL');
    if (record.cgroup !== undefined) await killCgroup(record.cgroup);
    if (!(await waitUntil(async () => !(await running()), KILL_WAIT_MS))) {
      throw new Error(`processes of process group ${pid} still run ${KILL_WAIT_MS / 1000} s after SIGKILL`);
    }
  }

  async #instanceOf(runtimeId: string): Promise<Instance | undefined> {
    const record = await this.#record(runtimeId);
    if (record === undefined || record.installationId !== this.installationId) return undefined;
    const identity = this.#identity(runtimeId, record);
    if (record.supervisor === undefined) return { ...identity, state: 'created' };
    // Alive first, then the exit code: the supervisor writes that before it exits.
    const alive = await isAlive(record.supervisor.pid, record.supervisor.startTime);
    const exitCode = await readExitCode(this.#instanceDir(runtimeId));
    if (alive && exitCode === undefined) return { ...identity, state: 'running', address: `${this.host}:${record.port}` };
    const outOfMemory = record.cgroup !== undefined && (await cgroupOomKills(record.cgroup)) > 0;
    return { ...identity, state: 'exited', ...(exitCode !== undefined && { exitCode }), ...(outOfMemory && { outOfMemory }) };
  }

  #identity(runtimeId: string, record: InstanceRecord): Omit<Instance, 'state'> {
    return {
      runtimeId,
      instanceId: record.instanceId,
      serviceId: record.serviceId,
      revisionId: record.revisionId,
      createdAt: record.createdAt,
    };
  }

  /** A minimal environment, the build's, the spec's, and last the instance's own port. */
  #environment(artifact: ProcessArtifact, spec: InstanceSpec, port: number, dir: string): Record<string, string> {
    const env: Record<string, string> = {
      PATH: [...artifact.pathPrefix, this.#searchPath].join(':'),
      HOME: dir,
      LANG: 'C.UTF-8',
      ...artifact.env,
      ...spec.env,
      // Several instances share this host's ports: each gets its own, whatever was configured.
      PORT: String(port),
    };
    if (artifact.portEnv !== undefined) env[artifact.portEnv] = String(port);
    for (const [name, value] of Object.entries(env)) {
      if (name === '' || name.includes('=') || name.includes('\0') || value.includes('\0')) {
        throw new Error(`Environment variable ${JSON.stringify(name)} is not valid: names must be non-empty without '=' or NUL, values without NUL`);
      }
    }
    return env;
  }

  async #record(runtimeId: string): Promise<InstanceRecord | undefined> {
    try {
      return JSON.parse(await readFile(join(this.#instanceDir(runtimeId), 'state.json'), 'utf8')) as InstanceRecord;
    } catch (error) {
      // Gone, or being removed right now.
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async #artifact(buildId: string): Promise<ProcessArtifact | undefined> {
    try {
      return await readArtifact(this.#root, buildId);
    } catch (error) {
      throw new RuntimeError('other', `Could not read build ${buildId}: ${errorText(error)}`);
    }
  }

  #instancesRoot(): string {
    return join(this.#root, 'instances');
  }

  #instanceDir(instanceId: string): string {
    return join(this.#instancesRoot(), instanceId);
  }
}

/** The files this runtime keeps in an instance's directory (see the module comment), temporary ones included. */
function isBookkeeping(name: string): boolean {
  return name === 'output.log' || name === 'exit-code' || name === 'exit-code.tmp' || name === 'state.json' || /^state\.json\.[0-9a-f]+\.tmp$/.test(name);
}

function notRunnable(image: string): string {
  return `No container engine is reachable, so Berth runs services as local processes, and a process cannot run the container image '${image}'; start Docker (or set docker.socket) to run image services`;
}

function buildMissing(image: string): string {
  return `'${image}' names a local-process build that is not on this machine (it was discarded, or never finished); deploy the service again to rebuild it`;
}

/**
 * A port nothing listens on right now. Another program could take it before the app binds it;
 * the app then fails to listen, its health check fails, and the reconciler replaces it.
 */
async function freeLoopbackPort(host: string): Promise<number> {
  const server = createServer();
  server.listen(0, host);
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error(`could not find a free port on ${host}`);
  return address.port;
}

async function readExitCode(dir: string): Promise<number | undefined> {
  try {
    const text = (await readFile(join(dir, 'exit-code'), 'utf8')).trim();
    return /^\d+$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}

/** The last `count` lines of a file, read from its end (logs can grow large). */
async function lastLinesOfFile(path: string, count: number): Promise<string> {
  if (count <= 0) return '';
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const length = Math.min(size, 1024 * 1024);
    const buffer = Buffer.alloc(length);
    await file.read(buffer, 0, length, size - length);
    let text = buffer.toString('utf8');
    // Started mid-file: the first line is a fragment.
    if (length < size) text = text.slice(text.indexOf('\n') + 1);
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    const kept = lines.slice(-count).join('\n');
    return text.endsWith('\n') && kept !== '' ? `${kept}\n` : kept;
  } finally {
    await file.close();
  }
}

async function waitUntil(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(Math.min(50, Math.max(1, deadline - Date.now())));
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

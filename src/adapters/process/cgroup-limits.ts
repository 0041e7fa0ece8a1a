/**
 * @module
 * CPU and memory limits for local processes through cgroup v2 (Linux's
 * Documentation/admin-guide/cgroup-v2.rst), where the machine allows it: the unified hierarchy
 * mounted at the cgroup root, with the `memory` and `cpu` controllers available to it, and
 * writable by Berth (in practice: Berth runs as root, outside a container's cgroup namespace).
 *
 * Layout: `<root>/berth-<installation>/<instanceId>/`, limits written on the instance's cgroup.
 * The installation's cgroup holds no processes, so it may delegate controllers to its children
 * (the "no internal processes" rule), and it sits outside the control plane's own cgroup so that
 * instances outlive a control-plane restart as they do under Docker.
 */
import { mkdirSync, readFileSync, statfsSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** statfs(2)'s f_type of a cgroup v2 file system (linux/magic.h). */
const CGROUP2_SUPER_MAGIC = 0x63677270;
const CONTROLLERS = ['memory', 'cpu'] as const;
/** cpu.max's period in microseconds: the kernel's default. */
const CPU_PERIOD_US = 100_000;

export type CgroupSupport =
  | { readonly limits: 'cgroup-v2'; readonly parent: string; readonly reason: string }
  | { readonly limits: 'none'; readonly reason: string };

/**
 * Decides once whether instances get limits, preparing the installation's cgroup when they do.
 * Never throws: every way of not having limits is a reason in the answer.
 */
export function probeCgroupV2(root: string, installationId: string): CgroupSupport {
  const none = (why: string): CgroupSupport => ({ limits: 'none', reason: `no CPU or memory limits for local processes: ${why}` });
  try {
    if (statfsSync(root).type !== CGROUP2_SUPER_MAGIC) {
      return none(`${root} is not a cgroup v2 file system (the machine uses cgroup v1 or a hybrid layout)`);
    }
  } catch (error) {
    return none(`${root} cannot be read (${errorText(error)})`);
  }
  try {
    const available = words(readFileSync(join(root, 'cgroup.controllers'), 'utf8'));
    const missing = CONTROLLERS.filter((c) => !available.includes(c));
    if (missing.length > 0) {
      return none(`the cgroup v2 hierarchy at ${root} lacks the ${missing.join(' and ')} controller${missing.length > 1 ? 's' : ''} (available: ${available.join(' ') || 'none'}; a hybrid layout keeps them in cgroup v1)`);
    }
    const parent = join(root, `berth-${installationId.slice(0, 12).replace(/[^a-zA-Z0-9_.-]/g, '-')}`);
    enableControllers(root);
    mkdirSync(parent, { recursive: true });
    enableControllers(parent);
    return { limits: 'cgroup-v2', parent, reason: `CPU and memory limits through cgroup v2 under ${parent}` };
  } catch (error) {
    return none(`the cgroup v2 hierarchy at ${root} cannot be set up for Berth (${errorText(error)}); Berth needs to run as root, outside a container's cgroup namespace`);
  }
}

function enableControllers(cgroup: string): void {
  const enabled = words(readFileSync(join(cgroup, 'cgroup.subtree_control'), 'utf8'));
  const wanted = CONTROLLERS.filter((c) => !enabled.includes(c));
  if (wanted.length > 0) writeFileSync(join(cgroup, 'cgroup.subtree_control'), wanted.map((c) => `+${c}`).join(' '));
}

/** Creates an instance's cgroup with its limits; returns its path. */
export async function createInstanceCgroup(parent: string, instanceId: string, limits: { cpuUnits: number; memoryMb: number }): Promise<string> {
  const path = join(parent, instanceId);
  await mkdir(path, { recursive: true });
  await writeFile(join(path, 'memory.max'), String(limits.memoryMb * 1024 * 1024));
  // As Docker's MemorySwap = Memory: no swap beyond the limit. Absent without swap accounting.
  await writeFile(join(path, 'memory.swap.max'), '0').catch(() => undefined);
  // App Runner's units: 1024 is one vCPU, i.e. one period of CPU time per period.
  const quota = Math.max(1000, Math.round((limits.cpuUnits / 1024) * CPU_PERIOD_US));
  await writeFile(join(path, 'cpu.max'), `${quota} ${CPU_PERIOD_US}`);
  return path;
}

/** Moves a process into a cgroup; the children it starts afterwards are born there. */
export async function joinCgroup(path: string, pid: number): Promise<void> {
  await writeFile(join(path, 'cgroup.procs'), String(pid));
}

/** Whether any process is still in the cgroup or below it. */
export async function cgroupPopulated(path: string): Promise<boolean> {
  try {
    return /^populated 1$/m.test(await readFile(join(path, 'cgroup.events'), 'utf8'));
  } catch {
    return false;
  }
}

/**
 * How many processes of the cgroup the kernel's OOM killer killed for going over its memory.max
 * (`oom_kill` in memory.events); 0 when the file cannot be read (the cgroup is gone).
 */
export async function cgroupOomKills(path: string): Promise<number> {
  try {
    return Number(/^oom_kill (\d+)$/m.exec(await readFile(join(path, 'memory.events'), 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** SIGKILLs everything in the cgroup, including processes that left the instance's process group. */
export async function killCgroup(path: string): Promise<void> {
  // cgroup.kill exists from Linux 5.14; older kernels keep only the process-group kill.
  await writeFile(join(path, 'cgroup.kill'), '1').catch(() => undefined);
}

/** Removes an emptied cgroup; its last processes may take a moment to leave it. */
export async function removeCgroup(path: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await rmdir(path);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || attempt >= 50) throw error;
      await sleep(20);
    }
  }
}

function words(text: string): string[] {
  return text.split(/\s+/).filter((w) => w !== '');
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

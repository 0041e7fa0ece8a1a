/**
 * @module
 * What Linux's `/proc` says about a process: enough to tell whether a pid recorded on disk still
 * names the process Berth started (pids are reused, so its start time is recorded with it), and
 * whether anything of a process group still runs. Zombies count as gone: they run nothing, and
 * where the machine's init does not reap orphans they would otherwise look alive for ever.
 */
import { readdir, readFile } from 'node:fs/promises';

export interface ProcessStat {
  /** One letter: R running, S sleeping, Z zombie, X dead, ... (proc(5)). */
  readonly state: string;
  readonly processGroup: number;
  /** Clock ticks after boot at which the process started: with the pid, its identity. */
  readonly startTime: number;
}

/** `/proc/<pid>/stat`, or undefined when there is no such process. */
export async function readProcessStat(pid: number): Promise<ProcessStat | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return parseProcessStat(text);
}

/**
 * Parses a `/proc/<pid>/stat` line. The command name (field 2) is in parentheses and may itself
 * hold spaces and parentheses, so the fields are counted from the last `)`.
 */
export function parseProcessStat(text: string): ProcessStat | undefined {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so field n is fields[n - 3].
  const state = fields[0];
  const processGroup = Number(fields[2]);
  const startTime = Number(fields[19]);
  if (state === undefined || !Number.isSafeInteger(processGroup) || !Number.isSafeInteger(startTime)) return undefined;
  return { state, processGroup, startTime };
}

export function isGone(stat: ProcessStat | undefined): boolean {
  return stat === undefined || stat.state === 'Z' || stat.state === 'X';
}

/** Whether the process started at `startTime` with this pid is alive (not gone, not a reused pid). */
export async function isAlive(pid: number, startTime: number): Promise<boolean> {
  const stat = await readProcessStat(pid);
  return !isGone(stat) && stat?.startTime === startTime;
}

/** Whether any live (non-zombie) process is in process group `group`. */
export async function groupHasLiveMembers(group: number): Promise<boolean> {
  try {
    process.kill(-group, 0);
  } catch (error) {
    // EPERM: members exist but belong to someone else; that still means alive.
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  // kill() also reaches zombies, so look at each member's state.
  const entries = await readdir('/proc');
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readProcessStat(Number(entry));
    if (stat !== undefined && stat.processGroup === group && !isGone(stat)) return true;
  }
  return false;
}

/** Sends `signal` to process group `group`; a group that is already gone is fine. */
export function signalGroup(group: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-group, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

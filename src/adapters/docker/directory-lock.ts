/**
 * @module
 * An exclusive lock between processes on one machine: a directory that one process creates
 * (`mkdir` is atomic) and removes when done. Used so that two Berth processes, or two test
 * files, never create the same base image at once.
 *
 * A holder that dies leaves its directory behind, so the lock counts as stale, and is broken,
 * when its holder's process is gone (same host) or when its modification time, which the holder
 * refreshes every few seconds, is older than `staleAfterMs`. Breaking is itself guarded by a
 * second directory, so two waiters cannot both break the lock and then delete each other's.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const OWNER_FILE = 'owner.json';
/** Breaking a stale lock takes milliseconds; a breaker directory this old was left by a crash. */
const STALE_BREAKER_MS = 10_000;

export interface DirectoryLockOptions {
  /** How old the lock's heartbeat may get before it counts as abandoned; 30 s by default. */
  readonly staleAfterMs?: number;
  /** How often the holder refreshes the heartbeat; 5 s by default. */
  readonly heartbeatMs?: number;
  /** How often a waiter looks again; 500 ms by default. */
  readonly pollMs?: number;
  /** Called once if the lock is held by someone else, with a description of the holder. */
  readonly onWait?: (holder: string) => void;
  readonly signal?: AbortSignal;
}

interface Owner {
  readonly token: string;
  readonly pid: number;
  readonly host: string;
  readonly since: string;
}

export class DirectoryLock {
  readonly path: string;
  readonly #token: string;
  readonly #heartbeat: NodeJS.Timeout;

  constructor(path: string, token: string, heartbeatMs: number) {
    this.path = path;
    this.#token = token;
    this.#heartbeat = setInterval(() => {
      const now = new Date();
      utimes(path, now, now).catch(() => undefined);
    }, heartbeatMs);
    this.#heartbeat.unref();
  }

  /** Removes the lock, unless it was broken as stale and someone else holds it now. */
  async release(): Promise<void> {
    clearInterval(this.#heartbeat);
    const owner = await readOwner(this.path);
    if (owner?.token === this.#token) await rm(this.path, { recursive: true, force: true });
  }
}

/** Waits until `path` can be created, then holds it. */
export async function acquireDirectoryLock(path: string, options: DirectoryLockOptions = {}): Promise<DirectoryLock> {
  const staleAfterMs = options.staleAfterMs ?? 30_000;
  const pollMs = options.pollMs ?? 500;
  const token = randomUUID();
  await mkdir(dirname(path), { recursive: true });
  let told = false;
  let polls = 0;
  for (;;) {
    options.signal?.throwIfAborted();
    if (await tryCreate(path, token)) return new DirectoryLock(path, token, options.heartbeatMs ?? 5_000);
    const holder = await lockHolder(path, staleAfterMs);
    if (holder === undefined) continue;
    if (holder.stale) {
      await breakStaleLock(path, staleAfterMs, pollMs, options.signal);
      continue;
    }
    // A holder that has just created the directory writes its name a moment later: the wait is
    // told with the name, unless it is still missing a poll later (then the path has to do).
    if (!told && (holder.named || polls > 0)) {
      told = true;
      options.onWait?.(holder.description);
    }
    polls += 1;
    await pause(pollMs, options.signal);
  }
}

async function tryCreate(path: string, token: string): Promise<boolean> {
  try {
    await mkdir(path);
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return false;
    throw error;
  }
  const owner: Owner = { token, pid: process.pid, host: hostname(), since: new Date().toISOString() };
  try {
    await writeFile(join(path, OWNER_FILE), JSON.stringify(owner));
  } catch (error) {
    await rm(path, { recursive: true, force: true });
    throw error;
  }
  return true;
}

/** Who holds the lock (named once its owner file is written) and whether it is stale; undefined when it has just gone. */
async function lockHolder(path: string, staleAfterMs: number): Promise<{ stale: boolean; named: boolean; description: string } | undefined> {
  const info = await stat(path).catch(() => undefined);
  if (info === undefined) return undefined;
  // Just created, owner not written yet: the directory's own time is the heartbeat.
  const owner = await readOwner(path);
  const quiet = Date.now() - info.mtimeMs > staleAfterMs;
  const dead = owner !== undefined && owner.host === hostname() && !processAlive(owner.pid);
  const description = owner === undefined ? path : `process ${owner.pid} on ${owner.host}, since ${owner.since}`;
  return { stale: quiet || dead, named: owner !== undefined, description };
}

async function breakStaleLock(path: string, staleAfterMs: number, pollMs: number, signal: AbortSignal | undefined): Promise<void> {
  const breaker = `${path}.break`;
  try {
    await mkdir(breaker);
  } catch (error) {
    if (errorCode(error) !== 'EEXIST') throw error;
    const info = await stat(breaker).catch(() => undefined);
    if (info !== undefined && Date.now() - info.mtimeMs > STALE_BREAKER_MS) await rm(breaker, { recursive: true, force: true });
    await pause(pollMs, signal);
    return;
  }
  try {
    // Looked at again under the breaker: another waiter may have broken and re-taken it meanwhile.
    if ((await lockHolder(path, staleAfterMs))?.stale === true) await rm(path, { recursive: true, force: true });
  } finally {
    await rm(breaker, { recursive: true, force: true });
  }
}

async function readOwner(path: string): Promise<Owner | undefined> {
  try {
    const parsed: unknown = JSON.parse(await readFile(join(path, OWNER_FILE), 'utf8'));
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const owner = parsed as Partial<Owner>;
    if (typeof owner.token !== 'string' || typeof owner.pid !== 'number' || typeof owner.host !== 'string') return undefined;
    return { token: owner.token, pid: owner.pid, host: owner.host, since: String(owner.since) };
  } catch {
    return undefined;
  }
}

/** Waits `ms`; an abort rejects with the signal's reason, as `throwIfAborted` does. */
async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await sleep(ms, undefined, signal === undefined ? {} : { signal });
  } catch (error) {
    if (signal?.aborted === true) throw signal.reason;
    throw error;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return errorCode(error) === 'EPERM';
  }
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
}

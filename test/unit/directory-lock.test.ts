/**
 * The lock that keeps two processes from making the same base image at once: holders take turns,
 * a lock left by a dead process or with a stopped heartbeat is broken, and a live one is not.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { acquireDirectoryLock } from '../../src/adapters/docker/directory-lock.ts';

function lockPath(t: TestContext): string {
  const directory = mkdtempSync(join(tmpdir(), 'berth-lock-'));
  t.after(() => rmSync(directory, { recursive: true, force: true }));
  return join(directory, 'locks', 'image.lock');
}

test('a second holder waits until the first releases, and is told who holds it', async (t) => {
  const path = lockPath(t);
  const order: string[] = [];
  const first = await acquireDirectoryLock(path);
  let holder = '';
  const second = acquireDirectoryLock(path, { pollMs: 20, onWait: (who) => (holder = who) }).then((lock) => {
    order.push('second acquired');
    return lock;
  });
  await sleep(100);
  order.push('first releases');
  await first.release();
  const lock = await second;
  assert.deepEqual(order, ['first releases', 'second acquired']);
  assert.match(holder, new RegExp(`^process ${process.pid} on ${hostname()}, since `));
  await lock.release();
});

test('a waiter that finds the lock just created, before its holder wrote its name, still names the holder', async (t) => {
  const path = lockPath(t);
  // The holder's state between its mkdir and the write of its owner file.
  mkdirSync(path, { recursive: true });
  const told: string[] = [];
  const waiter = acquireDirectoryLock(path, { pollMs: 50, onWait: (who) => told.push(who) });
  await sleep(20);
  writeFileSync(join(path, 'owner.json'), JSON.stringify({ token: 'holder', pid: process.pid, host: hostname(), since: 'now' }));
  await sleep(150);
  rmSync(path, { recursive: true, force: true });
  const lock = await waiter;
  await lock.release();
  assert.deepEqual(told, [`process ${process.pid} on ${hostname()}, since now`]);
});

test("a holder that never writes its name is told by the lock's path", async (t) => {
  const path = lockPath(t);
  mkdirSync(path, { recursive: true });
  const told: string[] = [];
  const waiter = acquireDirectoryLock(path, { pollMs: 20, onWait: (who) => told.push(who) });
  await sleep(100);
  rmSync(path, { recursive: true, force: true });
  await (await waiter).release();
  assert.deepEqual(told, [path]);
});

test('a lock left by a process that has exited is broken at once', async (t) => {
  const path = lockPath(t);
  const dead = spawnSync(process.execPath, ['-e', '']).pid;
  mkdirSync(path, { recursive: true });
  writeFileSync(join(path, 'owner.json'), JSON.stringify({ token: 'old', pid: dead, host: hostname(), since: 'then' }));
  const lock = await acquireDirectoryLock(path, { pollMs: 20, signal: AbortSignal.timeout(5_000) });
  await lock.release();
});

test('a lock whose heartbeat stopped is broken; a fresh one from another host is waited for', async (t) => {
  const path = lockPath(t);
  mkdirSync(path, { recursive: true });
  writeFileSync(join(path, 'owner.json'), JSON.stringify({ token: 'other', pid: 1, host: 'elsewhere', since: 'now' }));
  await assert.rejects(acquireDirectoryLock(path, { pollMs: 20, signal: AbortSignal.timeout(200) }), { name: 'TimeoutError' });
  const old = new Date(Date.now() - 60_000);
  utimesSync(path, old, old);
  const lock = await acquireDirectoryLock(path, { pollMs: 20, signal: AbortSignal.timeout(5_000) });
  await lock.release();
});

test('the holder keeps its lock fresh, so it is not broken while held', async (t) => {
  const path = lockPath(t);
  const lock = await acquireDirectoryLock(path, { heartbeatMs: 20 });
  const waiting = acquireDirectoryLock(path, { staleAfterMs: 150, pollMs: 20, signal: AbortSignal.timeout(500) });
  await assert.rejects(waiting, { name: 'TimeoutError' });
  await lock.release();
});

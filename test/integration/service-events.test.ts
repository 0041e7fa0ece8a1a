/**
 * A service's event log: the SQLite store's `service_events` table (migration 5 over a store of
 * the previous version, trimming to the newest SERVICE_EVENTS_KEPT per service, the log going
 * with its service's row), `Berth.ListServiceEvents` paging through signed requests to a real
 * control plane, and `berth events`. Events are appended through the store, as the reconciler
 * appends them, so the listings are known exactly.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { MIGRATIONS } from '../../src/adapters/sqlite/migrations.ts';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.ts';
import { SERVICE_EVENTS_KEPT, type ServiceEvent } from '../../src/core/service-events.ts';
import type { ServiceRecord } from '../../src/core/service.ts';
import { ApiError, startApiHarness, type ApiHarness } from '../support/api-harness.ts';
import { serviceCommandRunner } from '../support/service-command-runner.ts';

const IMAGE = 'registry.example.com/events/app:1';

type Json = Record<string, unknown>;

/** A service row as the store keeps it; only the members the store's columns need matter here. */
function serviceRecord(id: string, name: string, extra: Partial<ServiceRecord> = {}): ServiceRecord {
  return { id, name, arn: `arn:aws:apprunner:us-east-1:000000000000:service/${name}/${id}`, status: 'RUNNING', createdAt: 1, updatedAt: 1, ...extra } as ServiceRecord;
}

describe('the SQLite store', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-events-store-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('migration 5 applies to a store of the previous version, whose services keep working and gain a log', () => {
    const path = join(dir, 'v4.db');
    const old = new DatabaseSync(path);
    for (const migration of MIGRATIONS.slice(0, 4)) old.exec(migration);
    old.exec('PRAGMA user_version = 4');
    const id = 'a'.repeat(32);
    old.prepare('INSERT INTO services (id, name, status, deleted_at, body) VALUES (?, ?, ?, NULL, ?)').run(id, 'old-svc', 'RUNNING', JSON.stringify(serviceRecord(id, 'old-svc')));
    old.close();

    const store = new SqliteStore(path);
    try {
      assert.equal(store.getService(id)?.name, 'old-svc');
      assert.deepEqual(store.listServiceEvents(id, 10), []);
      store.appendServiceEvent({ serviceId: id, at: 1000, type: 'deployment-started', message: 'after the upgrade', operationId: 'b'.repeat(32) });
      assert.deepEqual(store.listServiceEvents(id, 10).map(({ seq: _seq, ...event }) => event), [
        { serviceId: id, at: 1000, type: 'deployment-started', message: 'after the upgrade', operationId: 'b'.repeat(32) },
      ]);
    } finally {
      store.close();
    }
    const check = new DatabaseSync(path, { readOnly: true });
    assert.equal((check.prepare('PRAGMA user_version').get() as { user_version: number }).user_version, MIGRATIONS.length);
    const indexes = check.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'service_events'").all() as { name: string }[];
    assert.ok(indexes.some((i) => i.name === 'service_events_by_service'), JSON.stringify(indexes));
    check.close();
  });

  test('settings round-trip in the service body: set, changed, removed', () => {
    const store = new SqliteStore(join(dir, 'settings.db'));
    try {
      const id = 'c'.repeat(32);
      store.insertService(serviceRecord(id, 'with-settings', { settings: { requestTimeoutSeconds: 600 } }));
      assert.deepEqual(store.getService(id)?.settings, { requestTimeoutSeconds: 600 });
      store.updateService({ ...(store.getService(id) as ServiceRecord), settings: { idleTimeoutSeconds: 30, ephemeralStorageMb: 64 } });
      assert.deepEqual(store.getService(id)?.settings, { idleTimeoutSeconds: 30, ephemeralStorageMb: 64 });
      const { settings: _settings, ...without } = store.getService(id) as ServiceRecord;
      store.updateService(without);
      assert.equal(store.getService(id)?.settings, undefined);
    } finally {
      store.close();
    }
  });

  test(`keeps the newest ${SERVICE_EVENTS_KEPT} events per service, newest first, paged by seq; other services' logs are untouched`, () => {
    const store = new SqliteStore(join(dir, 'trim.db'));
    try {
      const busy = 'd'.repeat(32);
      const quiet = 'e'.repeat(32);
      store.insertService(serviceRecord(busy, 'busy'));
      store.insertService(serviceRecord(quiet, 'quiet'));
      const event = (serviceId: string, n: number): ServiceEvent => ({ serviceId, at: 1_000_000 + n, type: 'instance-started', message: `event ${n}`, instanceId: String(n).padStart(32, '0') });
      for (let n = 1; n <= 3; n++) store.appendServiceEvent(event(quiet, n));
      const total = SERVICE_EVENTS_KEPT + 25;
      for (let n = 1; n <= total; n++) store.appendServiceEvent(event(busy, n));

      const kept = store.listServiceEvents(busy, 5000);
      assert.equal(kept.length, SERVICE_EVENTS_KEPT);
      assert.equal(kept[0]?.message, `event ${total}`, 'the newest first');
      assert.equal(kept.at(-1)?.message, `event ${total - SERVICE_EVENTS_KEPT + 1}`, 'the oldest kept');
      assert.ok(kept.every((e, i) => i === 0 || (kept[i - 1] as { seq: number }).seq > e.seq), 'seq falls strictly');
      assert.deepEqual(store.listServiceEvents(quiet, 10).map((e) => e.message), ['event 3', 'event 2', 'event 1']);

      const page = store.listServiceEvents(busy, 3, kept[1]?.seq);
      assert.deepEqual(page.map((e) => e.message), [`event ${total - 2}`, `event ${total - 3}`, `event ${total - 4}`]);
      assert.deepEqual(store.listServiceEvents(busy, 3, kept.at(-1)?.seq), [], 'nothing older than the oldest kept');
      const raw = new DatabaseSync(join(dir, 'trim.db'), { readOnly: true });
      const rows = (raw.prepare('SELECT count(*) AS n FROM service_events').get() as { n: number }).n;
      raw.close();
      assert.equal(rows, SERVICE_EVENTS_KEPT + 3, 'trimmed rows are gone from the table');
    } finally {
      store.close();
    }
  });

  test("a service's log goes with its row, if the row is ever purged", () => {
    const path = join(dir, 'purge.db');
    const store = new SqliteStore(path);
    const id = 'f'.repeat(32);
    try {
      store.insertService(serviceRecord(id, 'purged'));
      store.appendServiceEvent({ serviceId: id, at: 1, type: 'paused', message: 'paused' });
    } finally {
      store.close();
    }
    const db = new DatabaseSync(path);
    db.exec('PRAGMA foreign_keys = ON');
    db.prepare('DELETE FROM services WHERE id = ?').run(id);
    assert.equal((db.prepare('SELECT count(*) AS n FROM service_events').get() as { n: number }).n, 0);
    db.close();
  });
});

describe('Berth.ListServiceEvents', () => {
  let api: ApiHarness;
  let arn: string;
  let serviceId: string;
  /** Messages of the events this test appended, so events the reconciler writes meanwhile do not matter. */
  const ours = (events: Json[]): Json[] => events.filter((e) => String(e.Message).startsWith('test event '));

  before(async () => {
    api = await startApiHarness();
    const { Service } = await api.call('CreateService', { ServiceName: 'events-main', SourceConfiguration: { ImageRepository: { ImageIdentifier: IMAGE, ImageRepositoryType: 'ECR' } } });
    arn = (Service as { ServiceArn: string }).ServiceArn;
    serviceId = arn.split('/').at(-1) as string;
    await api.settle();
  });
  after(async () => {
    await api?.close();
  });

  const append = (n: number, extra: Partial<ServiceEvent> = {}): void =>
    api.cp.store.appendServiceEvent({ serviceId, at: 1_750_000_000_000 + n * 250, type: 'instance-failed', message: `test event ${n}`, ...extra });

  async function allPages(input: Json): Promise<{ pages: number; events: Json[] }> {
    const events: Json[] = [];
    let pages = 0;
    let token: string | undefined;
    do {
      const reply = await api.call('Berth.ListServiceEvents', { ServiceArn: arn, ...input, ...(token !== undefined && { NextToken: token }) });
      pages++;
      events.push(...(reply.Events as Json[]));
      token = reply.NextToken as string | undefined;
    } while (token !== undefined);
    return { pages, events };
  }

  test('events as the API gives them: epoch seconds, upper-case types, optional members only when set', async () => {
    append(1, { operationId: '1'.repeat(32), instanceId: '2'.repeat(32), revisionId: '3'.repeat(32) });
    append(2, { type: 'crash-loop' });
    const { Events } = await api.call('Berth.ListServiceEvents', { ServiceArn: arn, MaxResults: 2 });
    assert.deepEqual(Events, [
      { At: 1_750_000_000.5, Type: 'CRASH_LOOP', Message: 'test event 2' },
      { At: 1_750_000_000.25, Type: 'INSTANCE_FAILED', Message: 'test event 1', OperationId: '1'.repeat(32), InstanceId: '2'.repeat(32), RevisionId: '3'.repeat(32) },
    ]);
  });

  test('pages newest first: 50 by default, MaxResults up to 100, each event once, the last page without NextToken', async () => {
    for (let n = 3; n <= 130; n++) append(n);
    const first = await api.call('Berth.ListServiceEvents', { ServiceArn: arn });
    assert.equal((first.Events as Json[]).length, 50);
    assert.equal(typeof first.NextToken, 'string');
    assert.deepEqual(ours(first.Events as Json[]).slice(0, 3).map((e) => e.Message), ['test event 130', 'test event 129', 'test event 128']);

    for (const max of [1, 7, 100]) {
      const { pages, events } = await allPages({ MaxResults: max });
      const mine = ours(events).map((e) => e.Message);
      assert.deepEqual(mine, Array.from({ length: 130 }, (_, i) => `test event ${130 - i}`), `MaxResults ${max}`);
      assert.equal(pages, Math.max(1, Math.ceil(events.length / max)), `MaxResults ${max}: pages`);
    }
  });

  test('a NextToken keeps its place when events arrive between pages', async () => {
    const first = await api.call('Berth.ListServiceEvents', { ServiceArn: arn, MaxResults: 5 });
    const seen = ours(first.Events as Json[]).map((e) => e.Message);
    assert.deepEqual(seen, ['test event 130', 'test event 129', 'test event 128', 'test event 127', 'test event 126']);
    append(131);
    append(132);
    const second = await api.call('Berth.ListServiceEvents', { ServiceArn: arn, MaxResults: 5, NextToken: first.NextToken });
    assert.deepEqual(ours(second.Events as Json[]).map((e) => e.Message), ['test event 125', 'test event 124', 'test event 123', 'test event 122', 'test event 121']);
  });

  test("a token belongs to its service's listing; a deleted service's log stays readable", async () => {
    const { Service } = await api.call('CreateService', { ServiceName: 'events-other', SourceConfiguration: { ImageRepository: { ImageIdentifier: IMAGE, ImageRepositoryType: 'ECR' } } });
    const other = (Service as { ServiceArn: string }).ServiceArn;
    await api.settle();
    const { NextToken } = await api.call('Berth.ListServiceEvents', { ServiceArn: arn, MaxResults: 1 });
    await assert.rejects(api.call('Berth.ListServiceEvents', { ServiceArn: other, NextToken }), (error: ApiError) => {
      assert.equal(error.type, 'InvalidRequestException');
      assert.match(error.message, /does not belong to this listing/);
      return true;
    });

    api.cp.store.appendServiceEvent({ serviceId: other.split('/').at(-1) as string, at: Date.now(), type: 'deployment-succeeded', message: 'test event of the other service' });
    await api.call('DeleteService', { ServiceArn: other });
    await api.settle();
    const { Events } = await api.call('Berth.ListServiceEvents', { ServiceArn: other });
    assert.ok((Events as Json[]).some((e) => e.Message === 'test event of the other service'), JSON.stringify(Events));
    assert.ok(!ours(Events as Json[]).some((e) => /^test event \d+$/.test(String(e.Message))), "no event of another service's log");
  });

  test('berth events prints the newest N oldest first, one line each; a bad --limit is a usage error', async () => {
    const { run, out, err } = serviceCommandRunner(api, 'events');

    append(133, { message: 'test event 133\nsecond line of its message' });
    assert.equal(await run(['events-main'], { limit: '3' }), 0, err());
    const at = (n: number): string => new Date(1_750_000_000_000 + n * 250).toISOString();
    assert.equal(out(), [
      `${at(131)}  INSTANCE_FAILED       test event 131\n`,
      `${at(132)}  INSTANCE_FAILED       test event 132\n`,
      `${at(133)}  INSTANCE_FAILED       test event 133\n    second line of its message\n`,
    ].join(''));

    assert.equal(await run([arn], { limit: '250' }), 0, err());
    const lines = out().split('\n').filter((l) => / test event \d+$/.test(l));
    assert.equal(lines.at(-1)?.endsWith('test event 133'), true, 'the newest last');
    assert.ok(lines.length >= 130, `${lines.length} lines over three pages`);
    assert.equal(await run(['events-main']), 0);
    assert.equal(out().trimEnd().split('\n').filter((l) => /^\d{4}-/.test(l)).length, 50, 'default 50');

    for (const limit of ['0', '1001', 'ten', '-1']) {
      assert.equal(await run(['events-main'], { limit }), 2, limit);
      assert.match(err(), new RegExp(`--limit is '${limit}'; expected a whole number from 1 to ${SERVICE_EVENTS_KEPT}`));
    }
    assert.equal(await run(['events-main'], { follow: true }), 2);
    assert.match(err(), /events does not take --follow/);
    assert.equal(await run(['events-main', 'extra']), 2);
    assert.match(err(), /events takes SERVICE/);
  });
});

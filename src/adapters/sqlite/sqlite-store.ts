/**
 * @module
 * The embedded store: one SQLite file (node:sqlite) in WAL mode. Records are kept as JSON in a
 * `body` column next to the few columns that queries and constraints need.
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { BuildRecord } from '../../core/build-record.ts';
import type { OperationRecord } from '../../core/operation.ts';
import type { ResourceKind, ResourceRecord } from '../../core/resources.ts';
import { SERVICE_EVENTS_KEPT, type ServiceEvent, type StoredServiceEvent } from '../../core/service-events.ts';
import type { ServiceRecord, Tag } from '../../core/service.ts';
import type { AccessKeyRecord, PlaintextAccessKeyRecord, SessionRecord, UserPolicyRecord, UserRecord } from '../../core/iam.ts';
import type { RevisionRecord, Store } from '../../core/store.ts';
import { MIGRATIONS } from './migrations.ts';

type Row = Record<string, unknown>;

export class SqliteStore implements Store {
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  #depth = 0;

  constructor(path: string) {
    this.#db = new DatabaseSync(path);
    // WAL lets the API read while the reconciler writes; busy_timeout covers a second process
    // (a `berth` command) touching the file at the same moment.
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;');
    this.#migrate();
  }

  #migrate(): void {
    const version = Number((this.#db.prepare('PRAGMA user_version').get() as Row).user_version);
    if (version > MIGRATIONS.length) {
      throw new Error(`The store was written by a newer Berth (schema ${version}, this one knows ${MIGRATIONS.length}); upgrade Berth`);
    }
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.transaction(() => {
        this.#db.exec(MIGRATIONS[v] as string);
        this.#db.exec(`PRAGMA user_version = ${v + 1}`);
      });
    }
  }

  #stmt(sql: string): StatementSync {
    let stmt = this.#statements.get(sql);
    if (stmt === undefined) {
      stmt = this.#db.prepare(sql);
      this.#statements.set(sql, stmt);
    }
    return stmt;
  }

  transaction<T>(fn: () => T): T {
    // Nested calls become savepoints, so helpers can be transactional on their own.
    const name = `sp${this.#depth}`;
    this.#db.exec(this.#depth === 0 ? 'BEGIN IMMEDIATE' : `SAVEPOINT ${name}`);
    this.#depth++;
    try {
      const result = fn();
      this.#depth--;
      this.#db.exec(this.#depth === 0 ? 'COMMIT' : `RELEASE ${name}`);
      return result;
    } catch (error) {
      this.#depth--;
      this.#db.exec(this.#depth === 0 ? 'ROLLBACK' : `ROLLBACK TO ${name}; RELEASE ${name}`);
      throw error;
    }
  }

  getMeta(key: string): string | undefined {
    const row = this.#stmt('SELECT value FROM meta WHERE key = ?').get(key) as Row | undefined;
    return row === undefined ? undefined : String(row.value);
  }

  setMeta(key: string, value: string): void {
    this.#stmt('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  insertService(s: ServiceRecord): void {
    this.#stmt('INSERT INTO services (id, name, status, deleted_at, body) VALUES (?, ?, ?, ?, ?)').run(
      s.id, s.name, s.status, s.deletedAt ?? null, JSON.stringify(s),
    );
  }

  updateService(s: ServiceRecord): void {
    this.#stmt('UPDATE services SET name = ?, status = ?, deleted_at = ?, body = ? WHERE id = ?').run(
      s.name, s.status, s.deletedAt ?? null, JSON.stringify(s), s.id,
    );
  }

  getService(id: string): ServiceRecord | undefined {
    return parse(this.#stmt('SELECT body FROM services WHERE id = ?').get(id));
  }

  findLiveServiceByName(name: string): ServiceRecord | undefined {
    return parse(this.#stmt("SELECT body FROM services WHERE name = ? AND status <> 'DELETED'").get(name));
  }

  listLiveServices(): ServiceRecord[] {
    return this.#stmt("SELECT body FROM services WHERE status <> 'DELETED' ORDER BY rowid").all().map((r) => parse(r) as ServiceRecord);
  }

  insertRevision(r: RevisionRecord): void {
    this.#stmt('INSERT INTO revisions (id, service_id, number, body) VALUES (?, ?, ?, ?)').run(r.id, r.serviceId, r.number, JSON.stringify(r));
  }

  getRevision(id: string): RevisionRecord | undefined {
    return parse(this.#stmt('SELECT body FROM revisions WHERE id = ?').get(id));
  }

  listRevisions(serviceId: string): RevisionRecord[] {
    return this.#stmt('SELECT body FROM revisions WHERE service_id = ? ORDER BY number DESC').all(serviceId).map((r) => parse(r) as RevisionRecord);
  }

  putBuild(b: BuildRecord): void {
    this.#stmt(
      `INSERT INTO builds (id, service_id, revision_id, operation_id, started_at, body) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET body = excluded.body`,
    ).run(b.id, b.serviceId, b.revisionId, b.operationId ?? null, b.startedAt, JSON.stringify(b));
  }

  latestBuild(revisionId: string): BuildRecord | undefined {
    return parse(this.#stmt('SELECT body FROM builds WHERE revision_id = ? ORDER BY started_at DESC, rowid DESC LIMIT 1').get(revisionId));
  }

  buildsOfOperation(operationId: string): BuildRecord[] {
    return this.#stmt('SELECT body FROM builds WHERE operation_id = ? ORDER BY started_at DESC, rowid DESC').all(operationId).map((r) => parse(r) as BuildRecord);
  }

  listBuildsWithImages(): BuildRecord[] {
    return this.#stmt(
      "SELECT body FROM builds WHERE body ->> '$.status' = 'SUCCEEDED' AND body ->> '$.imageDiscardedAt' IS NULL ORDER BY started_at, rowid",
    ).all().map((r) => parse(r) as BuildRecord);
  }

  appendServiceEvent(event: ServiceEvent): void {
    this.transaction(() => {
      this.#stmt('INSERT INTO service_events (service_id, at, body) VALUES (?, ?, ?)').run(event.serviceId, event.at, JSON.stringify(event));
      // Everything at or below the seq of the first event past the newest SERVICE_EVENTS_KEPT.
      this.#stmt(
        `DELETE FROM service_events WHERE service_id = ? AND seq <= (
           SELECT seq FROM service_events WHERE service_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)`,
      ).run(event.serviceId, event.serviceId, SERVICE_EVENTS_KEPT);
    });
  }

  listServiceEvents(serviceId: string, limit: number, beforeSeq?: number): StoredServiceEvent[] {
    return this.#stmt('SELECT seq, body FROM service_events WHERE service_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?')
      .all(serviceId, beforeSeq ?? Number.MAX_SAFE_INTEGER, limit)
      .map((r) => ({ ...(parse(r) as ServiceEvent), seq: Number(r.seq) }));
  }

  insertOperation(op: OperationRecord): void {
    this.#stmt('INSERT INTO operations (id, service_id, status, started_at, body) VALUES (?, ?, ?, ?, ?)').run(
      op.id, op.serviceId, op.status, op.startedAt, JSON.stringify(op),
    );
  }

  updateOperation(op: OperationRecord): void {
    this.#stmt('UPDATE operations SET status = ?, body = ? WHERE id = ?').run(op.status, JSON.stringify(op), op.id);
  }

  listOperations(serviceId: string): OperationRecord[] {
    return this.#stmt('SELECT body FROM operations WHERE service_id = ? ORDER BY started_at DESC, rowid DESC')
      .all(serviceId)
      .map((r) => parse(r) as OperationRecord);
  }

  activeOperation(serviceId: string): OperationRecord | undefined {
    return parse(
      this.#stmt(
        "SELECT body FROM operations WHERE service_id = ? AND status IN ('PENDING', 'IN_PROGRESS', 'ROLLBACK_IN_PROGRESS') ORDER BY started_at DESC LIMIT 1",
      ).get(serviceId),
    );
  }

  putResource(r: ResourceRecord): void {
    this.#stmt(
      `INSERT INTO resources (kind, key, name, live, created_at, body) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (kind, key) DO UPDATE SET name = excluded.name, live = excluded.live, body = excluded.body`,
    ).run(r.kind, r.key, r.name, r.live ? 1 : 0, r.createdAt, JSON.stringify(r));
  }

  getResource(kind: ResourceKind, key: string): ResourceRecord | undefined {
    return parse(this.#stmt('SELECT body FROM resources WHERE kind = ? AND key = ?').get(kind, key));
  }

  listResources(kind: ResourceKind): ResourceRecord[] {
    return this.#stmt('SELECT body FROM resources WHERE kind = ? ORDER BY created_at, rowid').all(kind).map((r) => parse(r) as ResourceRecord);
  }

  deleteResource(kind: ResourceKind, key: string): void {
    this.#stmt('DELETE FROM resources WHERE kind = ? AND key = ?').run(kind, key);
  }

  getTags(arn: string): Tag[] {
    return parse<Tag[]>(this.#stmt('SELECT body FROM tags WHERE arn = ?').get(arn)) ?? [];
  }

  setTags(arn: string, tags: readonly Tag[]): void {
    if (tags.length === 0) this.#stmt('DELETE FROM tags WHERE arn = ?').run(arn);
    else this.#stmt('INSERT INTO tags (arn, body) VALUES (?, ?) ON CONFLICT (arn) DO UPDATE SET body = excluded.body').run(arn, JSON.stringify(tags));
  }

  // Access control: users, inline policies, access keys, sessions.
  insertUser(user: UserRecord): void {
    this.#stmt('INSERT INTO users (id, name, created_at, body) VALUES (?, ?, ?, ?)').run(user.id, user.name, user.createdAt, JSON.stringify(user));
  }

  getUser(id: string): UserRecord | undefined {
    return parse(this.#stmt('SELECT body FROM users WHERE id = ?').get(id));
  }

  findUserByName(name: string): UserRecord | undefined {
    return parse(this.#stmt('SELECT body FROM users WHERE name = ?').get(name));
  }

  listUsers(): UserRecord[] {
    return this.#stmt('SELECT body FROM users ORDER BY name, id').all().map((r) => parse(r) as UserRecord);
  }

  deleteUser(id: string): void {
    this.#stmt('DELETE FROM users WHERE id = ?').run(id);
  }

  putUserPolicy(policy: UserPolicyRecord): void {
    this.#stmt(
      `INSERT INTO user_policies (user_id, name, body) VALUES (?, ?, ?)
       ON CONFLICT (user_id, name) DO UPDATE SET name = excluded.name, body = excluded.body`,
    ).run(policy.userId, policy.name, JSON.stringify(policy));
  }

  getUserPolicy(userId: string, name: string): UserPolicyRecord | undefined {
    return parse(this.#stmt('SELECT body FROM user_policies WHERE user_id = ? AND name = ?').get(userId, name));
  }

  listUserPolicies(userId: string): UserPolicyRecord[] {
    return this.#stmt('SELECT body FROM user_policies WHERE user_id = ? ORDER BY name').all(userId).map((r) => parse(r) as UserPolicyRecord);
  }

  deleteUserPolicy(userId: string, name: string): void {
    this.#stmt('DELETE FROM user_policies WHERE user_id = ? AND name = ?').run(userId, name);
  }

  putAccessKey(key: AccessKeyRecord): void {
    this.#stmt(
      `INSERT INTO access_keys (access_key_id, user_id, body) VALUES (?, ?, ?)
       ON CONFLICT (access_key_id) DO UPDATE SET user_id = excluded.user_id, body = excluded.body`,
    ).run(key.accessKeyId, key.userId, JSON.stringify(key));
  }

  getAccessKey(accessKeyId: string): AccessKeyRecord | undefined {
    return parse(this.#stmt('SELECT body FROM access_keys WHERE access_key_id = ? AND user_id IS NOT NULL').get(accessKeyId));
  }

  listAccessKeys(userId: string): AccessKeyRecord[] {
    return this.#stmt('SELECT body FROM access_keys WHERE user_id = ? ORDER BY rowid').all(userId).map((r) => parse(r) as AccessKeyRecord);
  }

  deleteAccessKey(accessKeyId: string): void {
    this.deleteSessionsOf(accessKeyId);
    this.#stmt('DELETE FROM access_keys WHERE access_key_id = ?').run(accessKeyId);
  }

  listPlaintextAccessKeys(): PlaintextAccessKeyRecord[] {
    return this.#stmt('SELECT body FROM access_keys WHERE user_id IS NULL ORDER BY rowid').all().map((r) => {
      const { accessKeyId, secretAccessKey, createdAt } = parse(r) as PlaintextAccessKeyRecord;
      return { accessKeyId, secretAccessKey, createdAt };
    });
  }

  insertSession(session: SessionRecord): void {
    this.#stmt('INSERT INTO sessions (access_key_id, parent_access_key_id, expires_at, body) VALUES (?, ?, ?, ?)').run(
      session.accessKeyId, session.parentAccessKeyId, session.expiresAt, JSON.stringify(session),
    );
  }

  getSession(accessKeyId: string): SessionRecord | undefined {
    return parse(this.#stmt('SELECT body FROM sessions WHERE access_key_id = ?').get(accessKeyId));
  }

  deleteSessionsOf(parentAccessKeyId: string): void {
    this.#stmt('DELETE FROM sessions WHERE parent_access_key_id = ?').run(parentAccessKeyId);
  }

  deleteSessionsExpiredBefore(time: number): void {
    this.#stmt('DELETE FROM sessions WHERE expires_at < ?').run(time);
  }

  close(): void {
    this.#db.close();
  }
}

function parse<T>(row: unknown): T | undefined {
  return row === undefined ? undefined : (JSON.parse(String((row as Row).body)) as T);
}

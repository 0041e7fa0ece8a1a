/**
 * A real control plane on port 0 over an in-memory runtime whose instances listen (so services
 * reach RUNNING), with the clients tests drive it through: the official SDK, raw signed
 * AWS JSON calls, and a dump of every table of the store to prove a request changed nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { AppRunnerClient } from '@aws-sdk/client-apprunner';
import type { Clock } from '../../src/core/clock.ts';
import { resolveConfig, type ConfigInput } from '../../src/core/config.ts';
import { startControlPlane, type ControlPlane } from '../../src/main/control-plane.ts';
import type { Builder } from '../../src/core/builder.ts';
import { FakeBuilder } from './fake-builder.ts';
import { FakeRuntime } from './fake-runtime.ts';
import { readCredentials, waitFor } from './berth-process.ts';
import { signedFetch, type Endpoint } from './signed-request.ts';

export interface ApiHarness {
  home: string;
  cp: ControlPlane;
  runtime: FakeRuntime;
  client: AppRunnerClient;
  endpoint: Endpoint;
  /** Calls `AppRunner.<operation>` (or a full target such as `Berth.ListUsers`); throws ApiError unless 200. */
  call(operation: string, input?: unknown): Promise<Record<string, unknown>>;
  /** Sends a body as is and returns status and parsed JSON, whatever the status. */
  send(operation: string, body: string): Promise<{ status: number; json: Record<string, unknown> }>;
  /** Every row of every table but the event log, as one string: equal before and after means nothing changed. */
  dump(): string;
  /** Waits until no service has an operation in progress. */
  settle(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export class ApiError extends Error {
  readonly type: string;
  readonly status: number;

  constructor(type: string, status: number, message: string) {
    super(`${type} (${status}): ${message}`);
    this.type = type;
    this.status = status;
  }
}

/** Prefixes of meta keys the control plane writes on its own schedule (see `dump`). */
const OBSERVED_META = ['instances:', 'scaling:', 'crash-loop:'];

export function target(operation: string): string {
  return operation.includes('.') ? operation : `AppRunner.${operation}`;
}

/**
 * `clock`: the control plane's time (default the system's); `call` and `send` sign with it, so
 * a test can move it forward (to expire a session) and still be inside the signature window.
 */
export async function startApiHarness(config: ConfigInput = {}, options: { clock?: Clock; builder?: Builder } = {}): Promise<ApiHarness> {
  const home = mkdtempSync(join(tmpdir(), 'berth-api-'));
  const runtime = new FakeRuntime({ listening: true });
  const builder = options.builder ?? new FakeBuilder();
  const cp = await startControlPlane(
    resolveConfig(home, { api: { port: 0 }, reconcile: { intervalMs: 50, startupTimeoutSeconds: 5, stopGraceSeconds: 0 } }, config),
    { runtime, builder, ...(options.clock !== undefined && { clock: options.clock }) },
  );
  const credentials = readCredentials(home);
  const endpoint: Endpoint = { apiUrl: cp.apiUrl, region: 'us-east-1', credentials };
  const client = new AppRunnerClient({ region: 'us-east-1', endpoint: cp.apiUrl, credentials, maxAttempts: 1 });
  const db = new DatabaseSync(join(home, 'berth.db'), { readOnly: true });

  const send = async (operation: string, body: string): Promise<{ status: number; json: Record<string, unknown> }> => {
    const clock = options.clock;
    const reply = await signedFetch(endpoint, target(operation), body, clock === undefined ? {} : { signingDate: new Date(clock.now()) });
    return { status: reply.status, json: reply.json() };
  };
  const harness: ApiHarness = {
    home,
    cp,
    runtime,
    client,
    endpoint,
    send,
    async call(operation, input = {}) {
      const { status, json } = await send(operation, JSON.stringify(input));
      if (status !== 200) throw new ApiError(String(json.__type), status, String(json.Message));
      return json;
    },
    dump() {
      // The event log is left out: the reconciler appends to it on its own schedule (an old
      // instance drained after `settle`), and no request writes to it.
      const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name <> 'service_events' ORDER BY name").all() as { name: string }[];
      // So are the reconciler's and autoscaler's observations kept in meta (what runs, the last
      // scaling decision, crash loops): they change as instances drain, not because of a request.
      const rows = (name: string): unknown[] => name === 'meta'
        ? db.prepare(`SELECT * FROM meta WHERE ${OBSERVED_META.map(() => 'key NOT LIKE ?').join(' AND ')} ORDER BY rowid`).all(...OBSERVED_META.map((prefix) => `${prefix}%`))
        : db.prepare(`SELECT * FROM "${name}" ORDER BY rowid`).all();
      return tables.map(({ name }) => `${name}: ${JSON.stringify(rows(name))}`).join('\n');
    },
    async settle(timeoutMs = 15_000) {
      // Named with what each is doing, so a deployment that never ends can be told apart.
      const busy = (): string[] => cp.store.listLiveServices().flatMap((s) => {
        const op = cp.store.activeOperation(s.id);
        if (op === undefined) return [];
        const source = s.config.SourceConfiguration;
        return [`${s.name} (${op.type} ${op.status}, ${source.CodeRepository !== undefined ? `code ${source.CodeRepository.RepositoryUrl}` : `image ${source.ImageRepository?.ImageIdentifier}`}, health ${JSON.stringify(s.config.HealthCheckConfiguration)}, min ${s.minSize})`];
      });
      await waitFor(() => busy().length === 0, timeoutMs, () => `services still have operations in progress: ${busy().join(', ')}`);
    },
    async close() {
      client.destroy();
      db.close();
      await cp.stop();
      runtime.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
  return harness;
}

// The router's reports against a small control plane on a Unix socket that can hold each
// report, answer with an error, or be absent: what goes out, when, and never two at once.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RouterReport } from '../../src/core/routes.ts';
import type { ReportErrorMessage } from '../../src/edges/router/diagnostics.ts';
import { ReportSender } from '../../src/edges/router/report-sender.ts';

class FakeReports {
  readonly received: RouterReport[] = [];
  /** Holds each report until `release`, when set. */
  hold = false;
  status = 204;
  inFlight = 0;
  maxInFlight = 0;
  readonly #held: Array<() => void> = [];
  #server: Server | undefined;

  async start(socketPath: string): Promise<void> {
    const server = createServer((req, res) => {
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        assert.equal(`${req.method} ${req.url} ${req.headers['content-type']}`, 'POST /v1/reports application/json');
        this.received.push(JSON.parse(Buffer.concat(chunks).toString()) as RouterReport);
        const answer = (): void => {
          this.inFlight--;
          res.writeHead(this.status).end(this.status === 204 ? undefined : 'no\n');
        };
        if (this.hold) this.#held.push(answer);
        else answer();
      });
    });
    server.listen(socketPath);
    await once(server, 'listening');
    this.#server = server;
  }

  release(): void {
    for (const answer of this.#held.splice(0)) answer();
  }

  async stop(): Promise<void> {
    this.release();
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  }
}

const waitFor = async (check: () => boolean, what: string, timeoutMs = 2000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
};

describe('router reports', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-reports-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  let sockets = 0;
  const setUp = async (options: { intervalMs?: number } = {}): Promise<{ fake: FakeReports; sender: ReportSender; state: { count: number } }> => {
    const socketPath = join(dir, `control-${++sockets}.sock`);
    const fake = new FakeReports();
    await fake.start(socketPath);
    const state = { count: 0 };
    const sender = new ReportSender({
      socketPath,
      report: () => ({ routerId: 'r1', tableTag: 't1', instances: { i1: state.count } }),
      intervalMs: options.intervalMs ?? 60_000,
    });
    return { fake, sender, state };
  };

  test('sends the report of the moment it is sent; a burst of `soon` makes one report', async () => {
    const { fake, sender, state } = await setUp();
    try {
      sender.now();
      state.count = 4;
      await waitFor(() => fake.received.length === 1, 'the first report');
      assert.deepEqual(fake.received[0], { routerId: 'r1', tableTag: 't1', instances: { i1: 4 } });
      for (let i = 0; i < 5; i++) sender.soon();
      await waitFor(() => fake.received.length === 2, 'the coalesced report');
      await sleep(100);
      assert.equal(fake.received.length, 2);
    } finally {
      await sender.close();
      await fake.stop();
    }
  });

  test('never two at once: what falls due while one is in flight is sent once, after it', async () => {
    const { fake, sender, state } = await setUp();
    try {
      fake.hold = true;
      sender.now();
      await waitFor(() => fake.received.length === 1, 'the first report');
      for (let i = 0; i < 5; i++) {
        state.count = i;
        sender.soon();
        sender.now();
        await sleep(20);
      }
      assert.equal(fake.received.length, 1);
      fake.hold = false;
      fake.release();
      await waitFor(() => fake.received.length === 2, 'the report due meanwhile');
      assert.equal(fake.received[1]!.instances.i1, 4);
      await sleep(100);
      assert.equal(fake.received.length, 2);
      assert.equal(fake.maxInFlight, 1);
    } finally {
      await sender.close();
      await fake.stop();
    }
  });

  test('reports every interval when nothing happens', async () => {
    const { fake, sender } = await setUp({ intervalMs: 50 });
    try {
      sender.now();
      await waitFor(() => fake.received.length >= 4, 'periodic reports', 1000);
      assert.equal(fake.maxInFlight, 1);
    } finally {
      await sender.close();
      await fake.stop();
    }
  });

  test('failures are published and the next report goes out as usual', async () => {
    const errors: ReportErrorMessage[] = [];
    const listener = (message: unknown): void => {
      errors.push(message as ReportErrorMessage);
    };
    subscribe('berth:router:report-error', listener);
    const socketPath = join(dir, 'absent.sock');
    const sender = new ReportSender({ socketPath, report: () => ({ routerId: 'r1', tableTag: '', instances: {} }), intervalMs: 50 });
    const fake = new FakeReports();
    try {
      // No control plane at all: errors, nothing thrown.
      sender.now();
      await waitFor(() => errors.length >= 2, 'failed reports');
      assert.match(errors[0]!.error.message, /ENOENT|ECONNREFUSED/);

      // It answers with an error: published with its status.
      fake.status = 500;
      await fake.start(socketPath);
      const before = errors.length;
      await waitFor(() => errors.length > before && fake.received.length > 0, 'a refused report');
      assert.match(errors.at(-1)!.error.message, /answered POST \/v1\/reports with 500: no/);

      // It takes them: reports go through again.
      fake.status = 204;
      const taken = fake.received.length;
      await waitFor(() => fake.received.length > taken + 1, 'reports taken again');
    } finally {
      unsubscribe('berth:router:report-error', listener);
      await sender.close();
      await fake.stop();
    }
  });

  test('close abandons the report in flight and sends no more', async () => {
    const { fake, sender } = await setUp({ intervalMs: 20 });
    try {
      fake.hold = true;
      sender.now();
      await waitFor(() => fake.received.length === 1, 'the first report');
      const started = Date.now();
      await sender.close();
      assert.ok(Date.now() - started < 1000);
      sender.now();
      sender.soon();
      fake.hold = false;
      fake.release();
      await sleep(100);
      assert.equal(fake.received.length, 1);
    } finally {
      await fake.stop();
    }
  });
});

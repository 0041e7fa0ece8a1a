/**
 * @module
 * Follows the control plane's route table over its Unix socket with long polls:
 *
 *     GET /v1/routes?wait=25          If-None-Match: "<tag of the table held>"
 *     200 + JSON RouteTable, ETag: "<tag>"  — a newer table
 *     304                                   — nothing changed within `wait` seconds
 *
 * (RFC 9110 §8.8.3 ETag, §13.1.2 If-None-Match, §15.4.5 304.) Whatever goes wrong — socket
 * missing, control plane down or restarting, a bad answer — the routes held are kept and the
 * poll is retried after a backoff doubling from 100 ms to 2 s, so a control plane that comes
 * back is followed again within two seconds.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'undici';
import { routeTableTag, type RouteTable } from '../../core/routes.ts';
import { feedErrorChannel, type FeedErrorMessage } from './diagnostics.ts';
import { parseRouteTable } from './parse-route-table.ts';

/** Where the feed puts the tables it receives (a RouteTableStore). */
export interface RouteSink {
  /** The tag of the table held; empty when none. */
  readonly tag: string;
  replace(table: RouteTable, tag: string): boolean;
}

export interface RouteFeedOptions {
  socketPath: string;
  sink: RouteSink;
  /** How long the control plane may hold a poll open. Default 25 s. */
  waitSeconds?: number;
  /** First retry delay after a failure. Default 100 ms. */
  minRetryMs?: number;
  /** Retry delay cap. Default 2 s. */
  maxRetryMs?: number;
}

/** Extra time over `wait` before a silent control plane counts as failed. */
const ANSWER_GRACE_MS = 10_000;

export class RouteFeed {
  readonly #sink: RouteSink;
  readonly #client: Client;
  readonly #path: string;
  readonly #headersTimeout: number;
  readonly #minRetryMs: number;
  readonly #maxRetryMs: number;
  readonly #stop = new AbortController();
  #running: Promise<void> | null = null;

  constructor(options: RouteFeedOptions) {
    const waitSeconds = options.waitSeconds ?? 25;
    this.#sink = options.sink;
    this.#path = `/v1/routes?wait=${waitSeconds}`;
    this.#headersTimeout = waitSeconds * 1000 + ANSWER_GRACE_MS;
    this.#minRetryMs = options.minRetryMs ?? 100;
    this.#maxRetryMs = options.maxRetryMs ?? 2000;
    // The origin only fills the Host header; the connection goes to the socket.
    this.#client = new Client('http://localhost', { socketPath: options.socketPath, pipelining: 1 });
  }

  /** Starts following; idempotent. */
  start(): void {
    this.#running ??= this.#follow();
  }

  /** Stops following: the poll in flight is abandoned and the connection closed. */
  async close(): Promise<void> {
    this.#stop.abort();
    await this.#running;
    await this.#client.destroy();
  }

  async #follow(): Promise<void> {
    const signal = this.#stop.signal;
    let retryMs = 0;
    while (!signal.aborted) {
      try {
        const waited = await this.#poll(signal);
        retryMs = 0;
        // A server that ignores If-None-Match answers at once with the table held: pause, so it
        // is not polled in a tight loop.
        if (!waited) await sleep(this.#minRetryMs, undefined, { signal });
      } catch (err) {
        if (signal.aborted) break;
        retryMs = retryMs === 0 ? this.#minRetryMs : Math.min(retryMs * 2, this.#maxRetryMs);
        if (feedErrorChannel.hasSubscribers) {
          feedErrorChannel.publish({ error: err instanceof Error ? err : new Error(String(err)), retryInMs: retryMs } satisfies FeedErrorMessage);
        }
        await sleep(retryMs, undefined, { signal }).catch(() => {});
      }
    }
  }

  /** One long poll; resolves false when the answer was the table already held (no wait happened). */
  async #poll(signal: AbortSignal): Promise<boolean> {
    const held = this.#sink.tag;
    const response = await this.#client.request({
      path: this.#path,
      method: 'GET',
      headers: held === '' ? { accept: 'application/json' } : { accept: 'application/json', 'if-none-match': `"${held}"` },
      signal,
      headersTimeout: this.#headersTimeout,
      bodyTimeout: ANSWER_GRACE_MS,
    });
    if (response.statusCode === 304) {
      await response.body.dump();
      return true;
    }
    const text = await response.body.text();
    if (response.statusCode !== 200) {
      throw new Error(`the control plane answered GET ${this.#path} with ${response.statusCode}: ${text.slice(0, 200)}`);
    }
    let table: RouteTable;
    try {
      table = parseRouteTable(JSON.parse(text));
    } catch (err) {
      throw new Error(`the control plane sent a route table the router cannot use: ${(err as Error).message}`, { cause: err });
    }
    const tag = entityTag(response.headers.etag) ?? routeTableTag(table);
    this.#sink.replace(table, tag);
    return tag !== held;
  }
}

/** The opaque tag of an ETag value (RFC 9110 §8.8.3: `[W/] "tag"`), or undefined. */
function entityTag(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const match = /^(?:W\/)?"([^"]*)"$/.exec(header.trim());
  return match?.[1] || undefined;
}

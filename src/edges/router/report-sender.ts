/**
 * @module
 * Tells the control plane what the router has in flight per instance, so that it stops a
 * withdrawn instance only once no router has a request left on it, and each service's load since
 * the previous report, for its autoscaler:
 *
 *     POST /v1/reports    content-type: application/json    RouterReport (src/core/routes.ts)
 *     204
 *
 * on the control socket, beside the route feed but on a connection of its own (the feed's is
 * held by a long poll). A report goes out right after the router adopts a table (`now`), shortly
 * after a draining instance's last request ends or a request starts waiting for an instance
 * (`soon`: a burst of them makes one report), and a second after the last one otherwise. At most one is in flight; one that falls due meanwhile
 * is sent once when it ends. A report that fails (control plane down or restarting, socket
 * missing) is published on `berth:router:report-error` and otherwise ignored: the next one,
 * within a second, carries the state of that moment.
 */

import { Client } from 'undici';
import type { RouterReport } from '../../core/routes.ts';
import { reportErrorChannel, type ReportErrorMessage } from './diagnostics.ts';

export interface ReportSenderOptions {
  socketPath: string;
  /** Builds the report to send, at the moment it is sent. */
  report: () => RouterReport;
  /** Time between reports when nothing happens. Default 1 s. */
  intervalMs?: number;
  /** How long `soon` waits for more of the same burst. Default 10 ms. */
  coalesceMs?: number;
  /** Time the control plane gets to answer a report. Default 5 s. */
  answerTimeoutMs?: number;
}

const PATH = '/v1/reports';

export class ReportSender {
  readonly #client: Client;
  readonly #report: () => RouterReport;
  readonly #intervalMs: number;
  readonly #coalesceMs: number;
  readonly #answerTimeoutMs: number;
  readonly #stop = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  /** When the timer fires (performance.now() time); meaningful while `#timer` is set. */
  #dueAt = 0;
  /** Sending (with the reports that fall due meanwhile); null when idle. */
  #running: Promise<void> | null = null;
  #again = false;

  constructor(options: ReportSenderOptions) {
    this.#report = options.report;
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#coalesceMs = options.coalesceMs ?? 10;
    this.#answerTimeoutMs = options.answerTimeoutMs ?? 5000;
    // The origin only fills the Host header; the connection goes to the socket.
    this.#client = new Client('http://localhost', { socketPath: options.socketPath, pipelining: 1 });
  }

  /** Sends a report as soon as possible (a new table was adopted). */
  now(): void {
    this.#schedule(0);
  }

  /** Sends a report shortly, with whatever else happens meanwhile (a drained instance). */
  soon(): void {
    this.#schedule(this.#coalesceMs);
  }

  /** Stops: no more reports; the one in flight is abandoned. */
  async close(): Promise<void> {
    this.#stop.abort();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
    await this.#client.destroy();
  }

  #schedule(delayMs: number): void {
    if (this.#stop.signal.aborted) return;
    if (this.#running !== null) {
      this.#again = true;
      return;
    }
    const dueAt = performance.now() + delayMs;
    if (this.#timer !== undefined) {
      if (this.#dueAt <= dueAt) return;
      clearTimeout(this.#timer);
    }
    this.#dueAt = dueAt;
    // Reports never keep the process alive: the router's servers do while it runs.
    this.#timer = setTimeout(this.#due, delayMs).unref();
  }

  readonly #due = (): void => {
    this.#timer = undefined;
    // `then` runs later than this assignment, whatever happens in between.
    this.#running = this.#sendWhileDue().then(() => {
      this.#running = null;
      this.#schedule(this.#intervalMs);
    });
  };

  /** Never rejects. */
  async #sendWhileDue(): Promise<void> {
    const signal = this.#stop.signal;
    do {
      this.#again = false;
      try {
        await this.#send(signal);
      } catch (err) {
        if (signal.aborted) break;
        if (reportErrorChannel.hasSubscribers) {
          reportErrorChannel.publish({ error: err instanceof Error ? err : new Error(String(err)) } satisfies ReportErrorMessage);
        }
      }
    } while (this.#again && !signal.aborted);
  }

  async #send(signal: AbortSignal): Promise<void> {
    const response = await this.#client.request({
      path: PATH,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(this.#report()),
      signal,
      headersTimeout: this.#answerTimeoutMs,
      bodyTimeout: this.#answerTimeoutMs,
    });
    const text = await response.body.text();
    if (response.statusCode < 200 || response.statusCode > 299) {
      throw new Error(`the control plane answered POST ${PATH} with ${response.statusCode}: ${text.slice(0, 200).trim()}`);
    }
  }
}

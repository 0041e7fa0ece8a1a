/**
 * @module
 * A small load generator for acceptance tests and benchmarks: `concurrency` loops, each sending
 * one GET at a time to a service through the router over HTTPS (keep-alive connections, Berth's
 * CA, SNI and Host naming the service), for a bounded time or until stopped. Every request is
 * recorded: when it was sent and ended, its status, body, transport error code, the router's
 * `x-berth-error` and `retry-after` headers, and any other response headers asked for. Traffic
 * goes to loopback only.
 */
import { Pool } from 'undici';

/** Where the router listens and the CA it serves under (a `BerthUp` fits). */
export interface LoadTarget {
  httpsPort: number;
  ca: string;
}

export interface LoadOptions {
  /** The service's host (its ServiceUrl). */
  host: string;
  path?: string;
  /** Parallel request loops; 8 by default. */
  concurrency?: number;
  /** Upper bound on how long the load runs; `stop()` ends it earlier. */
  durationMs: number;
  /** Per request, until the response's last byte; 10 s by default. */
  requestTimeoutMs?: number;
  /** Bodies a 200 may carry; any other body is a failure. Any body passes when absent. */
  expectedBodies?: readonly string[];
  /** Replaces the default rule (a 200 with an expected body) for what counts as a success. */
  accept?: (sample: Sample) => boolean;
  /** Response headers to keep on each sample (lower case), e.g. what the app says of itself. */
  recordHeaders?: readonly string[];
  /** Each loop waits this long after a response before its next request: a lighter load. 0 by default. */
  pauseMs?: number;
}

export interface Sample {
  /** `performance.now()` when the request was sent. */
  start: number;
  /** `performance.now()` when its response ended or it failed. */
  end: number;
  /** 0 when no response came. */
  status: number;
  /** The body, its first 200 characters. */
  body: string;
  /** The transport error's code (`UND_ERR_SOCKET`, `ECONNREFUSED`, ...), or its message. */
  error?: string;
  /** The transport error's message, and whether it came before the response head or while reading the body. */
  errorDetail?: string;
  /** The router's own error code, from `x-berth-error`. */
  berthError?: string;
  retryAfter?: string;
  /** The `recordHeaders` the response carried, by lower-case name. */
  headers?: Record<string, string>;
}

export interface LoadReport {
  requests: number;
  failures: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  durationMs: number;
  /**
   * Requests per outcome: a 200's body (trimmed), `HTTP <status> <x-berth-error>` for other
   * statuses, `error <code>` for requests without a response.
   */
  outcomes: Record<string, number>;
  /** The first failures, in the order they were sent. */
  firstFailures: Sample[];
  /** `requests=… failures=… p50=…ms p99=…ms`, then the outcomes. */
  summary: string;
}

const FIRST_FAILURES = 5;

export class LoadGenerator {
  /** Every request so far, in the order they ended. */
  readonly samples: Sample[] = [];
  readonly #options: Required<Omit<LoadOptions, 'expectedBodies' | 'accept' | 'recordHeaders'>> & Pick<LoadOptions, 'expectedBodies' | 'accept' | 'recordHeaders'>;
  readonly #pool: Pool;
  #startedAt = 0;
  #deadline = 0;
  #stopping = false;
  #loops: Promise<void>[] = [];

  constructor(target: LoadTarget, options: LoadOptions) {
    this.#options = { path: '/', concurrency: 8, requestTimeoutMs: 10_000, pauseMs: 0, ...options };
    this.#pool = new Pool(`https://127.0.0.1:${target.httpsPort}`, {
      connections: this.#options.concurrency,
      connect: { ca: target.ca, servername: options.host },
      headersTimeout: this.#options.requestTimeoutMs,
      bodyTimeout: this.#options.requestTimeoutMs,
    });
  }

  /** `performance.now()` when the load started. */
  get startedAt(): number {
    return this.#startedAt;
  }

  start(): this {
    this.#startedAt = performance.now();
    this.#deadline = this.#startedAt + this.#options.durationMs;
    this.#loops = Array.from({ length: this.#options.concurrency }, () => this.#loop());
    return this;
  }

  /** Ends the load (requests in flight finish) and reports on all of it. */
  async stop(): Promise<LoadReport> {
    this.#stopping = true;
    await Promise.all(this.#loops);
    await this.#pool.close();
    return this.report();
  }

  /** Resolves once the load has run its full duration or been stopped. */
  async done(): Promise<void> {
    await Promise.all(this.#loops);
  }

  isFailure(sample: Sample): boolean {
    if (this.#options.accept !== undefined) return !this.#options.accept(sample);
    return sample.status !== 200 || (this.#options.expectedBodies !== undefined && !this.#options.expectedBodies.includes(sample.body));
  }

  /** The samples sent from `from` (a `performance.now()` time) on, or all of them. */
  report(from = 0, to = Infinity): LoadReport {
    const samples = this.samples.filter((s) => s.start >= from && s.start < to).sort((a, b) => a.start - b.start);
    const latencies = samples.map((s) => s.end - s.start).sort((a, b) => a - b);
    const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
    const outcomes: Record<string, number> = {};
    for (const sample of samples) {
      const key = outcomeOf(sample);
      outcomes[key] = (outcomes[key] ?? 0) + 1;
    }
    const failed = samples.filter((s) => this.isFailure(s));
    const durationMs = samples.length === 0 ? 0 : samples.reduce((last, s) => Math.max(last, s.end), 0) - (samples[0]?.start ?? 0);
    const report: Omit<LoadReport, 'summary'> = {
      requests: samples.length,
      failures: failed.length,
      p50Ms: at(0.5),
      p99Ms: at(0.99),
      maxMs: latencies.at(-1) ?? NaN,
      durationMs,
      outcomes,
      firstFailures: failed.slice(0, FIRST_FAILURES),
    };
    return { ...report, summary: summarize(report) };
  }

  /** The report's summary, then its first failures one per line, with times from the load's start. */
  describe(report: LoadReport = this.report()): string {
    const lines = [report.summary];
    for (const f of report.firstFailures) {
      lines.push(`  failed at +${(f.start - this.#startedAt).toFixed(0)}ms after ${(f.end - f.start).toFixed(0)}ms: ${outcomeOf(f)}${f.status !== 0 ? ` ${JSON.stringify(f.body)}` : ` (${f.errorDetail ?? ''})`}`);
    }
    return lines.join('\n');
  }

  async #loop(): Promise<void> {
    const { host, path, requestTimeoutMs, recordHeaders, pauseMs } = this.#options;
    const headers = { host };
    while (!this.#stopping && performance.now() < this.#deadline) {
      const start = performance.now();
      let head: number | undefined;
      try {
        const response = await this.#pool.request({ path, method: 'GET', headers, signal: AbortSignal.timeout(requestTimeoutMs) });
        head = response.statusCode;
        const body = (await response.body.text()).slice(0, 200);
        const sample: Sample = { start, end: performance.now(), status: response.statusCode, body };
        const berthError = response.headers['x-berth-error'];
        if (typeof berthError === 'string') sample.berthError = berthError;
        const retryAfter = response.headers['retry-after'];
        if (typeof retryAfter === 'string') sample.retryAfter = retryAfter;
        if (recordHeaders !== undefined) {
          sample.headers = {};
          for (const name of recordHeaders) {
            const value = response.headers[name];
            if (typeof value === 'string') sample.headers[name] = value;
          }
        }
        this.samples.push(sample);
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        const message = (error as Error).message;
        this.samples.push({
          start,
          end: performance.now(),
          status: 0,
          body: '',
          error: typeof code === 'string' ? code : message,
          errorDetail: head === undefined ? `${message}, before the response head` : `${message}, while reading the body of a ${head}`,
        });
        // A refused or cut connection fails at once: do not spin on it.
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      if (pauseMs > 0 && !this.#stopping) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }
}

/** Starts `options.concurrency` request loops against `options.host` through the router. */
export function startLoad(target: LoadTarget, options: LoadOptions): LoadGenerator {
  return new LoadGenerator(target, options).start();
}

function outcomeOf(sample: Sample): string {
  if (sample.status === 0) return `error ${sample.error ?? 'unknown'}`;
  if (sample.status === 200) return sample.body.trim();
  return `HTTP ${sample.status}${sample.berthError === undefined ? '' : ` ${sample.berthError}`}`;
}

function summarize(report: Omit<LoadReport, 'summary'>): string {
  const outcomes = Object.entries(report.outcomes).map(([outcome, n]) => `${JSON.stringify(outcome)}=${n}`).join(' ');
  const rate = report.durationMs > 0 ? report.requests / (report.durationMs / 1000) : 0;
  return `requests=${report.requests} failures=${report.failures} p50=${report.p50Ms.toFixed(1)}ms p99=${report.p99Ms.toFixed(1)}ms max=${report.maxMs.toFixed(0)}ms rate=${rate.toFixed(0)}/s outcomes: ${outcomes}`;
}

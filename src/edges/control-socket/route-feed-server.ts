/**
 * @module
 * The control socket, the control plane's side of what routers ask (see src/core/routes.ts):
 *
 * - `GET /v1/routes?wait=N` with `If-None-Match: "<tag>"` answers at once with a newer table, or
 *   holds the request until one is published or N seconds pass (then 304). Until the first table
 *   is published (a restarted control plane still probing what runs) requests are held, so
 *   routers keep theirs.
 * - `POST /v1/reports` with a JSON `RouterReport` (what a router has in flight per instance, and
 *   each service's load for the autoscaler) answers 204 and hands the report to `onReport`; a body that is not one gets 400 with the
 *   reason, one too large 413, another method 405.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { showValue } from '../../core/errors.ts';
import { routeTableTag, type RouteTable, type RouterReport, type ServiceLoad } from '../../core/routes.ts';

export class RouteFeed {
  #current: { table: RouteTable; tag: string; body: string } | undefined;
  readonly #waiters = new Set<() => void>();

  publish(table: RouteTable): void {
    const tag = routeTableTag(table);
    if (this.#current?.tag === tag) return;
    this.#current = { table, tag, body: JSON.stringify(table) };
    for (const wake of [...this.#waiters]) wake();
  }

  get current(): RouteTable | undefined {
    return this.#current?.table;
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://control');
    if (req.method !== 'GET' || url.pathname !== '/v1/routes') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const waitSeconds = Math.min(Math.max(Number(url.searchParams.get('wait') ?? 0) || 0, 0), 60);
    const known = (req.headers['if-none-match'] ?? '').replaceAll('"', '');
    const answer = (): boolean => {
      if (this.#current === undefined) return false;
      if (this.#current.tag === known) return false;
      res.writeHead(200, { 'content-type': 'application/json', etag: `"${this.#current.tag}"` }).end(this.#current.body);
      return true;
    };
    if (answer()) return;
    const timer = setTimeout(() => {
      this.#waiters.delete(wake);
      if (this.#current !== undefined) res.writeHead(304, { etag: `"${this.#current.tag}"` }).end();
      else res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' }).end('no route table yet\n');
    }, waitSeconds * 1000);
    const wake = (): void => {
      if (answer()) {
        clearTimeout(timer);
        this.#waiters.delete(wake);
      }
    };
    this.#waiters.add(wake);
    res.once('close', () => {
      clearTimeout(timer);
      this.#waiters.delete(wake);
    });
  }

  /** Releases held requests (at shutdown). */
  close(): void {
    for (const wake of [...this.#waiters]) wake();
  }
}

export interface ControlServerOptions {
  /** Called with each valid report a router sends; without it reports are accepted and dropped. */
  onReport?: (report: RouterReport) => void;
}

export function createControlServer(feed: RouteFeed, options: ControlServerOptions = {}): Server {
  const { onReport } = options;
  return createServer((req, res) => {
    if (req.url === REPORTS_PATH || req.url?.startsWith(`${REPORTS_PATH}?`) === true) {
      handleReport(req, res, onReport);
      return;
    }
    feed.handle(req, res);
  });
}

const REPORTS_PATH = '/v1/reports';
/**
 * A report lists instances, a few dozen bytes each, and services, about 150 bytes each: 4 MiB
 * holds the most of both a report may list.
 */
const MAX_REPORT_BYTES = 4 * 1024 * 1024;
const MAX_REPORT_INSTANCES = 10_000;
const MAX_REPORT_SERVICES = 10_000;
const SERVICE_LOAD_FIELDS = ['concurrency', 'queued', 'arrivals', 'rejected', 'intervalMs'] as const;
/** The figures of a ServiceLoad that count requests, so whole numbers. */
const SERVICE_LOAD_COUNTS: ReadonlySet<string> = new Set(['queued', 'arrivals', 'rejected']);
const MAX_ID_LENGTH = 100;

function handleReport(req: IncomingMessage, res: ServerResponse, onReport: ControlServerOptions['onReport']): void {
  if (req.method !== 'POST') {
    req.resume();
    answer(res, 405, `${REPORTS_PATH} accepts POST only, not ${req.method}`, ['allow', 'POST']);
    return;
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_REPORT_BYTES) {
    refuseTooLarge(req, res);
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  req.on('data', (chunk: Buffer) => {
    if (tooLarge) return;
    size += chunk.length;
    if (size > MAX_REPORT_BYTES) {
      tooLarge = true;
      chunks.length = 0;
      refuseTooLarge(req, res);
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (tooLarge) return;
    let report: RouterReport;
    try {
      report = parseRouterReport(Buffer.concat(chunks, size).toString('utf8'));
    } catch (err) {
      answer(res, 400, (err as Error).message);
      return;
    }
    try {
      onReport?.(report);
    } catch (err) {
      answer(res, 500, `the control plane could not take the report: ${(err as Error).message}`);
      return;
    }
    res.writeHead(204).end();
  });
  req.on('error', () => res.destroy());
}

/** 413 (RFC 9110 §15.5.14), then the connection is closed rather than the rest read. */
function refuseTooLarge(req: IncomingMessage, res: ServerResponse): void {
  res.once('finish', () => req.destroy());
  answer(res, 413, `a report may have at most ${MAX_REPORT_BYTES} bytes`, ['connection', 'close']);
}

function answer(res: ServerResponse, status: number, message: string, extra: string[] = []): void {
  // One line, whatever the message holds.
  const body = `${message.replace(/[\r\n]+/g, ' ')}\n`;
  res.writeHead(status, ['content-type', 'text/plain; charset=utf-8', 'content-length', String(Buffer.byteLength(body)), ...extra]).end(body);
}

/** Checks a report's JSON strictly: anything but exactly a RouterReport is refused, with the reason. */
export function parseRouterReport(text: string): RouterReport {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`a report must be JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!isRecord(value)) throw new Error(`a report must be a JSON object, got ${showValue(value)}`);
  for (const key of Object.keys(value)) {
    if (key !== 'routerId' && key !== 'tableTag' && key !== 'instances' && key !== 'services') {
      throw new Error(`a report has routerId, tableTag, instances and services only, not ${showValue(key)}`);
    }
  }
  const { routerId, tableTag, instances, services } = value;
  if (typeof routerId !== 'string' || routerId.length === 0 || routerId.length > MAX_ID_LENGTH) {
    throw new Error(`routerId must be a string of 1 to ${MAX_ID_LENGTH} characters, got ${showValue(routerId)}`);
  }
  if (typeof tableTag !== 'string' || tableTag.length > MAX_ID_LENGTH) {
    throw new Error(`tableTag must be a string of at most ${MAX_ID_LENGTH} characters, got ${showValue(tableTag)}`);
  }
  if (!isRecord(instances)) throw new Error(`instances must be an object of instance id to requests in flight, got ${showValue(instances)}`);
  const entries = Object.entries(instances);
  if (entries.length > MAX_REPORT_INSTANCES) {
    throw new Error(`instances may list at most ${MAX_REPORT_INSTANCES} instances, got ${entries.length}`);
  }
  for (const [instanceId, count] of entries) {
    if (instanceId.length === 0 || instanceId.length > MAX_ID_LENGTH) {
      throw new Error(`instance ids in instances must have 1 to ${MAX_ID_LENGTH} characters, got ${showValue(instanceId)}`);
    }
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
      throw new Error(`instances.${instanceId} must be a whole number of requests, 0 or more, got ${showValue(count)}`);
    }
  }
  const report: RouterReport = { routerId, tableTag, instances: Object.fromEntries(entries) as Record<string, number> };
  if (services !== undefined) report.services = parseServiceLoads(services);
  // Own data properties only: a '__proto__' id from JSON stays an id.
  return report;
}

function parseServiceLoads(services: unknown): Record<string, ServiceLoad> {
  if (!isRecord(services)) throw new Error(`services must be an object of service id to load, got ${showValue(services)}`);
  const entries = Object.entries(services);
  if (entries.length > MAX_REPORT_SERVICES) {
    throw new Error(`services may list at most ${MAX_REPORT_SERVICES} services, got ${entries.length}`);
  }
  const loads: Array<[string, ServiceLoad]> = [];
  for (const [serviceId, load] of entries) {
    if (serviceId.length === 0 || serviceId.length > MAX_ID_LENGTH) {
      throw new Error(`service ids in services must have 1 to ${MAX_ID_LENGTH} characters, got ${showValue(serviceId)}`);
    }
    const at = `services.${serviceId}`;
    if (!isRecord(load)) throw new Error(`${at} must be an object with ${SERVICE_LOAD_FIELDS.join(', ')}, got ${showValue(load)}`);
    for (const key of Object.keys(load)) {
      if (!(SERVICE_LOAD_FIELDS as readonly string[]).includes(key)) {
        throw new Error(`${at} has ${SERVICE_LOAD_FIELDS.join(', ')} only, not ${showValue(key)}`);
      }
    }
    for (const key of SERVICE_LOAD_FIELDS) {
      const figure = load[key];
      if (SERVICE_LOAD_COUNTS.has(key)) {
        if (typeof figure !== 'number' || !Number.isSafeInteger(figure) || figure < 0) {
          throw new Error(`${at}.${key} must be a whole number of requests, 0 or more, got ${showValue(figure)}`);
        }
      } else if (typeof figure !== 'number' || !Number.isFinite(figure) || figure < 0) {
        throw new Error(`${at}.${key} must be a finite number, 0 or more, got ${showValue(figure)}`);
      }
    }
    const { concurrency, queued, arrivals, rejected, intervalMs } = load as unknown as ServiceLoad;
    loads.push([serviceId, { concurrency, queued, arrivals, rejected, intervalMs }]);
  }
  return Object.fromEntries(loads);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}


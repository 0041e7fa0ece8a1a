/**
 * @module
 * The router's configuration: parsed and checked once at start, then frozen. Errors name the
 * field, show the bad value and say what is allowed.
 */

import { showValue } from '../../core/errors.ts';

export interface RouterConfig {
  /** Address both listeners bind to. */
  readonly listenHost: string;
  /** Plain HTTP port; it only redirects to HTTPS. 0 picks a free port. */
  readonly httpPort: number;
  /** HTTPS port serving the services. 0 picks a free port. */
  readonly httpsPort: number;
  /**
   * Total time a request may take, from arrival to the last response byte (App Runner: 120 s),
   * for routes that do not set their own.
   */
  readonly requestTimeoutMs: number;
  /**
   * Longest a request or stream may go with no bytes either way (request body or response), for
   * routes that do not set their own. Only matters when shorter than the request timeout.
   */
  readonly idleTimeoutMs: number;
  /**
   * Requests that may wait for an instance with room, per routed host, beyond which a request
   * gets 503 NoCapacity at once. 0 queues nothing: a request that finds every instance at its
   * cap, or a held route without instances, is refused at once.
   */
  readonly queueLimit: number;
  /** Longest a request waits for an instance with room before 503 NoCapacity (Cloud Run: 10 s). */
  readonly queueTimeoutMs: number;
  /** The control plane's Unix socket, where the route table is followed. */
  readonly controlSocketPath: string;
  /** Where the last route table is kept, so a router started while the control plane is down serves. */
  readonly routesCacheFile: string;
  /** The local certificate authority's directory (`ca.crt`, `ca.key`). */
  readonly caDir: string;
  /** Services answer at `<label>.<domain>`: any such name gets a certificate, routed or not. */
  readonly domain: string;
}

export const ROUTER_DEFAULTS = Object.freeze({
  listenHost: '0.0.0.0',
  httpPort: 8080,
  httpsPort: 8443,
  requestTimeoutMs: 120_000,
  idleTimeoutMs: 120_000,
  queueLimit: 1000,
  queueTimeoutMs: 10_000,
  domain: 'localhost',
});

const FIELDS: ReadonlySet<string> = new Set([
  'listenHost', 'httpPort', 'httpsPort', 'requestTimeoutMs', 'idleTimeoutMs', 'queueLimit', 'queueTimeoutMs', 'controlSocketPath', 'routesCacheFile', 'caDir', 'domain',
]);

/** Checks `input` (parsed JSON, say) and returns a frozen configuration with defaults filled in. */
export function parseRouterConfig(input: unknown): RouterConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new RouterConfigError(`the router configuration must be a JSON object, got ${showValue(input)}`);
  }
  const raw = input as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!FIELDS.has(key)) {
      throw new RouterConfigError(`unknown router setting ${showValue(key)}; allowed: ${[...FIELDS].join(', ')}`);
    }
  }
  return Object.freeze({
    listenHost: text(raw, 'listenHost', ROUTER_DEFAULTS.listenHost),
    httpPort: port(raw, 'httpPort', ROUTER_DEFAULTS.httpPort),
    httpsPort: port(raw, 'httpsPort', ROUTER_DEFAULTS.httpsPort),
    requestTimeoutMs: timeout(raw, 'requestTimeoutMs', ROUTER_DEFAULTS.requestTimeoutMs),
    idleTimeoutMs: timeout(raw, 'idleTimeoutMs', ROUTER_DEFAULTS.idleTimeoutMs),
    queueLimit: count(raw, 'queueLimit', ROUTER_DEFAULTS.queueLimit, MAX_QUEUE_LIMIT),
    queueTimeoutMs: timeout(raw, 'queueTimeoutMs', ROUTER_DEFAULTS.queueTimeoutMs),
    controlSocketPath: text(raw, 'controlSocketPath'),
    routesCacheFile: text(raw, 'routesCacheFile'),
    caDir: text(raw, 'caDir'),
    domain: text(raw, 'domain', ROUTER_DEFAULTS.domain).toLowerCase(),
  });
}

export class RouterConfigError extends Error {
  override readonly name = 'RouterConfigError';
}

function text(raw: Record<string, unknown>, key: string, fallback?: string): string {
  const value = raw[key] ?? fallback;
  if (value === undefined) throw new RouterConfigError(`the router setting ${key} is required (a non-empty string)`);
  if (typeof value !== 'string' || value.length === 0) {
    throw new RouterConfigError(`the router setting ${key} must be a non-empty string, got ${showValue(value)}`);
  }
  return value;
}

function port(raw: Record<string, unknown>, key: string, fallback: number): number {
  const value = raw[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) {
    throw new RouterConfigError(`the router setting ${key} must be a port number from 0 to 65535, got ${showValue(value)}`);
  }
  return value;
}

/** Ten times Knative activator's queue depth: more waiting requests only wait longer to fail. */
const MAX_QUEUE_LIMIT = 100_000;

function count(raw: Record<string, unknown>, key: string, fallback: number, max: number): number {
  const value = raw[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new RouterConfigError(`the router setting ${key} must be a whole number from 0 to ${max}, got ${showValue(value)}`);
  }
  return value;
}

function timeout(raw: Record<string, unknown>, key: string, fallback: number): number {
  const value = raw[key] ?? fallback;
  // setTimeout's limit: larger delays fire at once.
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 2_147_483_647) {
    throw new RouterConfigError(`the router setting ${key} must be a whole number of milliseconds from 1 to 2147483647, got ${showValue(value)}`);
  }
  return value;
}

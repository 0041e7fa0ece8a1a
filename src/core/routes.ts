/**
 * @module
 * The route table: what the control plane tells the router. The router needs nothing else to
 * serve, so it keeps serving on the last table it received while the control plane is away.
 */

export interface RouteTarget {
  /** Berth's instance id. */
  instanceId: string;
  /** `host:port` reachable from the router's machine. */
  address: string;
}

export interface Route {
  /** The host name the service answers on (its ServiceUrl), lower case, no port. */
  host: string;
  serviceId: string;
  serviceName: string;
  /** Healthy instances to balance across; empty means the service cannot answer now (503). */
  targets: RouteTarget[];
  /**
   * From a request's arrival to its last response byte, for this service (Berth's per-service
   * request timeout, up to 60 minutes); the router's own default when absent.
   */
  requestTimeoutMs?: number;
  /**
   * Longest a request or a long-lived stream may go with no bytes either way before the router
   * ends it; the router's default (its request timeout) when absent.
   */
  idleTimeoutMs?: number;
  /** Set while the service is paused (or resuming): the router says so instead of serving. */
  paused?: boolean;
  /**
   * The most requests one instance is sent at once (the service's MaxConcurrency, a hard cap);
   * requests beyond the room of all instances wait in the router's queue for the service.
   * Unlimited when absent.
   */
  maxConcurrency?: number;
  /**
   * Set while the service is scaled to zero or has instances starting: a request that finds no
   * instance waits in the queue (up to the router's queue timeout) instead of getting 503 at
   * once, and the router reports the demand at once, so the first request starts an instance.
   */
  hold?: boolean;
}

export interface RouteTable {
  routes: Route[];
}

/**
 * What a router tells the control plane (`POST /v1/reports` on the control socket), about once a
 * second and at once after it adopts a new table or a drained instance's last request ends. The
 * control plane stops an instance withdrawn from the routes only once every live router has
 * reported, from a table without it, that it has no request left on it.
 */
export interface RouterReport {
  /** Random, one per router process. */
  routerId: string;
  /** The tag of the route table the router serves on; '' before it has one. */
  tableTag: string;
  /**
   * Requests in flight per instance id, for every instance the router routes to or still has
   * requests on (withdrawn instances draining); an instance absent here has none.
   */
  instances: Record<string, number>;
  /** Each routed service's load since the router's previous report, by service id. */
  services?: Record<string, ServiceLoad>;
}

/** A service's load as one router saw it over one report interval. */
export interface ServiceLoad {
  /** Requests in flight or waiting for an instance, averaged over the interval (time-weighted). */
  concurrency: number;
  /** Requests waiting for an instance at the time of the report. */
  queued: number;
  /** Requests that arrived during the interval. */
  arrivals: number;
  /** Requests answered 503 during the interval because the queue was full or the wait too long. */
  rejected: number;
  /** The interval's length in milliseconds. */
  intervalMs: number;
}

/** A stable tag for a table, so watchers can ask "anything newer than this?". */
export function routeTableTag(table: RouteTable): string {
  const canonical = [...table.routes]
    .sort((a, b) => (a.host < b.host ? -1 : 1))
    .map((r) => `${r.host}=${r.serviceId}:${[...r.targets].map((t) => `${t.instanceId}@${t.address}`).sort().join(',')}|${r.requestTimeoutMs ?? ''}|${r.idleTimeoutMs ?? ''}|${r.paused === true ? 'p' : ''}|${r.maxConcurrency ?? ''}|${r.hold === true ? 'h' : ''}`)
    .join(';');
  // FNV-1a, 32 bits: enough to tell tables apart; not a security boundary.
  let hash = 0x811c9dc5;
  for (let i = 0; i < canonical.length; i++) {
    hash ^= canonical.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `${hash.toString(16).padStart(8, '0')}-${table.routes.length}`;
}

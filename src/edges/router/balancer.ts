/**
 * @module
 * Picks the instance that serves a request, and holds the requests no instance can take yet.
 *
 * Each routed host has a `Lane`: its instances, the queue of requests waiting for one, and the
 * load meter of its service. A request goes to the instance with the fewest requests outstanding
 * among those with room ("least outstanding requests", App Runner's and ALB's choice), ties going
 * round-robin. Room is the route's `maxConcurrency`, a hard cap: an instance never has more
 * requests from this router than that. The counts are exact and local (one process, raised with
 * `acquire` and lowered with `release`, exactly once each), so a full scan of a service's handful
 * of instances is both cheaper and better than power of two choices, which pays off when the
 * counts are stale or the instances too many to scan; round-robin ties keep equal instances
 * sharing the load.
 *
 * When no instance has room (all at their cap, or none yet while the route is held for a service
 * scaled to zero or starting), the request waits in the lane's bounded FIFO queue. It leaves the
 * queue with an instance as soon as one has room: on `release` of a request on an instance of the
 * lane, or when a table gives the lane instances or raises its cap. It leaves without one when it
 * gives up (`leave`: its client went away, or its wait is over) or the table takes its route away
 * (`Waiter.refuse`). While a lane's queue is not empty no instance of it has room, so a newcomer
 * never overtakes a waiting request. The first request to wait in a lane calls `onDemand` (at most
 * once a second per lane), so the router reports the demand at once: that is how a request to a
 * service scaled to zero starts an instance without waiting for the next report.
 *
 * A table update keeps the `Upstream` object (and so its count) of every instance it keeps, so
 * requests already running stay counted. An instance the update withdraws while requests run on
 * it is kept as draining: never picked again, still counted, and forgotten when its last request
 * ends (`onDrained` then tells the router, which closes its connections and reports to the
 * control plane, which stops the instance once no router has a request left on it). A draining
 * instance that a later table brings back is routable again with its count. An instance that
 * refused a connection is passed over for a moment while others can serve: without that, a dead
 * instance that fails fast would hold the lowest count and draw most of the traffic.
 */

import type { Route, RouteTable, ServiceLoad } from '../../core/routes.ts';
import { LoadMeter } from './load-meter.ts';

/** One instance as the balancer tracks it. */
export class Upstream {
  readonly instanceId: string;
  /** `host:port`. */
  readonly address: string;
  /** Requests acquired on it and not yet released. */
  inFlight = 0;
  /** The most requests it may be given (its route's `maxConcurrency`); Infinity when unlimited. */
  limit = Infinity;
  /** Clock time until which it is passed over after a failed connection; 0 when it is not. */
  unreachableUntil = 0;
  /** Withdrawn from the table with requests still running on it: counted, never picked. */
  draining = false;
  /** The lanes it serves in (one, unless several hosts route to it); none while draining. */
  lanes: Lane[] = [];

  constructor(instanceId: string, address: string) {
    this.instanceId = instanceId;
    this.address = address;
  }
}

/** Why a waiting request leaves the queue without an instance: its route changed under it. */
export type WaiterRefusal = 'UnknownHost' | 'ServicePaused' | 'NoHealthyInstance';

/**
 * A request waiting for an instance (the proxy's exchange). The queue is a list threaded through
 * the waiters themselves, so waiting allocates nothing and leaving it is O(1) wherever it stands.
 */
export interface Waiter {
  /** When it arrived (clock time): among lanes sharing a freed instance, the oldest waiter goes first. */
  readonly arrivedAt: number;
  /** It has an instance (counted): it must `release` it once, like one from `acquire`. */
  admit(upstream: Upstream): void;
  /** It left the queue because its route went, was paused, or lost its instances without `hold`. */
  refuse(code: WaiterRefusal): void;
  /** The lane whose queue it is in; null when in none. Links owned by the balancer. */
  queuedIn: Lane | null;
  queuePrev: Waiter | null;
  queueNext: Waiter | null;
}

/** One routed host. Read-only outside the balancer. */
export class Lane {
  readonly host: string;
  readonly serviceId: string;
  /** The host's route in the table in force. */
  route: Route;
  /** The service's load meter, shared by the lanes of the service. */
  readonly load: LoadMeter;
  upstreams: readonly Upstream[] = [];
  /** Where the next scan starts: advancing it each pick turns ties into round-robin. */
  next = 0;
  /** The route holds requests while it has no instance with room, instead of refusing them. */
  hold = false;
  paused = false;
  /** The oldest waiting request, and the newest. */
  head: Waiter | null = null;
  tail: Waiter | null = null;
  queued = 0;
  /** When the last `onDemand` call for it happened. */
  demandAt = -Infinity;

  constructor(route: Route, load: LoadMeter) {
    this.host = route.host;
    this.serviceId = route.serviceId;
    this.route = route;
    this.load = load;
  }
}

export interface BalancerOptions {
  /** How long an instance that refused a connection is passed over. Default 1 s. */
  unreachableMs?: number;
  /** Requests that may wait in one lane's queue. Default 1000. */
  queueLimit?: number;
  /**
   * Milliseconds clock; tests pass a fake. Default `performance.now`, which the request path also
   * stamps the load meters with.
   */
  now?: () => number;
  /** Called when the last request on a draining instance ends; it is forgotten by then. */
  onDrained?: (upstream: Upstream) => void;
  /** Called when a request starts waiting in a lane whose queue was empty, at most once a second per lane. */
  onDemand?: (lane: Lane) => void;
}

/** The least time between two `onDemand` calls for a lane: the reports' own period. */
const DEMAND_INTERVAL_MS = 1000;

export class Balancer {
  #byHost = new Map<string, Lane>();
  #byInstance = new Map<string, Upstream>();
  /** Withdrawn instances with requests still running, by the same key as `#byInstance`. */
  readonly #draining = new Map<string, Upstream>();
  /** The load meters of the routed services, by service id. */
  #loads = new Map<string, LoadMeter>();
  /** Meters of services no longer routed, reported until their last request ends. */
  readonly #retiredLoads = new Map<string, LoadMeter>();
  readonly #unreachableMs: number;
  readonly #queueLimit: number;
  readonly #now: () => number;
  readonly #onDrained: ((upstream: Upstream) => void) | undefined;
  readonly #onDemand: ((lane: Lane) => void) | undefined;

  constructor(options: BalancerOptions = {}) {
    this.#unreachableMs = options.unreachableMs ?? 1000;
    this.#queueLimit = options.queueLimit ?? 1000;
    this.#now = options.now ?? (() => performance.now());
    this.#onDrained = options.onDrained;
    this.#onDemand = options.onDemand;
  }

  /**
   * Adopts `table`, keeping the state of the instances it keeps (or brings back from draining)
   * and the lanes (queues) of the hosts it keeps; withdrawn instances with requests running start
   * draining, the others are dropped. Then waiting requests go to instances with room, or are
   * refused if their route went, was paused, or has no instance left and does not hold.
   */
  sync(table: RouteTable): void {
    const previous = this.#byHost;
    const byHost = new Map<string, Lane>();
    const byInstance = new Map<string, Upstream>();
    const loads = new Map<string, LoadMeter>();
    for (const route of table.routes) {
      let load = loads.get(route.serviceId) ?? this.#loads.get(route.serviceId) ?? this.#retiredLoads.get(route.serviceId);
      if (load === undefined) load = new LoadMeter(this.#now());
      this.#retiredLoads.delete(route.serviceId);
      loads.set(route.serviceId, load);
      const kept = previous.get(route.host);
      // A host that now routes to another service starts a new lane: its waiters were counted
      // in the other service's load.
      const lane = kept !== undefined && kept.serviceId === route.serviceId ? kept : new Lane(route, load);
      const limit = route.maxConcurrency ?? Infinity;
      const upstreams = route.targets.map(({ instanceId, address }) => {
        const key = upstreamKey(instanceId, address);
        let upstream = byInstance.get(key);
        if (upstream !== undefined) {
          // Several hosts route to it: the strictest cap holds.
          upstream.limit = Math.min(upstream.limit, limit);
          if (!upstream.lanes.includes(lane)) upstream.lanes.push(lane);
          return upstream;
        }
        upstream = this.#byInstance.get(key);
        if (upstream === undefined) {
          upstream = this.#draining.get(key);
          if (upstream === undefined) {
            upstream = new Upstream(instanceId, address);
          } else {
            this.#draining.delete(key);
            upstream.draining = false;
          }
        }
        upstream.limit = limit;
        upstream.lanes = [lane];
        byInstance.set(key, upstream);
        return upstream;
      });
      lane.route = route;
      lane.upstreams = upstreams;
      lane.next = upstreams.length === 0 ? 0 : lane.next % upstreams.length;
      lane.hold = route.hold === true;
      lane.paused = route.paused === true;
      byHost.set(route.host, lane);
    }
    for (const [key, upstream] of this.#byInstance) {
      if (byInstance.has(key)) continue;
      upstream.lanes = [];
      if (upstream.inFlight > 0) {
        upstream.draining = true;
        this.#draining.set(key, upstream);
      }
    }
    for (const [serviceId, load] of this.#loads) {
      // Its requests still running (on draining instances) count until they end.
      if (!loads.has(serviceId) && (load.level > 0 || load.arrivals > 0)) this.#retiredLoads.set(serviceId, load);
    }
    this.#byHost = byHost;
    this.#byInstance = byInstance;
    this.#loads = loads;

    for (const [host, lane] of previous) {
      if (lane.head !== null && byHost.get(host) !== lane) this.#refuseAll(lane, byHost.has(host) ? 'NoHealthyInstance' : 'UnknownHost');
    }
    for (const lane of byHost.values()) {
      if (lane.head === null) continue;
      if (lane.paused) this.#refuseAll(lane, 'ServicePaused');
      else if (lane.upstreams.length === 0 && !lane.hold) this.#refuseAll(lane, 'NoHealthyInstance');
      else this.#pump(lane);
    }
  }

  /** The lane of a host (see `hostKey`), with its route; undefined when it is not routed. */
  lane(host: string): Lane | undefined {
    return this.#byHost.get(host);
  }

  /**
   * Picks an instance with room in `lane` and counts a request on it; `avoid` (one that just
   * failed) is never picked. Returns undefined when no other instance has room. The caller must
   * call `release` exactly once for each upstream returned.
   */
  acquire(lane: Lane, avoid?: Upstream): Upstream | undefined {
    const { upstreams } = lane;
    const count = upstreams.length;
    const start = lane.next;
    lane.next = start + 1 >= count ? 0 : start + 1;

    let best: Upstream | undefined;
    let bestReachable = false;
    let now = 0;
    for (let i = 0, index = start; i < count; i++, index = index + 1 === count ? 0 : index + 1) {
      const upstream = upstreams[index]!;
      if (upstream === avoid || upstream.inFlight >= upstream.limit) continue;
      let reachable = true;
      if (upstream.unreachableUntil !== 0) {
        if (now === 0) now = this.#now();
        reachable = upstream.unreachableUntil <= now;
      }
      if (best === undefined || (reachable && !bestReachable) || (reachable === bestReachable && upstream.inFlight < best.inFlight)) {
        best = upstream;
        bestReachable = reachable;
      }
    }
    if (best !== undefined) best.inFlight++;
    return best;
  }

  /**
   * Moves a request whose connection to `failed` broke to another instance with room in `lane`,
   * counting it there and releasing `failed`; when there is none and `mayReuse`, keeps it on
   * `failed` if that is still routed (its count unchanged, so never over the cap). Returns the
   * instance to send it to, or undefined (nothing changed) when there is none.
   */
  retry(lane: Lane, failed: Upstream, mayReuse: boolean): Upstream | undefined {
    const next = this.acquire(lane, failed);
    if (next !== undefined) {
      this.release(failed);
      return next;
    }
    return mayReuse && !failed.draining && lane.upstreams.includes(failed) ? failed : undefined;
  }

  /** Ends the count of a request that `acquire` (or an admission) started; a waiting request may take its place. */
  release(upstream: Upstream): void {
    upstream.inFlight--;
    if (upstream.draining) {
      if (upstream.inFlight === 0) {
        upstream.draining = false;
        this.#draining.delete(upstreamKey(upstream.instanceId, upstream.address));
        this.#onDrained?.(upstream);
      }
      return;
    }
    const { lanes } = upstream;
    if (lanes.length === 1) {
      const lane = lanes[0]!;
      if (lane.head !== null) this.#pump(lane);
      return;
    }
    // Shared by several hosts: the one whose first request has waited longest.
    let oldest: Lane | undefined;
    for (const lane of lanes) {
      if (lane.head !== null && (oldest === undefined || lane.head.arrivedAt < oldest.head!.arrivedAt)) oldest = lane;
    }
    if (oldest !== undefined) this.#pump(oldest);
  }

  /**
   * Puts `waiter` at the end of `lane`'s queue, for an instance with room; false (and nothing
   * done) when the queue already has `queueLimit` requests.
   */
  enqueue(lane: Lane, waiter: Waiter): boolean {
    if (lane.queued >= this.#queueLimit) return false;
    waiter.queuedIn = lane;
    waiter.queuePrev = lane.tail;
    waiter.queueNext = null;
    if (lane.tail === null) lane.head = waiter;
    else lane.tail.queueNext = waiter;
    lane.tail = waiter;
    lane.queued++;
    lane.load.queued++;
    if (lane.queued === 1 && this.#onDemand !== undefined) {
      const now = this.#now();
      if (now - lane.demandAt >= DEMAND_INTERVAL_MS) {
        lane.demandAt = now;
        this.#onDemand(lane);
      }
    }
    return true;
  }

  /** Takes `waiter` out of its queue (it gave up); nothing when it is in none. */
  leave(waiter: Waiter): void {
    const lane = waiter.queuedIn;
    if (lane === null) return;
    if (waiter.queuePrev === null) lane.head = waiter.queueNext;
    else waiter.queuePrev.queueNext = waiter.queueNext;
    if (waiter.queueNext === null) lane.tail = waiter.queuePrev;
    else waiter.queueNext.queuePrev = waiter.queuePrev;
    waiter.queuedIn = null;
    waiter.queuePrev = null;
    waiter.queueNext = null;
    lane.queued--;
    lane.load.queued--;
  }

  /** Passes `upstream` over for a while: it refused a connection. */
  markUnreachable(upstream: Upstream): void {
    upstream.unreachableUntil = this.#now() + this.#unreachableMs;
  }

  /** Requests in flight per instance id, for every instance in the table and every draining one. */
  inFlight(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const upstreams of [this.#byInstance.values(), this.#draining.values()]) {
      for (const upstream of upstreams) {
        counts.set(upstream.instanceId, (counts.get(upstream.instanceId) ?? 0) + upstream.inFlight);
      }
    }
    return counts;
  }

  /**
   * Each service's load since the previous call, by service id: every routed service, and those
   * no longer routed while requests of theirs still run. A new interval begins.
   */
  takeLoads(): Record<string, ServiceLoad> {
    const now = this.#now();
    const entries: Array<[string, ServiceLoad]> = [];
    for (const [serviceId, load] of this.#loads) entries.push([serviceId, load.take(now)]);
    for (const [serviceId, load] of this.#retiredLoads) {
      entries.push([serviceId, load.take(now)]);
      if (load.level === 0) this.#retiredLoads.delete(serviceId);
    }
    // Own data properties: a service id such as '__proto__' stays a key.
    return Object.fromEntries(entries);
  }

  /** The addresses of the instances in the table and of the draining ones: those whose connections are still needed. */
  addresses(): Set<string> {
    const addresses = new Set<string>();
    for (const upstream of this.#byInstance.values()) addresses.add(upstream.address);
    for (const upstream of this.#draining.values()) addresses.add(upstream.address);
    return addresses;
  }

  /** Gives waiting requests of `lane` instances with room, oldest first, while there are any. */
  #pump(lane: Lane): void {
    // An admission may end at once (a connection that fails synchronously) and release, which
    // pumps again: each turn reads the queue afresh.
    while (lane.head !== null) {
      const upstream = this.acquire(lane);
      if (upstream === undefined) return;
      const waiter = lane.head;
      this.leave(waiter);
      waiter.admit(upstream);
    }
  }

  #refuseAll(lane: Lane, code: WaiterRefusal): void {
    while (lane.head !== null) {
      const waiter = lane.head;
      this.leave(waiter);
      waiter.refuse(code);
    }
  }
}

function upstreamKey(instanceId: string, address: string): string {
  return `${instanceId} ${address}`;
}

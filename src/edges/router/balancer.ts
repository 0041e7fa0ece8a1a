/**
 * @module
 * Picks the instance that serves a request: the one with the fewest requests outstanding
 * ("least outstanding requests", App Runner's and ALB's choice), ties going round-robin. It
 * keeps one count per instance, which the request path raises with `acquire` and lowers with
 * `release`, exactly once each; the autoscaler reads the counts through `inFlight`.
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

import type { RouteTable } from '../../core/routes.ts';

/** One instance as the balancer tracks it. */
export class Upstream {
  readonly instanceId: string;
  /** `host:port`. */
  readonly address: string;
  /** Requests acquired on it and not yet released. */
  inFlight = 0;
  /** Clock time until which it is passed over after a failed connection; 0 when it is not. */
  unreachableUntil = 0;
  /** Withdrawn from the table with requests still running on it: counted, never picked. */
  draining = false;

  constructor(instanceId: string, address: string) {
    this.instanceId = instanceId;
    this.address = address;
  }
}

interface UpstreamSet {
  readonly upstreams: readonly Upstream[];
  /** Where the next scan starts: advancing it each pick turns ties into round-robin. */
  next: number;
}

export interface BalancerOptions {
  /** How long an instance that refused a connection is passed over. Default 1 s. */
  unreachableMs?: number;
  /** Milliseconds clock; tests pass a fake. Default `Date.now`. */
  now?: () => number;
  /** Called when the last request on a draining instance ends; it is forgotten by then. */
  onDrained?: (upstream: Upstream) => void;
}

export class Balancer {
  #byHost = new Map<string, UpstreamSet>();
  #byInstance = new Map<string, Upstream>();
  /** Withdrawn instances with requests still running, by the same key as `#byInstance`. */
  readonly #draining = new Map<string, Upstream>();
  readonly #unreachableMs: number;
  readonly #now: () => number;
  readonly #onDrained: ((upstream: Upstream) => void) | undefined;

  constructor(options: BalancerOptions = {}) {
    this.#unreachableMs = options.unreachableMs ?? 1000;
    this.#now = options.now ?? Date.now;
    this.#onDrained = options.onDrained;
  }

  /**
   * Adopts the targets of `table`, keeping the state of instances it keeps (or brings back from
   * draining); withdrawn instances with requests running start draining, the others are dropped.
   */
  sync(table: RouteTable): void {
    const byHost = new Map<string, UpstreamSet>();
    const byInstance = new Map<string, Upstream>();
    for (const route of table.routes) {
      const upstreams = route.targets.map(({ instanceId, address }) => {
        const key = upstreamKey(instanceId, address);
        let upstream = byInstance.get(key) ?? this.#byInstance.get(key);
        if (upstream === undefined) {
          upstream = this.#draining.get(key);
          if (upstream === undefined) {
            upstream = new Upstream(instanceId, address);
          } else {
            this.#draining.delete(key);
            upstream.draining = false;
          }
        }
        byInstance.set(key, upstream);
        return upstream;
      });
      const next = this.#byHost.get(route.host)?.next ?? 0;
      byHost.set(route.host, { upstreams, next: upstreams.length === 0 ? 0 : next % upstreams.length });
    }
    for (const [key, upstream] of this.#byInstance) {
      if (upstream.inFlight > 0 && !byInstance.has(key)) {
        upstream.draining = true;
        this.#draining.set(key, upstream);
      }
    }
    this.#byHost = byHost;
    this.#byInstance = byInstance;
  }

  /**
   * Picks an instance for `host` and counts a request on it; `avoid` (one that just failed) is
   * never picked. Returns undefined when the host has no other instance. The caller must call
   * `release` exactly once for each upstream returned.
   */
  acquire(host: string, avoid?: Upstream): Upstream | undefined {
    const set = this.#byHost.get(host);
    if (set === undefined) return undefined;
    const { upstreams } = set;
    const count = upstreams.length;
    const start = set.next;
    set.next = start + 1 >= count ? 0 : start + 1;

    let best: Upstream | undefined;
    let bestReachable = false;
    let now = 0;
    for (let i = 0, index = start; i < count; i++, index = index + 1 === count ? 0 : index + 1) {
      const upstream = upstreams[index]!;
      if (upstream === avoid) continue;
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

  /** Ends the count of a request that `acquire` started. */
  release(upstream: Upstream): void {
    upstream.inFlight--;
    if (upstream.draining && upstream.inFlight === 0) {
      upstream.draining = false;
      this.#draining.delete(upstreamKey(upstream.instanceId, upstream.address));
      this.#onDrained?.(upstream);
    }
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

  /** The addresses of the instances in the table and of the draining ones: those whose connections are still needed. */
  addresses(): Set<string> {
    const addresses = new Set<string>();
    for (const upstream of this.#byInstance.values()) addresses.add(upstream.address);
    for (const upstream of this.#draining.values()) addresses.add(upstream.address);
    return addresses;
  }
}

function upstreamKey(instanceId: string, address: string): string {
  return `${instanceId} ${address}`;
}

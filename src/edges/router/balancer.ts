/**
 * @module
 * Picks the instance that serves a request: the one with the fewest requests outstanding
 * ("least outstanding requests", App Runner's and ALB's choice), ties going round-robin. It
 * keeps one count per instance, which the request path raises with `acquire` and lowers with
 * `release`, exactly once each; the autoscaler reads the counts through `inFlight`.
 *
 * A table update keeps the `Upstream` object (and so its count) of every instance it keeps, so
 * requests already running stay counted. An instance that refused a connection is passed over
 * for a moment while others can serve: without that, a dead instance that fails fast would hold
 * the lowest count and draw most of the traffic.
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
}

export class Balancer {
  #byHost = new Map<string, UpstreamSet>();
  #byInstance = new Map<string, Upstream>();
  readonly #unreachableMs: number;
  readonly #now: () => number;

  constructor(options: BalancerOptions = {}) {
    this.#unreachableMs = options.unreachableMs ?? 1000;
    this.#now = options.now ?? Date.now;
  }

  /** Adopts the targets of `table`, keeping the state of instances it keeps. */
  sync(table: RouteTable): void {
    const byHost = new Map<string, UpstreamSet>();
    const byInstance = new Map<string, Upstream>();
    for (const route of table.routes) {
      const upstreams = route.targets.map(({ instanceId, address }) => {
        const key = `${instanceId} ${address}`;
        const upstream = byInstance.get(key) ?? this.#byInstance.get(key) ?? new Upstream(instanceId, address);
        byInstance.set(key, upstream);
        return upstream;
      });
      const next = this.#byHost.get(route.host)?.next ?? 0;
      byHost.set(route.host, { upstreams, next: upstreams.length === 0 ? 0 : next % upstreams.length });
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
  }

  /** Passes `upstream` over for a while: it refused a connection. */
  markUnreachable(upstream: Upstream): void {
    upstream.unreachableUntil = this.#now() + this.#unreachableMs;
  }

  /** Requests in flight per instance id, for every instance in the table. */
  inFlight(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const upstream of this.#byInstance.values()) {
      counts.set(upstream.instanceId, (counts.get(upstream.instanceId) ?? 0) + upstream.inFlight);
    }
    return counts;
  }
}

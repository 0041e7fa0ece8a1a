/**
 * @module
 * One service's load as this router sees it, for the control plane's autoscaler (`ServiceLoad`
 * in src/core/routes.ts, sent in every report). The level (requests in flight or waiting for an
 * instance) changes only when a request arrives or ends, so its time-weighted average is exact
 * with one multiplication per change: the area under the level since the interval began,
 * divided by the interval's length when it is taken.
 */

import type { ServiceLoad } from '../../core/routes.ts';

export class LoadMeter {
  /** Requests of the service in flight or waiting for an instance now. */
  level = 0;
  /** Requests waiting for an instance now (kept by the balancer's queues). */
  queued = 0;
  /** Requests that arrived since the interval began. */
  arrivals = 0;
  /** Requests answered 503 NoCapacity since the interval began. */
  rejected = 0;
  /** Level × milliseconds since the interval began, up to `#changedAt`. */
  #area = 0;
  #changedAt: number;
  #intervalStart: number;

  /** `now`: performance.now() time, as for every method here. */
  constructor(now: number) {
    this.#changedAt = now;
    this.#intervalStart = now;
  }

  /** A request arrived: counted until `depart`. */
  arrive(now: number): void {
    this.#area += this.level * (now - this.#changedAt);
    this.#changedAt = now;
    this.level++;
    this.arrivals++;
  }

  /** A request that `arrive` counted has ended, however. */
  depart(now: number): void {
    this.#area += this.level * (now - this.#changedAt);
    this.#changedAt = now;
    this.level--;
  }

  /** The interval's figures; a new interval begins at `now`. */
  take(now: number): ServiceLoad {
    const area = this.#area + this.level * (now - this.#changedAt);
    const intervalMs = now - this.#intervalStart;
    const load: ServiceLoad = {
      // Two reports in the same instant: the level itself is the average over no time.
      concurrency: intervalMs > 0 ? area / intervalMs : this.level,
      queued: this.queued,
      arrivals: this.arrivals,
      rejected: this.rejected,
      intervalMs,
    };
    this.#area = 0;
    this.#changedAt = now;
    this.#intervalStart = now;
    this.arrivals = 0;
    this.rejected = 0;
    return load;
  }
}

/**
 * @module
 * What the control plane knows of the routers that serve its route tables, from the reports
 * each sends about once a second (src/core/routes.ts `RouterReport`): which table it serves on
 * and how many requests it has in flight on each instance. The reconciler asks it whether an
 * instance withdrawn from the routes has drained, that is, whether every router that is alive
 * has moved to a table without the instance and finished its last request there; only then is
 * the instance stopped, so no request a healthy instance took is cut.
 *
 * A router that has not reported for `liveForMs` is taken as gone (stopped, or restarted under
 * a new id). Just after the control plane starts it has heard from no router yet: the
 * reconciler waits `ROUTER_SETTLE_MS` before it drains instances it found running, since
 * routers may still serve them from the tables of the control plane that ran before.
 */
import type { Clock } from '../core/clock.ts';
import { routeTableTag, type RouteTable, type RouterReport } from '../core/routes.ts';

interface Heard {
  report: RouterReport;
  at: number;
}

export interface RouterFleetOptions {
  /** A router silent this long is taken as gone. Default 3 s (routers report every second). */
  liveForMs?: number;
}

/** By this long after the control plane starts, every live router has reported to it. */
export const ROUTER_SETTLE_MS = 2500;

/** Tables remembered with their generation; older ones are too old to matter. */
const TABLES_KEPT = 256;

export class RouterFleet {
  readonly #clock: Clock;
  readonly #liveForMs: number;
  readonly #heard = new Map<string, Heard>();
  /**
   * Tag → the generation it was last published in. Generations, not times: the reconciler may
   * publish several tables within one millisecond (the same table again, then one without an
   * instance), and a router still on the first must not count as having moved on.
   */
  readonly #published = new Map<string, number>();
  #generation = 0;

  constructor(clock: Clock, options: RouterFleetOptions = {}) {
    this.#clock = clock;
    this.#liveForMs = options.liveForMs ?? 3000;
  }

  /**
   * Notes a table the control plane publishes (call before the routers can see it) and returns
   * its generation, which counts publications up from 1.
   */
  published(table: RouteTable): number {
    const tag = routeTableTag(table);
    const generation = ++this.#generation;
    this.#published.delete(tag);
    this.#published.set(tag, generation);
    if (this.#published.size > TABLES_KEPT) this.#published.delete(this.#published.keys().next().value as string);
    return generation;
  }

  record(report: RouterReport): void {
    this.#heard.set(report.routerId, { report, at: this.#clock.now() });
  }

  /** The reports of routers heard from within `liveForMs`; forgets the others. */
  live(): RouterReport[] {
    const now = this.#clock.now();
    const reports: RouterReport[] = [];
    for (const [id, heard] of this.#heard) {
      if (now - heard.at > this.#liveForMs) this.#heard.delete(id);
      else reports.push(heard.report);
    }
    return reports;
  }

  /**
   * Whether an instance withdrawn from the routes in generation `since` (the first table
   * published without it) has drained: every live router serves on a table of that generation
   * or a later one and has no request left on it.
   */
  drained(instanceId: string, since: number): boolean {
    for (const report of this.live()) {
      const generation = this.#published.get(report.tableTag);
      if (generation === undefined || generation < since) return false;
      if ((report.instances[instanceId] ?? 0) > 0) return false;
    }
    return true;
  }

  /** Requests in flight per instance, summed over the live routers. */
  inFlight(): Map<string, number> {
    const totals = new Map<string, number>();
    for (const report of this.live()) {
      for (const [id, count] of Object.entries(report.instances)) totals.set(id, (totals.get(id) ?? 0) + count);
    }
    return totals;
  }
}

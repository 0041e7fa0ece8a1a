/**
 * @module
 * Request-driven autoscaling: how many instances each running service's serving revision
 * should have, from the load the routers report. The decision rules are Knative's KPA
 * (stable and panic windows, a utilisation target below the hard cap, panic that never scales
 * down, bounded rates), re-implemented here from its documented behaviour, plus scale to zero
 * after a per-service idle period and at least one instance as soon as a request waits.
 *
 * Three parts, each testable alone:
 * - `LoadWindow`: one service's reported concurrency in 1 s buckets, summed over routers, and
 *   when it last had any demand. Pure data; time is passed in.
 * - `decideScale`: the decision, a pure function of a window, the counts, the service's scaling
 *   configuration and the time.
 * - `Autoscaler`: the plumbing. It takes every router report (`observe`), decides every
 *   second and at once when a report shows a request waiting for a service at zero, and writes
 *   each change in one store transaction: `desiredInstances` on the service, a `scaled` event
 *   saying why, and the decision under `scalingDecisionKey` for DescribeService. The
 *   reconciler, woken by `onChange`, then runs that many instances.
 */
import {
  desiredInstancesOf,
  scalingDecisionKey,
  type ScalingDecisionRecord,
} from '../core/auto-scaling.ts';
import type { Clock } from '../core/clock.ts';
import { readInstanceSummary } from '../core/instance-summary.ts';
import { DEPLOYMENT_OPERATION_TYPES } from '../core/operation.ts';
import type { RouterReport, ServiceLoad } from '../core/routes.ts';
import { effectiveSettings, type ServiceSettings } from '../core/service-settings.ts';
import type { Store } from '../core/store.ts';

/** The averaging window that decides in calm times (Knative's default). */
export const STABLE_WINDOW_MS = 60_000;
/** The short window that detects a burst: 10 % of the stable window. */
export const PANIC_WINDOW_MS = 6_000;
/** Load is kept in buckets of this length. */
export const BUCKET_MS = 1_000;
/**
 * Instances are sized for 70 % of MaxConcurrency: MaxConcurrency is the router's hard cap per
 * instance, so aiming below it leaves room for a burst while new instances start.
 */
export const TARGET_UTILIZATION_PERCENT = 70;
/**
 * Panic when the panic window's load is this many times what the ready instances are sized for
 * (the ratio taken before rounding up to whole instances, as Knative does: rounded, any load
 * over the target of a single instance would panic).
 */
export const PANIC_THRESHOLD = 2;
/**
 * One decision raises the count to at most 10 x the instances ready (at least 1). Knative allows
 * 1000 x, unbounded in practice on a cluster; a Berth host pays for every start at once (image,
 * memory, CPU), so a wrong sample should not start MaxSize instances in one go. Ten-fold per
 * decision (one a second) still goes from 1 to 100 instances in two decisions.
 */
export const MAX_SCALE_UP_RATE = 10;
/** One decision lowers the count to no less than half the instances ready (rounded down). */
export const MAX_SCALE_DOWN_RATE = 2;
/** Time between decisions. Routers report every second; Knative decides every 2 s. */
export const DECISION_INTERVAL_MS = 1_000;
/**
 * A router reports the second before it reports, so windows end at the newest report rather
 * than at the decision; a service no report has named for longer than this (routers gone or
 * silent; RouterFleet's liveness) has its windows end at the decision: silence is no load.
 */
const REPORT_SILENCE_MS = 3_000;
/** A report's interval counts for at most this long (a router that paused for a while). */
const MAX_REPORT_INTERVAL_MS = 10_000;

/**
 * One service's load as the routers report it: concurrency x milliseconds per 1 s bucket
 * (each report's time-weighted average spread over the interval it covers, so reports of any
 * interval and from any number of routers add up to the total), and the newest demand.
 */
export class LoadWindow {
  /** Bucket index (epoch ms / BUCKET_MS) → concurrency x ms, summed over routers. */
  readonly #buckets = new Map<number, number>();
  /** The start of the oldest interval recorded: averages cover no time before it. */
  #firstAt: number | undefined;
  #latestAt: number | undefined;
  #lastDemandAt: number | undefined;

  /** Adds one router's report of the service, received at `at` (epoch ms). */
  record(load: ServiceLoad, at: number): void {
    const interval = Math.min(Math.max(finite(load.intervalMs), 0), MAX_REPORT_INTERVAL_MS);
    const concurrency = Math.max(finite(load.concurrency), 0);
    const start = at - interval;
    for (let t = start; t < at && concurrency > 0; ) {
      const index = Math.floor(t / BUCKET_MS);
      const end = Math.min(at, (index + 1) * BUCKET_MS);
      this.#buckets.set(index, (this.#buckets.get(index) ?? 0) + concurrency * (end - t));
      t = end;
    }
    this.#firstAt = Math.min(this.#firstAt ?? start, start);
    this.#latestAt = Math.max(this.#latestAt ?? at, at);
    if (concurrency > 0 || finite(load.queued) > 0 || finite(load.arrivals) > 0 || finite(load.rejected) > 0) {
      this.#lastDemandAt = Math.max(this.#lastDemandAt ?? at, at);
    }
    // Nothing older than the stable window is ever asked for.
    const oldest = Math.floor((at - STABLE_WINDOW_MS) / BUCKET_MS) - 1;
    for (const index of this.#buckets.keys()) if (index < oldest) this.#buckets.delete(index);
  }

  /** When a report last showed a request (in flight, waiting, arrived or refused); undefined if none has. */
  get lastDemandAt(): number | undefined {
    return this.#lastDemandAt;
  }

  /**
   * The average concurrency, all routers together, over the whole buckets of the `windowMs`
   * ending at the newest report (or at `now` once reports have stopped), or over the time since
   * the first report when that is shorter: a restarted control plane averages what it has.
   */
  average(now: number, windowMs: number): number {
    if (this.#latestAt === undefined || this.#firstAt === undefined) return 0;
    const end = now - this.#latestAt <= REPORT_SILENCE_MS ? this.#latestAt : now;
    const last = Math.ceil(end / BUCKET_MS) - 1;
    const first = last - Math.round(windowMs / BUCKET_MS) + 1;
    const from = Math.max(first * BUCKET_MS, this.#firstAt);
    if (end <= from) return 0;
    let total = 0;
    for (const [index, concurrencyMs] of this.#buckets) if (index >= first && index <= last) total += concurrencyMs;
    return total / (end - from);
  }
}

/** What a service's auto scaling configuration and settings say about its count. */
export interface ScalingPolicy {
  minSize: number;
  maxSize: number;
  maxConcurrency: number;
  /** With MinSize 0: this long without a request scales the service to zero. */
  scaleToZeroIdleMs: number;
}

/** What a decision remembers for the next one: panic mode. */
export interface PanicState {
  /** When the panic window last crossed the threshold; absent when not panicking. */
  since?: number;
  /** The count decided while panicking: panic never goes below it. */
  floor: number;
}

export const CALM: PanicState = Object.freeze({ floor: 0 });

export interface ScaleInput {
  /** Epoch ms. */
  now: number;
  /** The count in force (`desiredInstancesOf` the service). */
  current: number;
  /** Ready instances of the revision serving; `current` when unknown. */
  ready?: number | undefined;
  policy: ScalingPolicy;
  /** When the autoscaler started: it knows nothing of the load before. */
  startedAt: number;
  /** When the service's newest deployment (or resume) ended: its idle clock starts no earlier. */
  deployedAt?: number | undefined;
  state: PanicState;
}

/** A decision: the count wanted, with the inputs a ScalingDecisionRecord keeps of it. */
export interface ScaleDecision extends Omit<ScalingDecisionRecord, 'at' | 'from' | 'to'> {
  desired: number;
  /** For the next decision. */
  state: PanicState;
}

/**
 * The count a service should have now. In order:
 * 1. MinSize 0 and no request for the idle period: 0 (this overrides panic: the evidence is
 *    certain, and with the defaults, 90 s idle, panic has ended by then anyway).
 * 2. desired = ceil(average / target) for both windows, each kept within the rates (up to 10 x,
 *    down to 1/2 of the ready instances, at least 1). Panic starts, or goes on, when the panic
 *    window's load needs twice the ready instances; it ends a stable window after that last
 *    happened. Panicking takes the larger of the two and never goes down; calm takes the stable.
 *    On demand: when the newest second's load is over what the ready instances take at their
 *    hard cap (requests wait in the router), the count covers that second's load at the target
 *    at once, and panic starts.
 * 3. In the first stable window after a start, no decrease: the windows do not hold a full
 *    window of history yet, and would underestimate (Knative starts in panic for this).
 * 4. Within [MinSize, MaxSize], and at least 1 unless rule 1 applied: a service at zero with
 *    any demand gets an instance at once.
 */
export function decideScale(window: LoadWindow, input: ScaleInput): ScaleDecision {
  const { now, current, policy } = input;
  const ready = input.ready ?? current;
  const target = (policy.maxConcurrency * TARGET_UTILIZATION_PERCENT) / 100;
  const stable = window.average(now, STABLE_WINDOW_MS);
  const panic = window.average(now, PANIC_WINDOW_MS);
  const seen = { stable, panic, ready, target };

  if (policy.minSize === 0 && now - lastActiveAt(window, input) >= policy.scaleToZeroIdleMs) {
    return { ...seen, desired: 0, reason: 'scale-to-zero', panicking: false, state: CALM };
  }

  // Rates are relative to what is ready, at least 1 so that a service at zero can start.
  const base = Math.max(ready, 1);
  const maxUp = Math.ceil(MAX_SCALE_UP_RATE * base);
  const maxDown = Math.floor(base / MAX_SCALE_DOWN_RATE);
  const desiredStable = clamp(wholeInstances(stable / target), maxDown, maxUp);
  const desiredPanic = clamp(wholeInstances(panic / target), maxDown, maxUp);

  // On demand: in the newest second more requests were in flight or waiting than the ready
  // instances may take at their hard cap, so requests queue in the router now. The windows
  // would take seconds to see a burst (they still hold the idle seconds before it): size for
  // the newest second at once, and panic, so the count holds while the windows catch up.
  const latest = window.average(now, BUCKET_MS);
  const overCapacity = latest > base * policy.maxConcurrency;
  const desiredNow = overCapacity ? clamp(wholeInstances(latest / target), maxDown, maxUp) : 0;

  let since = input.state.since;
  if (overCapacity || panic / target / base >= PANIC_THRESHOLD) since = now;
  else if (since !== undefined && now - since >= STABLE_WINDOW_MS) since = undefined;
  let desired = since === undefined ? desiredStable : Math.max(desiredStable, desiredPanic, desiredNow, input.state.floor, current);
  if (now - input.startedAt < STABLE_WINDOW_MS) desired = Math.max(desired, current);
  desired = clamp(desired, Math.max(policy.minSize, 1), policy.maxSize);
  return {
    ...seen,
    desired,
    reason: current === 0 ? 'scale-from-zero' : 'load',
    panicking: since !== undefined,
    state: since === undefined ? CALM : { since, floor: desired },
  };
}

/**
 * The last moment the service was known to be busy: its newest demand, or the end of its newest
 * deployment if later. With no demand heard since the start, a service at zero has been idle all
 * along (nothing woke it), any other may have served just before the start, so its idle clock
 * starts with the start.
 */
function lastActiveAt(window: LoadWindow, input: ScaleInput): number {
  const heard = window.lastDemandAt ?? (input.current === 0 ? -Infinity : input.startedAt);
  return Math.max(heard, input.deployedAt ?? -Infinity);
}

/** ceil, forgiving the float error of sums (21 requests over a target of 7 is 3 instances, not 4). */
function wholeInstances(value: number): number {
  return Math.max(Math.ceil(value - 1e-9), 0);
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(Math.max(value, min), max);
}

function finite(value: number): number {
  return Number.isFinite(value) ? value : 0;
}

export type AutoscalerEvent =
  | { type: 'scaled'; serviceName: string; from: number; to: number; message: string }
  | { type: 'error'; serviceName?: string; message: string };

export interface AutoscalerDeps {
  store: Store;
  clock: Clock;
  /** The installation's defaults of services' settings (for the idle period). */
  defaults: Readonly<ServiceSettings>;
  /** Called after a pass that changed a count (wakes the reconciler). */
  onChange: () => void;
  emit?: (event: AutoscalerEvent) => void;
  intervalMs?: number;
}

export class Autoscaler {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #defaults: Readonly<ServiceSettings>;
  readonly #onChange: () => void;
  readonly #emit: (event: AutoscalerEvent) => void;
  readonly #intervalMs: number;
  readonly #windows = new Map<string, LoadWindow>();
  readonly #panic = new Map<string, PanicState>();
  /** Services a report asked to decide at once. */
  readonly #poked = new Set<string>();
  #startedAt: number;
  #running = false;
  #timer: NodeJS.Timeout | undefined;
  #pokeTimer: NodeJS.Immediate | undefined;

  constructor(deps: AutoscalerDeps) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#defaults = deps.defaults;
    this.#onChange = deps.onChange;
    this.#emit = deps.emit ?? (() => {});
    this.#intervalMs = deps.intervalMs ?? DECISION_INTERVAL_MS;
    this.#startedAt = deps.clock.now();
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#startedAt = this.#clock.now();
    this.#schedule();
  }

  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
    if (this.#pokeTimer !== undefined) clearImmediate(this.#pokeTimer);
    this.#pokeTimer = undefined;
    this.#poked.clear();
  }

  /**
   * Takes one router report (every report: the windows need each interval once). A request
   * arrived or waiting for a service at zero has it decided at once rather than at the next
   * tick: it is what stands between that request and an instance.
   */
  observe(report: RouterReport): void {
    if (report.services === undefined) return;
    const now = this.#clock.now();
    for (const [serviceId, load] of Object.entries(report.services)) {
      this.#window(serviceId).record(load, now);
      if ((load.queued > 0 || load.arrivals > 0) && this.#running && this.#atZero(serviceId)) this.#poke(serviceId);
    }
  }

  /** One decision for every live service: the timer's work. */
  decideAll(): void {
    let ids: string[];
    try {
      ids = this.#store.listLiveServices().map((s) => s.id);
    } catch (error) {
      this.#emit({ type: 'error', message: `autoscaling pass failed: ${(error as Error).message}` });
      return;
    }
    const live = new Set(ids);
    for (const id of this.#windows.keys()) if (!live.has(id)) this.#windows.delete(id);
    for (const id of this.#panic.keys()) if (!live.has(id)) this.#panic.delete(id);
    this.#decide(ids);
  }

  #schedule(): void {
    this.#timer = setTimeout(() => {
      this.decideAll();
      if (this.#running) this.#schedule();
    }, this.#intervalMs);
  }

  #poke(serviceId: string): void {
    this.#poked.add(serviceId);
    this.#pokeTimer ??= setImmediate(() => {
      this.#pokeTimer = undefined;
      const ids = [...this.#poked];
      this.#poked.clear();
      this.#decide(ids);
    });
  }

  #atZero(serviceId: string): boolean {
    const service = this.#store.getService(serviceId);
    return service !== undefined && service.status === 'RUNNING' && desiredInstancesOf(service) === 0;
  }

  #window(serviceId: string): LoadWindow {
    let window = this.#windows.get(serviceId);
    if (window === undefined) {
      window = new LoadWindow();
      this.#windows.set(serviceId, window);
    }
    return window;
  }

  #decide(ids: readonly string[]): void {
    let changed = false;
    for (const id of ids) {
      try {
        const change = this.#decideOne(id);
        if (change === undefined) continue;
        changed = true;
        this.#emit({ type: 'scaled', ...change });
      } catch (error) {
        this.#emit({ type: 'error', serviceName: this.#store.getService(id)?.name ?? id, message: `autoscaling failed: ${(error as Error).message}` });
      }
    }
    if (changed) this.#onChange();
  }

  /**
   * Decides one service and writes a change in one transaction, from the service as it is
   * inside it: a concurrent API write (a new configuration, a deployment) is never overwritten
   * with a count decided from what it replaced.
   */
  #decideOne(serviceId: string): { serviceName: string; from: number; to: number; message: string } | undefined {
    const store = this.#store;
    return store.transaction(() => {
      const service = store.getService(serviceId);
      // Deployments, pauses and deletions hold their own counts (the reconciler's).
      if (service === undefined || service.status !== 'RUNNING') {
        this.#panic.delete(serviceId);
        return undefined;
      }
      const now = this.#clock.now();
      const current = desiredInstancesOf(service);
      const revisionId = service.servingRevisionId ?? service.revisionId;
      const summary = readInstanceSummary(store, serviceId);
      const ready = summary === undefined ? undefined : (summary.revisions.find((r) => r.revisionId === revisionId)?.ready ?? 0);
      const settings = effectiveSettings(service.settings, this.#defaults);
      const deployedAt = service.minSize === 0
        ? store.listOperations(serviceId).find((op) => DEPLOYMENT_OPERATION_TYPES.includes(op.type))?.endedAt
        : undefined;
      const decision = decideScale(this.#window(serviceId), {
        now,
        current,
        ready,
        policy: { minSize: service.minSize, maxSize: service.maxSize, maxConcurrency: service.maxConcurrency, scaleToZeroIdleMs: settings.scaleToZeroIdleSeconds * 1000 },
        startedAt: this.#startedAt,
        deployedAt,
        state: this.#panic.get(serviceId) ?? CALM,
      });
      this.#panic.set(serviceId, decision.state);
      if (decision.desired === current) return undefined;

      const record: ScalingDecisionRecord = {
        at: now,
        from: current,
        to: decision.desired,
        reason: decision.reason,
        stable: rounded(decision.stable),
        panic: rounded(decision.panic),
        ready: decision.ready,
        target: rounded(decision.target),
        panicking: decision.panicking,
      };
      const message = scalingMessage(record, settings.scaleToZeroIdleSeconds);
      store.updateService({ ...service, desiredInstances: decision.desired });
      store.appendServiceEvent({ serviceId, at: now, type: 'scaled', message, revisionId });
      store.setMeta(scalingDecisionKey(serviceId), JSON.stringify(record));
      return { serviceName: service.name, from: current, to: decision.desired, message };
    });
  }
}

/** The `scaled` event's message: the change and the inputs that made it. */
export function scalingMessage(record: ScalingDecisionRecord, idleSeconds: number): string {
  const change = `Scaled from ${record.from} to ${record.to}`;
  switch (record.reason) {
    case 'scale-to-zero':
      return `${change}: no requests for ${idleSeconds} s (scale to zero)`;
    case 'scale-from-zero':
      return `${change}: a request is waiting (scale from zero)`;
    case 'load':
      return `${change}: stable concurrency ${record.stable}, panic ${record.panic} over ${record.ready} ready instance${record.ready === 1 ? '' : 's'}, target ${record.target} per instance, panicking ${record.panicking ? 'yes' : 'no'}`;
  }
}

function rounded(value: number): number {
  return Math.round(value * 100) / 100;
}

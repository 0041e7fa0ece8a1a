/**
 * @module
 * Probes every running instance on its service's schedule and keeps each one's verdict. While
 * an instance starts it is probed every 50 ms, so a deploy is seen healthy as soon as it is;
 * once healthy it is probed every `Interval` seconds as configured.
 */
import { HealthState, type HealthProber, type HealthVerdict } from '../core/health.ts';
import type { HealthCheckConfiguration } from '../core/service.ts';

const STARTUP_PROBE_MS = 50;
const SLOW_STARTUP_PROBE_MS = 500;
const FAST_STARTUP_WINDOW_MS = 10_000;

interface Tracked {
  address: string;
  check: HealthCheckConfiguration;
  state: HealthState;
  startedAt: number;
  timer?: NodeJS.Timeout;
  stopped: boolean;
  /** Resolves after the first probe has been recorded. */
  firstProbe: Promise<void>;
}

export class HealthTracker {
  readonly #prober: HealthProber;
  readonly #onChange: (instanceId: string, verdict: HealthVerdict) => void;
  readonly #tracked = new Map<string, Tracked>();

  constructor(prober: HealthProber, onChange: (instanceId: string, verdict: HealthVerdict) => void) {
    this.#prober = prober;
    this.#onChange = onChange;
  }

  /**
   * Starts probing an instance (no-op when already tracked). `initial` is 'healthy' for an
   * instance found running when the control plane starts and confirmed by one probe.
   */
  track(instanceId: string, address: string, check: HealthCheckConfiguration): Promise<void> {
    const existing = this.#tracked.get(instanceId);
    if (existing !== undefined) return existing.firstProbe;
    let markFirst!: () => void;
    const tracked: Tracked = {
      address,
      check,
      state: new HealthState(),
      startedAt: Date.now(),
      stopped: false,
      firstProbe: new Promise((resolve) => (markFirst = resolve)),
    };
    this.#tracked.set(instanceId, tracked);
    void this.#loop(instanceId, tracked, markFirst);
    return tracked.firstProbe;
  }

  /**
   * Adopts an instance that was serving before this control plane started: one passing probe
   * makes it healthy again, whatever HealthyThreshold says, since it had already met it.
   */
  adopt(instanceId: string, address: string, check: HealthCheckConfiguration): Promise<void> {
    return this.track(instanceId, address, { ...check, HealthyThreshold: 1 });
  }

  untrack(instanceId: string): void {
    const tracked = this.#tracked.get(instanceId);
    if (tracked === undefined) return;
    tracked.stopped = true;
    clearTimeout(tracked.timer);
    this.#tracked.delete(instanceId);
  }

  verdict(instanceId: string): HealthVerdict | undefined {
    return this.#tracked.get(instanceId)?.state.verdict;
  }

  lastDetail(instanceId: string): string | undefined {
    return this.#tracked.get(instanceId)?.state.lastDetail;
  }

  trackedIds(): string[] {
    return [...this.#tracked.keys()];
  }

  stop(): void {
    for (const id of [...this.#tracked.keys()]) this.untrack(id);
  }

  async #loop(instanceId: string, tracked: Tracked, markFirst: () => void): Promise<void> {
    const result = await this.#prober.probe(tracked.address, tracked.check);
    if (tracked.stopped) return markFirst();
    const changed = tracked.state.record(result, tracked.check);
    markFirst();
    if (changed) this.#onChange(instanceId, tracked.state.verdict);
    const delay =
      tracked.state.verdict === 'starting'
        ? Date.now() - tracked.startedAt < FAST_STARTUP_WINDOW_MS ? STARTUP_PROBE_MS : SLOW_STARTUP_PROBE_MS
        : tracked.check.Interval * 1000;
    tracked.timer = setTimeout(() => void this.#loop(instanceId, tracked, () => {}), delay);
  }
}

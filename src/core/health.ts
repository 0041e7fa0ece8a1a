/**
 * @module
 * Health checks (App Runner's HealthCheckConfiguration, §3.7): the probe seam and the rule that
 * turns consecutive results into healthy or unhealthy.
 */
import type { HealthCheckConfiguration } from './service.ts';

export interface ProbeResult {
  ok: boolean;
  /** What was seen: `connection refused`, `HTTP 404`, `timed out after 2 s`, ... */
  detail: string;
}

export interface HealthProber {
  /** One check of the application at `address` (`host:port`). Never throws. */
  probe(address: string, check: HealthCheckConfiguration): Promise<ProbeResult>;
}

export type HealthVerdict = 'starting' | 'healthy' | 'unhealthy';

/** Consecutive-result counting, as App Runner's thresholds define it. */
export class HealthState {
  #successes = 0;
  #failures = 0;
  #verdict: HealthVerdict = 'starting';
  lastDetail = 'not checked yet';

  constructor(verdict: HealthVerdict = 'starting') {
    this.#verdict = verdict;
  }

  get verdict(): HealthVerdict {
    return this.#verdict;
  }

  /** Records a result; returns true when the verdict changed. */
  record(result: ProbeResult, check: HealthCheckConfiguration): boolean {
    this.lastDetail = result.detail;
    const before = this.#verdict;
    if (result.ok) {
      this.#successes++;
      this.#failures = 0;
      if (this.#successes >= check.HealthyThreshold) this.#verdict = 'healthy';
    } else {
      this.#failures++;
      this.#successes = 0;
      // While starting, failures only mean "not up yet": the deploy deadline judges those.
      if (this.#verdict === 'healthy' && this.#failures >= check.UnhealthyThreshold) this.#verdict = 'unhealthy';
    }
    return this.#verdict !== before;
  }
}

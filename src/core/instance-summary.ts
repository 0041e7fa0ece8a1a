/**
 * @module
 * What runs of a service, as the reconciler last saw it: per revision, instances running and
 * instances healthy (ready to serve). The reconciler writes it to the store when it changes;
 * the autoscaler reads how many are ready, DescribeService shows it (`Scaling`).
 */
import type { Store } from './store.ts';

export interface InstanceSummary {
  revisions: { revisionId: string; current: number; ready: number }[];
  /** Epoch ms of the pass that saw it. */
  at: number;
}

/** The store's meta key holding a service's InstanceSummary as JSON. */
export function instanceSummaryKey(serviceId: string): string {
  return `instances:${serviceId}`;
}

/**
 * A service's summary as the store has it; undefined when there is none yet (the reconciler has
 * not looked at the service since it started) or it cannot be read, so a reader falls back.
 */
export function readInstanceSummary(store: Pick<Store, 'getMeta'>, serviceId: string): InstanceSummary | undefined {
  const text = store.getMeta(instanceSummaryKey(serviceId));
  if (text === undefined || text === '') return undefined;
  try {
    const parsed = JSON.parse(text) as Partial<InstanceSummary>;
    return Array.isArray(parsed.revisions) && typeof parsed.at === 'number' ? (parsed as InstanceSummary) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * @module
 * A service's event log: what happened to it and why, newest first, in words a user can act on.
 * Deployments starting, succeeding, failing and rolling back; instances started, replaced and
 * stopped with the reason (exited with its code, ran out of memory, failed its health checks,
 * wrote too much ephemeral storage, crash-looping and backing off); pauses and resumes. The
 * reconciler writes it; `Berth.ListServiceEvents` and `berth events` read it. The store keeps
 * the newest `SERVICE_EVENTS_KEPT` per service.
 */

export type ServiceEventType =
  | 'operation-started'
  | 'deployment-started'
  | 'deployment-succeeded'
  | 'deployment-failed'
  | 'rollback-started'
  | 'rollback-succeeded'
  | 'rollback-failed'
  | 'instance-started'
  | 'instance-stopped'
  | 'instance-failed'
  | 'crash-loop'
  | 'paused'
  | 'resumed'
  | 'deleted'
  | 'settings-changed'
  | 'scaled';

export interface ServiceEvent {
  serviceId: string;
  /** Epoch milliseconds. */
  at: number;
  type: ServiceEventType;
  message: string;
  operationId?: string;
  instanceId?: string;
  revisionId?: string;
}

/** A stored event: `seq` orders events (higher is newer) and pages through them. */
export interface StoredServiceEvent extends ServiceEvent {
  seq: number;
}

export const SERVICE_EVENTS_KEPT = 1000;

/**
 * The store's meta key holding a service's crash loop, as JSON `CrashLoopState`, while its
 * instances keep failing; removed once an instance of the revision is healthy again.
 */
export function crashLoopKey(serviceId: string): string {
  return `crash-loop:${serviceId}`;
}

export interface CrashLoopState {
  revisionId: string;
  /** Failures in a row of this revision's instances. */
  failures: number;
  /** Why the last one failed. */
  lastReason: string;
  /** Epoch ms before which no instance of the revision is started again. */
  nextStartAt: number;
}

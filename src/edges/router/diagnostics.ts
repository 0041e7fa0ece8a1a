/**
 * @module
 * The router's observability: `node:diagnostics_channel` channels, so the data plane imports no
 * logger and pays nothing when nobody listens (publishers check `hasSubscribers` before building
 * a message). The process entry point, tests and the future metrics exporter subscribe.
 */

import { channel } from 'node:diagnostics_channel';

/** How a proxied request ended. */
export type RequestOutcome =
  | 'completed'
  | 'bad-request'
  | 'unknown-host'
  | 'no-instance'
  | 'no-capacity'
  | 'service-paused'
  | 'upstream-error'
  | 'timeout'
  | 'client-aborted';

/** Published on `berth:router:request` once per request, when it ends. */
export interface RequestMessage {
  host: string;
  method: string;
  /** Empty when no route matched. */
  serviceName: string;
  /** The instance that served (or failed) the last attempt; empty when none was picked. */
  instanceId: string;
  /** The status sent to the client; 0 when the response was cut before its head was sent. */
  statusCode: number;
  outcome: RequestOutcome;
  durationMs: number;
  /** What went wrong, for `upstream-error`, `timeout` and `client-aborted`. */
  error?: Error;
}

/** Published on `berth:router:routes` whenever the table being served changes. */
export interface RoutesMessage {
  tag: string;
  routeCount: number;
  source: 'control-plane' | 'cache';
}

/** Published on `berth:router:feed-error` when following the control plane fails; routes are kept. */
export interface FeedErrorMessage {
  error: Error;
  retryInMs: number;
}

/**
 * Published on `berth:router:report-error` when a report cannot be sent to the control plane; the
 * next one is sent as usual (within a second).
 */
export interface ReportErrorMessage {
  error: Error;
}

/** Published on `berth:router:cache-error` when the route cache cannot be read or written. */
export interface CacheErrorMessage {
  file: string;
  operation: 'read' | 'write';
  error: Error;
}

/** Published on `berth:router:certificate` when a certificate is issued for a host, or fails to be. */
export interface CertificateMessage {
  host: string;
  error?: Error;
}

export const requestChannel = channel('berth:router:request');
export const routesChannel = channel('berth:router:routes');
export const feedErrorChannel = channel('berth:router:feed-error');
export const reportErrorChannel = channel('berth:router:report-error');
export const cacheErrorChannel = channel('berth:router:cache-error');
export const certificateChannel = channel('berth:router:certificate');

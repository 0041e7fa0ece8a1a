/**
 * @module
 * The router's own error responses: each kind has a stable code (sent in `x-berth-error`, for
 * scripts and for telling the router's errors from an application's) and its HTTP status. The
 * body is one short plain-text line saying what happened, naming the host or service. Errors a
 * client can expect to clear by themselves carry `Retry-After` (RFC 9110 §10.2.3).
 */

import type { ServerResponse } from 'node:http';

export const RouterErrors = {
  /** RFC 9112 §3.2: no Host, several, or a request target the router does not serve. */
  BadRequest: 400,
  /** No route for the Host. */
  UnknownHost: 404,
  /** The connection to the instance failed or was cut before a response (RFC 9110 §15.6.3). */
  InstanceUnreachable: 502,
  /** The service has no instance able to serve right now (RFC 9110 §15.6.4). */
  NoHealthyInstance: 503,
  /**
   * No instance of the service had room for the request (each at its MaxConcurrency, or none
   * started yet) within the router's queue timeout, or the service's queue was full.
   */
  NoCapacity: 503,
  /** The service is paused (PauseService): it serves nothing until it is resumed. */
  ServicePaused: 503,
  /** The instance did not answer within the request timeout (RFC 9110 §15.6.5). */
  RequestTimeout: 504,
} as const;

export type RouterErrorCode = keyof typeof RouterErrors;

/**
 * Seconds a client should wait before trying again, for the errors that pass: an instance is
 * usually back, or has room again, within a second (a deployment, a replaced instance, an
 * instance scaling out); a resume takes longer.
 */
export const RouterErrorRetryAfter: Readonly<Partial<Record<RouterErrorCode, number>>> = {
  NoHealthyInstance: 1,
  NoCapacity: 1,
  ServicePaused: 10,
};

/** Sends a router error, or cuts the connection if the response head has already gone out. */
export function sendRouterError(res: ServerResponse, code: RouterErrorCode, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${message}\n`;
  const headers = [
    'content-type', 'text/plain; charset=utf-8',
    'content-length', String(Buffer.byteLength(body)),
    'cache-control', 'no-store',
    'x-berth-error', code,
  ];
  const retryAfter = RouterErrorRetryAfter[code];
  if (retryAfter !== undefined) headers.push('retry-after', String(retryAfter));
  res.writeHead(RouterErrors[code], headers);
  res.end(body);
}

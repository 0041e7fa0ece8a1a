/**
 * @module
 * The router's own error responses: each kind has a stable code (sent in `x-berth-error`, for
 * scripts and for telling the router's errors from an application's) and its HTTP status. The
 * body is one short plain-text line saying what happened, naming the host or service.
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
  /** The instance did not answer within the request timeout (RFC 9110 §15.6.5). */
  RequestTimeout: 504,
} as const;

export type RouterErrorCode = keyof typeof RouterErrors;

/** Sends a router error, or cuts the connection if the response head has already gone out. */
export function sendRouterError(res: ServerResponse, code: RouterErrorCode, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${message}\n`;
  res.writeHead(RouterErrors[code], [
    'content-type', 'text/plain; charset=utf-8',
    'content-length', String(Buffer.byteLength(body)),
    'cache-control', 'no-store',
    'x-berth-error', code,
  ]);
  res.end(body);
}

/**
 * @module
 * The plain-HTTP listener's only job: send every request to the same URL over HTTPS, as App
 * Runner does. GET and HEAD get 301 (RFC 9110 §15.4.2); other methods get 308 (§15.4.9), which,
 * unlike 301, forbids the client to turn a POST into a GET on the way.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { hostKey } from './host.ts';
import { sendRouterError } from './router-errors.ts';

/** `host[:port]` as RFC 3986 §3.2.2 allows it, minus percent-encoding and sub-delims no service uses. */
const AUTHORITY = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{0,5})?$/;

export function createHttpsRedirectHandler(httpsPort: number): (req: IncomingMessage, res: ServerResponse) => void {
  const portSuffix = httpsPort === 443 ? '' : `:${httpsPort}`;
  return (req, res) => {
    let authority = req.headers.host ?? '';
    let target = req.url ?? '/';
    if (target.charCodeAt(0) !== 0x2f) {
      // RFC 9112 §3.2.2: an absolute-form target carries the host, and wins over Host.
      let url: URL | undefined;
      try {
        url = new URL(target);
      } catch {
        url = undefined;
      }
      if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
        return badRequest(res, `cannot redirect the request target '${target.slice(0, 100)}' to HTTPS`);
      }
      authority = url.host;
      target = `${url.pathname}${url.search}`;
    }
    if (!AUTHORITY.test(authority)) {
      return badRequest(res, authority === '' ? 'a request needs a Host header' : `'${authority.slice(0, 100)}' is not a host name`);
    }
    const location = `https://${hostKey(authority)}${portSuffix}${target}`;
    const body = `Moved to ${location}\n`;
    const status = req.method === 'GET' || req.method === 'HEAD' ? 301 : 308;
    try {
      res.writeHead(status, [
        'location', location,
        'content-type', 'text/plain; charset=utf-8',
        'content-length', String(Buffer.byteLength(body)),
      ]);
    } catch {
      // Node refuses header values with characters outside Latin-1, which a raw path may hold.
      return badRequest(res, 'the request target cannot be put in a Location header');
    }
    res.end(body);
  };
}

function badRequest(res: ServerResponse, message: string): void {
  sendRouterError(res, 'BadRequest', message);
}

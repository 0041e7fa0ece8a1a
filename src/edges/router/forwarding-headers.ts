/**
 * @module
 * The header rewriting a gateway does between client and instance (RFC 9110 §7.6): hop-by-hop
 * fields are removed both ways, and the request gains X-Forwarded-For/-Proto/-Host, the de facto
 * headers App Runner (like every AWS load balancer) sets. Header names are classified by length
 * and a case-insensitive compare, so the common request allocates no lower-cased copies.
 */

import type { OutgoingHttpHeader } from 'node:http';

/** What the proxy does with a header field; a plain object of constants (no TS enum). */
export const HeaderKind = {
  /** Forwarded as is. */
  other: 0,
  /**
   * Never forwarded: meaningful for one connection only. RFC 9110 §7.6.1 names Connection,
   * Proxy-Connection, Keep-Alive, TE, Transfer-Encoding and Upgrade; Trailer announces fields
   * of a framing the next hop redoes; every Proxy-* field (Proxy-Authorization,
   * Proxy-Authenticate, §11.7) is for the proxy, and dropping `Proxy` defeats httpoxy.
   */
  hopByHop: 1,
  connection: 2,
  host: 3,
  contentLength: 4,
  transferEncoding: 5,
  /** Node answered `100-continue` itself (RFC 9110 §10.1.1); the instance gets the body. */
  expect: 6,
  xForwardedFor: 7,
  /** Set by the router; a client's own value is dropped, not trusted. */
  xForwardedReplaced: 8,
} as const;
export type HeaderKind = (typeof HeaderKind)[keyof typeof HeaderKind];

export function classifyHeader(name: string): HeaderKind {
  switch (name.length) {
    case 2:
      return sameName(name, 'te') ? HeaderKind.hopByHop : HeaderKind.other;
    case 4:
      return sameName(name, 'host') ? HeaderKind.host : HeaderKind.other;
    case 5:
      return sameName(name, 'proxy') ? HeaderKind.hopByHop : HeaderKind.other;
    case 6:
      return sameName(name, 'expect') ? HeaderKind.expect : HeaderKind.other;
    case 7:
      return sameName(name, 'trailer') || sameName(name, 'upgrade') ? HeaderKind.hopByHop : HeaderKind.other;
    case 10:
      if (sameName(name, 'connection')) return HeaderKind.connection;
      return sameName(name, 'keep-alive') ? HeaderKind.hopByHop : HeaderKind.other;
    case 14:
      return sameName(name, 'content-length') ? HeaderKind.contentLength : HeaderKind.other;
    case 15:
      return sameName(name, 'x-forwarded-for') ? HeaderKind.xForwardedFor : HeaderKind.other;
    case 16:
      if (sameName(name, 'x-forwarded-host')) return HeaderKind.xForwardedReplaced;
      break;
    case 17:
      if (sameName(name, 'transfer-encoding')) return HeaderKind.transferEncoding;
      if (sameName(name, 'x-forwarded-proto')) return HeaderKind.xForwardedReplaced;
      break;
  }
  return name.length > 6 && samePrefix(name, 'proxy-') ? HeaderKind.hopByHop : HeaderKind.other;
}

/** The request head for the instance, and what the proxy learnt from the client's head. */
export interface UpstreamRequestHead {
  /** Flat `[name, value, ...]` list for undici. */
  headers: string[];
  /** The Host field as the client sent it; empty when absent. */
  host: string;
  /** How many Host fields the client sent; RFC 9112 §3.2 wants a 400 unless exactly one. */
  hostCount: number;
  /** RFC 9112 §6.3: a request has content when it carries Content-Length or Transfer-Encoding. */
  hasBody: boolean;
}

/**
 * Builds the instance's request head from the client's `rawHeaders` (Node's flat list, with the
 * client's casing and repetitions): hop-by-hop fields removed, including those the Connection
 * field names (RFC 9110 §7.6.1), and the X-Forwarded-* fields set. `authority`, when not empty,
 * is the host of an absolute-form request target, which replaces the Host field (RFC 9112 §3.2.2).
 */
export function upstreamRequestHead(rawHeaders: readonly string[], clientAddress: string, authority = ''): UpstreamRequestHead {
  const headers: string[] = [];
  let host = '';
  let hostCount = 0;
  let hasBody = false;
  let forwardedFor = '';
  let connection: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    switch (classifyHeader(name)) {
      case HeaderKind.other:
        headers.push(name, value);
        break;
      case HeaderKind.host:
        if (hostCount++ === 0) {
          host = authority === '' ? value : authority;
          headers.push(name, host);
        }
        break;
      case HeaderKind.contentLength:
        hasBody = true;
        headers.push(name, value);
        break;
      case HeaderKind.transferEncoding:
        // Node decoded the chunked body; undici re-frames it for the instance.
        hasBody = true;
        break;
      case HeaderKind.connection:
        connection = connection === undefined ? value : `${connection}, ${value}`;
        break;
      case HeaderKind.xForwardedFor:
        forwardedFor = forwardedFor === '' ? value : `${forwardedFor}, ${value}`;
        break;
      default:
        break;
    }
  }
  if (connection !== undefined) removeConnectionOptions(headers, connection);
  headers.push(
    'x-forwarded-for', forwardedFor === '' ? clientAddress : `${forwardedFor}, ${clientAddress}`,
    'x-forwarded-proto', 'https',
    'x-forwarded-host', host,
  );
  return { headers, host, hostCount, hasBody };
}

/**
 * The response head for the client, from undici's parsed fields (lower-case names; repeated
 * fields as arrays, Set-Cookie included): hop-by-hop fields removed. Node frames the body anew:
 * it keeps Content-Length when the instance sent one, and chunks otherwise.
 */
export function clientResponseHeaders(headers: Readonly<Record<string, string | string[] | undefined>>): OutgoingHttpHeader[] {
  const connection = headers.connection;
  const named = connection === undefined ? undefined : connectionOptions(connection);
  const out: OutgoingHttpHeader[] = [];
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    const kind = classifyHeader(name);
    if (kind === HeaderKind.hopByHop || kind === HeaderKind.connection || kind === HeaderKind.transferEncoding) continue;
    if (named !== undefined && named.includes(name)) continue;
    out.push(name, value);
  }
  return out;
}

/** Drops from `headers` the fields a Connection value names, except those already handled. */
function removeConnectionOptions(headers: string[], connection: string): void {
  const named = connectionOptions(connection);
  if (named === undefined) return;
  let kept = 0;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (named.includes(name.toLowerCase())) continue;
    headers[kept++] = name;
    headers[kept++] = headers[i + 1]!;
  }
  headers.length = kept;
}

/**
 * The field names listed in a Connection value (RFC 9110 §7.6.1), lower case, without the
 * options that name no field or a field removed anyway (`close`, `keep-alive`, `upgrade`);
 * undefined when that leaves none, as for the usual values, which are recognised unparsed.
 */
function connectionOptions(connection: string | string[]): string[] | undefined {
  if (typeof connection === 'string' && (sameName(connection, 'keep-alive') || sameName(connection, 'close'))) return undefined;
  const options: string[] = [];
  for (const item of typeof connection === 'string' ? [connection] : connection) {
    for (const token of item.split(',')) {
      const option = token.trim().toLowerCase();
      if (option !== '' && option !== 'close' && option !== 'keep-alive' && option !== 'upgrade') options.push(option);
    }
  }
  return options.length === 0 ? undefined : options;
}

/**
 * ASCII case-insensitive equality with a lower-case constant of the same length. OR-ing 0x20
 * lower-cases a letter; the only other byte it maps onto a letter or '-' is CR, which neither a
 * field name (a token, RFC 9110 §5.6.2) nor a field value (§5.5) may contain.
 */
function sameName(name: string, lower: string): boolean {
  if (name.length !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    if ((name.charCodeAt(i) | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

function samePrefix(name: string, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    if ((name.charCodeAt(i) | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

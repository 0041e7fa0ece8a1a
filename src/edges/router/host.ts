/**
 * @module
 * Turns a Host header value or a TLS server name into the key routes are indexed by.
 */

const COLON = 0x3a;
const DOT = 0x2e;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const UPPER_A = 0x41;
const UPPER_Z = 0x5a;

/**
 * The route key for `value`: lower case (host names are case-insensitive, RFC 9110 §4.2.3), the
 * port removed (RFC 9110 §7.2: Host is `uri-host [ ":" port ]`), and a trailing dot removed (an
 * absolute DNS name names the same host). Allocates only when something must change, which a
 * browser's lower-case `Host: name` never needs.
 */
export function hostKey(value: string): string {
  let end = value.length;
  let upper = false;
  if (value.charCodeAt(0) === OPEN_BRACKET) {
    // An IPv6 literal (RFC 3986 §3.2.2): the port, if any, follows the bracket.
    const close = value.indexOf(']');
    if (close === -1) return '';
    end = close + 1;
    upper = true;
  } else {
    for (let i = 0; i < end; i++) {
      const c = value.charCodeAt(i);
      if (c === COLON) end = i;
      else if (c >= UPPER_A && c <= UPPER_Z) upper = true;
    }
  }
  if (end > 1 && value.charCodeAt(end - 1) === DOT && value.charCodeAt(end - 2) !== CLOSE_BRACKET) end--;
  const key = end === value.length ? value : value.slice(0, end);
  return upper ? key.toLowerCase() : key;
}

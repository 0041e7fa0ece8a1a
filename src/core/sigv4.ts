/**
 * @module
 * AWS Signature Version 4 verification for requests signed in the `Authorization` header, as
 * the App Runner clients send them (app-runner-api.md §1.5), and signing for Berth's own
 * client (`berth iam`) with the same canonical-request code. Pure: the caller hands over the
 * request's parts, the clock's time and a way to look a secret up; nothing here does I/O.
 *
 * Reference: "Create a signed AWS API request" (AWS IAM user guide, Signature Version 4).
 */

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { BerthError, showValue } from './errors.ts';

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
/** The last element of every SigV4 credential scope. */
export const SCOPE_TERMINATOR = 'aws4_request';
/** AWS's usual tolerance between the signer's clock and ours. */
export const DEFAULT_MAX_SKEW_MS = 15 * 60 * 1000;

/** The parts of an `Authorization: AWS4-HMAC-SHA256 ...` header. */
export interface ParsedAuthorization {
  accessKeyId: string;
  /** The credential scope's day, `yyyymmdd`. */
  date: string;
  region: string;
  service: string;
  /** Lower-case header names, in the order the client listed them. */
  signedHeaders: string[];
  /** 64 lower-case hex digits. */
  signature: string;
}

/** Where a signature is valid: one day, one region, one service. */
export interface CredentialScope {
  date: string;
  region: string;
  service: string;
}

/** Header values as Node's `IncomingMessage.headers` gives them: names lower-cased. */
export type RequestHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;

export interface VerifyRequest<C extends { secret: string }> {
  method: string;
  /** The request target's path as it came on the wire (still percent-encoded), without the query. */
  path: string;
  /** The raw query string, without the leading `?`; empty when there is none. */
  query: string;
  headers: RequestHeaders;
  body: Buffer;
  now: Date;
  /** The secret for an access key id, with whatever the caller keeps beside it; undefined if unknown. */
  lookupSecret: (accessKeyId: string) => C | undefined;
  expectedService: string;
  expectedRegion: string;
  /** How far X-Amz-Date may be from `now`, either way. Default 15 minutes. */
  maxSkewMs?: number;
}

export interface VerifiedSignature<C> {
  accessKeyId: string;
  scope: CredentialScope;
  /** What `lookupSecret` returned for the key, so the caller need not look it up again. */
  credential: C;
  /** The signing time from X-Amz-Date. */
  signedAt: Date;
  /**
   * The session token, when the client sent one (always signed). The signature only proves the
   * client holds the secret; whether the token is still valid is the caller's decision.
   */
  securityToken?: string;
}

const incomplete = (message: string): BerthError => new BerthError('IncompleteSignatureException', message);
const invalidSignature = (message: string): BerthError => new BerthError('InvalidSignatureException', message);

const SIGNATURE_PATTERN = /^[0-9a-f]{64}$/;
const SCOPE_DATE_PATTERN = /^\d{8}$/;
const AMZ_DATE_PATTERN = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
// RFC 7230 token characters, lower case only: SignedHeaders holds canonical (lower-cased) names.
const HEADER_NAME_PATTERN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/**
 * Parses `AWS4-HMAC-SHA256 Credential=AKID/yyyymmdd/region/service/aws4_request,
 * SignedHeaders=a;b;c, Signature=<64 hex>`. Throws IncompleteSignatureException naming every
 * part that is missing or malformed.
 */
export function parseAuthorization(header: string): ParsedAuthorization {
  const trimmed = header.trim();
  const space = trimmed.indexOf(' ');
  const algorithm = space === -1 ? trimmed : trimmed.slice(0, space);
  if (algorithm !== SIGV4_ALGORITHM) {
    throw incomplete(`Unsupported Authorization algorithm ${showValue(algorithm)}: only '${SIGV4_ALGORITHM}' is accepted. Authorization=${showValue(header)}`);
  }

  const params = new Map<string, string>();
  for (const part of trimmed.slice(space + 1).split(',')) {
    const equals = part.indexOf('=');
    if (equals === -1) continue;
    const name = part.slice(0, equals).trim();
    // A repeated parameter is ambiguous: which one did the client sign with?
    if (params.has(name)) throw incomplete(`Authorization header has more than one '${name}' parameter. Authorization=${showValue(header)}`);
    params.set(name, part.slice(equals + 1).trim());
  }

  const problems: string[] = [];
  const credential = params.get('Credential');
  const signedHeaders = params.get('SignedHeaders');
  const signature = params.get('Signature');
  if (credential === undefined) problems.push("Authorization header requires 'Credential' parameter.");
  if (signedHeaders === undefined) problems.push("Authorization header requires 'SignedHeaders' parameter.");
  if (signature === undefined) problems.push("Authorization header requires 'Signature' parameter.");

  let scopeParts: string[] = [];
  if (credential !== undefined) {
    scopeParts = credential.split('/');
    if (scopeParts.length !== 5 || scopeParts.slice(0, 4).some((p) => p === '')) {
      problems.push(`Credential ${showValue(credential)} is not of the form <AccessKeyId>/<yyyymmdd>/<region>/<service>/${SCOPE_TERMINATOR}.`);
    } else if (!SCOPE_DATE_PATTERN.test(scopeParts[1] ?? '')) {
      problems.push(`Credential scope date ${showValue(scopeParts[1])} is not of the form yyyymmdd.`);
    } else if (scopeParts[4] !== SCOPE_TERMINATOR) {
      problems.push(`Credential should be scoped with a valid terminator: '${SCOPE_TERMINATOR}', not ${showValue(scopeParts[4])}.`);
    }
  }
  const headerNames = signedHeaders === undefined ? [] : signedHeaders.split(';');
  if (signedHeaders !== undefined && !headerNames.every((name) => HEADER_NAME_PATTERN.test(name))) {
    problems.push(`SignedHeaders ${showValue(signedHeaders)} must be lower-case header names separated by ';'.`);
  }
  if (signature !== undefined && !SIGNATURE_PATTERN.test(signature)) {
    problems.push(`Signature ${showValue(signature)} must be 64 lower-case hexadecimal digits.`);
  }
  if (problems.length > 0) throw incomplete(`${problems.join(' ')} Authorization=${showValue(header)}`);

  const [accessKeyId = '', date = '', region = '', service = ''] = scopeParts;
  return { accessKeyId, date, region, service, signedHeaders: headerNames, signature: signature ?? '' };
}

/**
 * Verifies a SigV4 `Authorization` header and returns who signed the request. Checks run from
 * the cheapest and least revealing to the signature itself, and each failure throws the
 * exception AWS would: MissingAuthenticationTokenException, IncompleteSignatureException,
 * InvalidSignatureException or UnrecognizedClientException.
 */
export function verifySignature<C extends { secret: string }>(request: VerifyRequest<C>): VerifiedSignature<C> {
  const { headers, now } = request;
  const maxSkewMs = request.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;

  const authorization = singleHeader(headers, 'authorization');
  if (authorization === undefined) {
    throw new BerthError('MissingAuthenticationTokenException', 'Missing Authentication Token: the request has no Authorization header; sign it with AWS Signature Version 4.');
  }
  const auth = parseAuthorization(authorization);

  // Without these two signed, a captured request could be replayed to another host or at any time.
  for (const required of ['host', 'x-amz-date']) {
    if (!auth.signedHeaders.includes(required)) {
      throw incomplete(`'${required}' must be a signed header; SignedHeaders is ${showValue(auth.signedHeaders.join(';'))}.`);
    }
  }
  const amzDate = singleHeader(headers, 'x-amz-date') ?? '';
  const signedAt = parseAmzDate(amzDate);
  if (signedAt === undefined) {
    throw invalidSignature(amzDate === ''
      ? `The request has no X-Amz-Date header; it must carry the signing time, e.g. ${formatAmzDate(now)}.`
      : `X-Amz-Date ${showValue(amzDate)} is not a date of the form yyyyMMddTHHmmssZ, e.g. ${formatAmzDate(now)}.`);
  }
  for (const name of auth.signedHeaders) {
    if (headers[name] === undefined) throw incomplete(`Signed header '${name}' is not in the request.`);
  }
  const securityToken = singleHeader(headers, 'x-amz-security-token');
  if (securityToken !== undefined && !auth.signedHeaders.includes('x-amz-security-token')) {
    // Both App Runner clients sign it; an unsigned token could be swapped by anyone on the path.
    throw incomplete(`'x-amz-security-token' must be a signed header when present; SignedHeaders is ${showValue(auth.signedHeaders.join(';'))}.`);
  }
  if (auth.date !== amzDate.slice(0, 8)) {
    throw invalidSignature(`Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${auth.date}' != '${amzDate.slice(0, 8)}', from '${amzDate}'.`);
  }
  if (auth.service !== request.expectedService) {
    throw invalidSignature(`Credential should be scoped to correct service: '${request.expectedService}', not ${showValue(auth.service)}.`);
  }
  if (auth.region !== request.expectedRegion) {
    throw invalidSignature(`Credential should be scoped to a valid region: '${request.expectedRegion}', not ${showValue(auth.region)}. Configure the client with region ${request.expectedRegion}.`);
  }
  const minutes = `${Math.round(maxSkewMs / 60_000)} min.`;
  if (signedAt.getTime() < now.getTime() - maxSkewMs) {
    throw invalidSignature(`Signature expired: ${amzDate} is now earlier than ${formatAmzDate(new Date(now.getTime() - maxSkewMs))} (${formatAmzDate(now)} - ${minutes})`);
  }
  if (signedAt.getTime() > now.getTime() + maxSkewMs) {
    throw invalidSignature(`Signature not yet current: ${amzDate} is still later than ${formatAmzDate(new Date(now.getTime() + maxSkewMs))} (${formatAmzDate(now)} + ${minutes})`);
  }

  const credential = request.lookupSecret(auth.accessKeyId);
  if (credential === undefined) {
    throw new BerthError('UnrecognizedClientException', 'The security token included in the request is invalid.');
  }

  const payloadHash = sha256Hex(request.body);
  const declaredHash = singleHeader(headers, 'x-amz-content-sha256');
  if (declaredHash !== undefined && declaredHash !== payloadHash) {
    // The JS SDK sends the body's hash; a mismatch means the body changed after signing.
    throw invalidSignature(`The x-amz-content-sha256 header ${showValue(declaredHash)} does not match the SHA-256 of the request body '${payloadHash}'.`);
  }

  const scope: CredentialScope = { date: auth.date, region: auth.region, service: auth.service };
  const canonical = canonicalRequest({
    method: request.method,
    path: request.path,
    query: request.query,
    headers,
    signedHeaders: auth.signedHeaders,
    payloadHash,
  });
  const expected = computeSignature(credential.secret, scope, stringToSign(amzDate, scope, canonical));
  // Constant time, so the comparison leaks nothing about how many leading characters matched.
  if (!timingSafeEqual(Buffer.from(expected, 'latin1'), Buffer.from(auth.signature, 'latin1'))) {
    throw invalidSignature('The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.');
  }

  const verified: VerifiedSignature<C> = { accessKeyId: auth.accessKeyId, scope, credential, signedAt };
  if (securityToken !== undefined) verified.securityToken = securityToken;
  return verified;
}

export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** For temporary credentials: sent (and signed) as X-Amz-Security-Token. */
  sessionToken?: string;
}

export interface SignRequest {
  method: string;
  /** `host[:port]` exactly as the Host header will carry it. */
  host: string;
  /** Already percent-encoded, without the query. */
  path: string;
  /** The raw query string without `?`; default none. */
  query?: string;
  /** Headers to send and sign besides those added here; names in any case. */
  headers: Readonly<Record<string, string>>;
  body: Buffer | string;
  credentials: SigningCredentials;
  region: string;
  service: string;
  now: Date;
}

/**
 * Signs a request as the AWS SDKs do and returns every header to send: the given ones plus
 * `host`, `x-amz-date`, `x-amz-content-sha256`, `x-amz-security-token` (with session
 * credentials) and `authorization`. Every header returned but `authorization` is signed.
 */
export function signRequest(request: SignRequest): Record<string, string> {
  const amzDate = formatAmzDate(request.now);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = value;
  headers.host = request.host;
  headers['x-amz-date'] = amzDate;
  const payloadHash = sha256Hex(request.body);
  headers['x-amz-content-sha256'] = payloadHash;
  if (request.credentials.sessionToken !== undefined) headers['x-amz-security-token'] = request.credentials.sessionToken;
  delete headers.authorization;

  const signedHeaders = Object.keys(headers).sort();
  const scope: CredentialScope = { date: amzDate.slice(0, 8), region: request.region, service: request.service };
  const canonical = canonicalRequest({ method: request.method, path: request.path, query: request.query ?? '', headers, signedHeaders, payloadHash });
  const signature = computeSignature(request.credentials.secretAccessKey, scope, stringToSign(amzDate, scope, canonical));
  headers.authorization = `${SIGV4_ALGORITHM} Credential=${request.credentials.accessKeyId}/${credentialScopeString(scope)}, SignedHeaders=${signedHeaders.join(';')}, Signature=${signature}`;
  return headers;
}

export interface CanonicalRequestParts {
  method: string;
  path: string;
  query: string;
  headers: RequestHeaders;
  signedHeaders: readonly string[];
  payloadHash: string;
}

/** The canonical request (SigV4 task 1), built with the client's own SignedHeaders order. */
export function canonicalRequest(parts: CanonicalRequestParts): string {
  const headerLines = parts.signedHeaders.map((name) => `${name}:${canonicalHeaderValue(parts.headers[name])}\n`).join('');
  return [
    parts.method.toUpperCase(),
    canonicalUri(parts.path),
    canonicalQuery(parts.query),
    headerLines,
    parts.signedHeaders.join(';'),
    parts.payloadHash,
  ].join('\n');
}

/** The string to sign (SigV4 task 2). */
export function stringToSign(amzDate: string, scope: CredentialScope, canonical: string): string {
  return [SIGV4_ALGORITHM, amzDate, credentialScopeString(scope), sha256Hex(canonical)].join('\n');
}

/** The signature (SigV4 tasks 3 and 4): hex HMAC of the string to sign with the derived key. */
export function computeSignature(secret: string, scope: CredentialScope, toSign: string): string {
  const kDate = hmac(`AWS4${secret}`, scope.date);
  const kRegion = hmac(kDate, scope.region);
  const kService = hmac(kRegion, scope.service);
  const kSigning = hmac(kService, SCOPE_TERMINATOR);
  return createHmac('sha256', kSigning).update(toSign, 'utf8').digest('hex');
}

export function credentialScopeString(scope: CredentialScope): string {
  return `${scope.date}/${scope.region}/${scope.service}/${SCOPE_TERMINATOR}`;
}

/** `yyyyMMddTHHmmssZ`, the X-Amz-Date format. */
export function formatAmzDate(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

function parseAmzDate(value: string): Date | undefined {
  const match = AMZ_DATE_PATTERN.exec(value);
  if (match === null) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as [number, number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  // Date.UTC rolls 20240231 over into March; a round trip rejects such impossible dates.
  return formatAmzDate(date) === value ? date : undefined;
}

/** One header's value; a header that came more than once is ambiguous where one is expected. */
function singleHeader(headers: RequestHeaders, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined || typeof value === 'string') return value;
  if (value.length === 1) return value[0];
  if (value.length === 0) return undefined;
  throw incomplete(`The request has ${value.length} '${name}' headers; send it once.`);
}

// Trim, collapse inner runs of whitespace to one space; repeated headers join with ','.
function canonicalHeaderValue(value: string | readonly string[] | undefined): string {
  const values = value === undefined ? [] : typeof value === 'string' ? [value] : value;
  return values.map((v) => v.replace(/[\t\n\r ]+/g, ' ').trim()).join(',');
}

// The path is URI-encoded once more (all AWS services but S3 double-encode), after removing
// empty, `.` and `..` segments, as the AWS SDKs do before signing.
function canonicalUri(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailing = segments.length > 0 && path.endsWith('/') ? '/' : '';
  return `/${segments.map(uriEncode).join('/')}${trailing}`;
}

// Names and values are decoded then re-encoded so every client's spelling compares equal; pairs
// are sorted by name, then value.
function canonicalQuery(query: string): string {
  if (query === '') return '';
  const pairs: Array<[string, string]> = [];
  for (const part of query.split('&')) {
    if (part === '') continue;
    const equals = part.indexOf('=');
    const name = uriEncode(uriDecode(equals === -1 ? part : part.slice(0, equals)));
    const value = equals === -1 ? '' : uriEncode(uriDecode(part.slice(equals + 1)));
    pairs.push([name, value]);
  }
  pairs.sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([name, value]) => `${name}=${value}`).join('&');
}

// RFC 3986 unreserved characters stay; everything else is %XX with upper-case hex.
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function uriDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    // A malformed escape cannot have come from a conforming signer; signing its literal text
    // makes the mismatch show up as a wrong signature instead of a crash.
    return text;
  }
}

function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

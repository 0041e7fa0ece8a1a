/**
 * @module
 * The App Runner endpoint: AWS JSON 1.0 over HTTP (`POST /`, `X-Amz-Target: AppRunner.<Op>`,
 * body a JSON object), SigV4-verified, errors as `{"__type", "Message"}` with the catalog's
 * HTTP status (app-runner-api.md §1). Never an error inside a 200.
 *
 * Every request passes, in order: the signature (the key must be known and Active), the
 * security token (required for session keys, refused for long-term ones), the operation's
 * existence, the JSON body, and authorization; only then does the handler run, with the
 * caller beside its input (docs/access-control.md).
 *
 * Requests under `/webhooks/` are not API calls: when `webhooks` is given they go to the
 * webhook endpoint (webhook-endpoint.ts), which authenticates them by their own signatures.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { channel } from 'node:diagnostics_channel';
import { BerthError, showValue } from '../../core/errors.ts';
import { isPlainObject } from '../../core/model/shape.ts';
import { verifySignature } from '../../core/sigv4.ts';
import type { Clock } from '../../core/clock.ts';
import { checkSecurityToken, type Caller, type CallerCredential } from '../../core/iam.ts';
import { headerValue, readBody } from './request-body.ts';
import { handleWebhookRequest, isWebhookRequest, type WebhookDeps } from './webhook-endpoint.ts';

/** An operation: its input, and who calls it (for the few that act on the caller). */
export type Handler = (input: Record<string, unknown>, caller: Caller) => Record<string, unknown> | Promise<Record<string, unknown>>;

export interface ApiServerOptions {
  /**
   * Handlers by target prefix, then operation: `AppRunner` for App Runner's operations, `Berth`
   * for Berth's own (access control, extensions); `X-Amz-Target` is `<prefix>.<operation>`.
   */
  targets: Readonly<Record<string, Readonly<Record<string, Handler>>>>;
  region: string;
  /**
   * The credential behind an access key id (its secret, the caller it stands for and, for
   * temporary credentials, the session's token hash and expiry); undefined when no usable key
   * has that id.
   */
  lookupSecret: (accessKeyId: string) => CallerCredential | undefined;
  /**
   * Throws (AccessDeniedException) unless `caller` may call `target` (`<prefix>.<operation>`)
   * with `input`; runs after the signature is verified and before the handler.
   */
  authorize: (caller: Caller, target: string, input: Record<string, unknown>) => void;
  clock: Clock;
  /** Largest request body accepted. */
  maxBodyBytes?: number;
  /** Push webhooks and registry notifications; without it, paths under `/webhooks/` are refused like any other path. */
  webhooks?: WebhookDeps;
}

const CONTENT_TYPE = 'application/x-amz-json-1.0';
const requestChannel = channel('berth:api:request');

/** Handles one API request; exported so tests can drive it without a socket too. */
export async function handleApiRequest(req: IncomingMessage, res: ServerResponse, options: ApiServerOptions): Promise<void> {
  if (options.webhooks !== undefined && isWebhookRequest(req.url)) return handleWebhookRequest(req, res, options.webhooks);
  const requestId = randomUUID();
  const started = performance.now();
  let operation = '';
  let user: string | undefined;
  let status = 200;
  let payload: Record<string, unknown>;
  try {
    if (req.method !== 'POST' || (req.url ?? '/').split('?')[0] !== '/') {
      throw new BerthError('UnknownOperationException', `Only POST / is served here (AWS JSON 1.0); got ${req.method} ${req.url}`);
    }
    const body = await readBody(req, options.maxBodyBytes ?? 4 * 1024 * 1024, (limit) => new BerthError('SerializationException', `The request body is larger than ${limit} bytes`));
    const target = headerValue(req, 'x-amz-target');
    const now = options.clock.now();
    const verified = verifySignature({
      method: req.method,
      path: '/',
      query: (req.url ?? '').split('?')[1] ?? '',
      headers: req.headers,
      body,
      now: new Date(now),
      lookupSecret: options.lookupSecret,
      expectedService: 'apprunner',
      expectedRegion: options.region,
    });
    checkSecurityToken(verified.credential, verified.securityToken, now);
    const caller = verified.credential.caller;
    user = caller.userArn;
    // Everything after the first dot is the operation: `AppRunner.A.B` names no operation.
    const dot = (target ?? '').indexOf('.');
    const prefix = dot === -1 ? '' : (target ?? '').slice(0, dot);
    const name = dot === -1 ? '' : (target ?? '').slice(dot + 1);
    const handlers = Object.hasOwn(options.targets, prefix) ? options.targets[prefix] : undefined;
    const handler = handlers !== undefined && Object.hasOwn(handlers, name) ? handlers[name] : undefined;
    if (handler === undefined) {
      const expected = Object.keys(options.targets).map((p) => `${p}.<Operation>`).join(' or ');
      throw new BerthError('UnknownOperationException', `Unknown operation ${showValue(target ?? '(no X-Amz-Target header)')}; expected ${expected}`);
    }
    operation = target ?? '';
    const input = parseJsonObject(body);
    options.authorize(caller, operation, input);
    payload = await handler(input, caller);
  } catch (error) {
    const failure = error instanceof BerthError ? error : internalError(error);
    status = failure.status;
    payload = { __type: failure.code, Message: failure.message };
  }
  const text = JSON.stringify(payload);
  res.writeHead(status, {
    'content-type': CONTENT_TYPE,
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': requestId,
    ...(status !== 200 && { 'x-amzn-errortype': String(payload.__type) }),
  });
  res.end(text);
  if (requestChannel.hasSubscribers) {
    requestChannel.publish({ requestId, operation, user, status, error: status === 200 ? undefined : payload.__type, ms: performance.now() - started });
  }
}

export function createApiServer(options: ApiServerOptions): Server {
  const server = createServer((req, res) => void handleApiRequest(req, res, options));
  server.keepAliveTimeout = 65_000;
  return server;
}

function internalError(error: unknown): BerthError {
  // The message of an unexpected failure may say too much about internals: log it, send little.
  if (requestChannel.hasSubscribers) requestChannel.publish({ internalError: error });
  return new BerthError('InternalServiceErrorException', 'An internal error occurred; the request may be retried');
}

/** An empty body counts as `{}` (§1.2); anything else must be one JSON object. */
function parseJsonObject(body: Buffer): Record<string, unknown> {
  const text = body.toString('utf8').trim();
  if (text === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new BerthError('SerializationException', `The request body is not valid JSON: ${(error as Error).message}`);
  }
  if (!isPlainObject(value)) throw new BerthError('SerializationException', `The request body must be a JSON object; got ${showValue(text)}`);
  if (exceedsDepth(value, MAX_JSON_DEPTH)) {
    throw new BerthError('SerializationException', `The request body nests objects and lists more than ${MAX_JSON_DEPTH} levels deep; no operation's input is that deep`);
  }
  return value;
}

/** Far deeper than any input shape (about 6 levels); deeper values overflow recursive code such as JSON.stringify. */
const MAX_JSON_DEPTH = 64;

/** Whether `value` nests objects or lists deeper than `limit`, without recursion. */
function exceedsDepth(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [node, depth] = next;
    if (typeof node !== 'object' || node === null) continue;
    if (depth > limit) return true;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}

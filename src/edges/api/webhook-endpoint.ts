/**
 * @module
 * The webhook endpoint on the API listener (issue 4): `POST /webhooks/git/<connection id>` for
 * git hosts' push webhooks, `POST /webhooks/registry` for the CNCF distribution registry's
 * notifications. These requests carry no SigV4 signature: a git push is authenticated by the
 * connection's webhook secret (core/webhooks.ts), a registry notification by a bearer token.
 * Nothing is read from a payload before its sender is authenticated, and nothing deploys
 * unless it is.
 *
 * Replies are JSON, for the delivery logs of git hosts: 202 when a push started deployments,
 * 200 when it was accepted but deployed nothing (a ping, a tag, a push no service follows),
 * and errors as `{"error": <code>, "message"}` with the code's status (WEBHOOK_ERRORS).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { channel } from 'node:diagnostics_channel';
import { headerValue, readBody } from './request-body.ts';
import {
  GIT_EVENT_HEADERS,
  GIT_WEBHOOK_PATH_PREFIX,
  gitSender,
  parseGitWebhook,
  parseRegistryNotification,
  REGISTRY_WEBHOOK_PATH,
  sameSecret,
  verifyGitSignature,
  type GitPush,
  type ImagePush,
  type PushOutcome,
} from '../../core/webhooks.ts';

/** What the endpoint needs from the rest of Berth; the composition root provides it. */
export interface WebhookDeps {
  /** The webhook secret of the live connection with this id (the 32 hex its ARN ends with); undefined when there is none. */
  webhookSecret(connectionId: string): string | undefined;
  /** Deploys what a verified push to the connection's repositories calls for. */
  onGitPush(connectionId: string, push: GitPush): Promise<PushOutcome>;
  /**
   * The token registry notifications must carry as `Authorization: Bearer <token>`; when
   * undefined, registry notifications are turned off and every one is refused.
   */
  registryToken: string | undefined;
  /** Deploys what pushed manifests call for. */
  onImagePush(pushes: ImagePush[]): Promise<PushOutcome>;
  /** Largest body accepted; default 25 MiB, GitHub's own cap on a delivery, so no genuine push is refused. */
  maxBodyBytes?: number;
}

/** The endpoint's errors: a stable code and its HTTP status. */
export const WEBHOOK_ERRORS = {
  WebhookMethodNotAllowed: 405,
  WebhookNotFound: 404,
  WebhookNotEnabled: 404,
  WebhookUnknownSender: 400,
  WebhookUnsigned: 401,
  WebhookSignatureMismatch: 401,
  WebhookUnauthorized: 401,
  WebhookPayloadTooLarge: 413,
  WebhookMalformedPayload: 400,
  WebhookInternalError: 500,
} as const;

export type WebhookErrorCode = keyof typeof WEBHOOK_ERRORS;

const DEFAULT_MAX_BODY_BYTES = 25 * 1024 * 1024;
const webhookChannel = channel('berth:api:webhook');

/** Whether a request is for the webhook endpoint (any method: a GET there is answered 405, not as an API call). */
export function isWebhookRequest(url: string | undefined): boolean {
  return pathOf(url).startsWith('/webhooks/');
}

/** What one request came to, for the diagnostics channel: never a secret, never a body. */
interface WebhookLog {
  requestId: string;
  kind: 'git' | 'registry' | 'unknown';
  connectionId?: string;
  provider?: string;
  event?: string;
  status: number;
  error?: WebhookErrorCode;
  reason?: string;
  deployments?: number;
  skipped?: number;
  ms: number;
}

class WebhookFailure extends Error {
  readonly code: WebhookErrorCode;

  constructor(code: WebhookErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** Handles one request under `/webhooks/`; never throws. */
export async function handleWebhookRequest(req: IncomingMessage, res: ServerResponse, deps: WebhookDeps): Promise<void> {
  const started = performance.now();
  const log: Omit<WebhookLog, 'status' | 'ms'> = { requestId: randomUUID(), kind: 'unknown' };
  let status: number;
  let reply: Record<string, unknown>;
  try {
    ({ status, reply } = await route(req, deps, log));
  } catch (error) {
    const failure = error instanceof WebhookFailure ? error : internalError(error);
    status = WEBHOOK_ERRORS[failure.code];
    reply = { error: failure.code, message: failure.message };
    log.error = failure.code;
  }
  const text = JSON.stringify(reply);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-request-id': log.requestId,
    ...(status === 405 && { allow: 'POST' }),
    ...(log.error === 'WebhookUnauthorized' && { 'www-authenticate': 'Bearer' }),
  });
  res.end(text);
  if (webhookChannel.hasSubscribers) webhookChannel.publish({ ...log, status, ms: performance.now() - started } satisfies WebhookLog);
}

async function route(req: IncomingMessage, deps: WebhookDeps, log: Omit<WebhookLog, 'status' | 'ms'>): Promise<{ status: number; reply: Record<string, unknown> }> {
  const path = pathOf(req.url);
  const isGit = path.startsWith(GIT_WEBHOOK_PATH_PREFIX);
  if (!isGit && path !== REGISTRY_WEBHOOK_PATH) {
    throw new WebhookFailure('WebhookNotFound', `Nothing is served at ${path}; webhooks are POST ${GIT_WEBHOOK_PATH_PREFIX}<connection id> and POST ${REGISTRY_WEBHOOK_PATH}`);
  }
  if (req.method !== 'POST') throw new WebhookFailure('WebhookMethodNotAllowed', `Webhooks are delivered with POST; got ${req.method}`);
  if (isGit) {
    log.kind = 'git';
    return gitPush(req, deps, path.slice(GIT_WEBHOOK_PATH_PREFIX.length), log);
  }
  log.kind = 'registry';
  return registryNotification(req, deps, log);
}

async function gitPush(req: IncomingMessage, deps: WebhookDeps, connectionId: string, log: Omit<WebhookLog, 'status' | 'ms'>): Promise<{ status: number; reply: Record<string, unknown> }> {
  // The id is checked before it is logged, so a log line never carries arbitrary path text.
  const secret = /^[0-9a-f]{32}$/.test(connectionId) ? deps.webhookSecret(connectionId) : undefined;
  if (secret === undefined) {
    throw new WebhookFailure('WebhookNotFound', 'No connection has this webhook; copy the path from Berth.GetConnectionWebhook (a deleted connection\'s webhook is gone)');
  }
  log.connectionId = connectionId;
  const sender = gitSender(req.headers);
  if (sender === undefined) throw new WebhookFailure('WebhookUnknownSender', `The request has none of the event headers ${GIT_EVENT_HEADERS}; send push webhooks from GitHub, GitLab, Gitea, Forgejo or Gogs`);
  log.provider = sender.provider;
  log.event = sender.event.slice(0, 64);
  const body = await readBody(req, deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES, tooLarge);
  const check = verifyGitSignature(sender, req.headers, body, secret);
  if (!check.ok) {
    if (check.problem === 'unsigned') {
      throw new WebhookFailure('WebhookUnsigned', `The request is not signed (no ${check.expected} header); set the webhook's secret to the one Berth.GetConnectionWebhook returns`);
    }
    throw new WebhookFailure('WebhookSignatureMismatch', 'The signature does not match');
  }
  const event = parseGitWebhook(sender, headerValue(req, 'content-type'), body);
  switch (event.kind) {
    case 'malformed':
      throw new WebhookFailure('WebhookMalformedPayload', `The ${sender.provider} ${sender.event} payload cannot be read: ${event.reason}`);
    case 'ping':
      log.reason = 'ping';
      return { status: 200, reply: { message: event.message } };
    case 'ignored':
      log.reason = event.reason;
      return { status: 200, reply: { message: event.reason } };
    case 'push': {
      const { push } = event;
      const outcome = await deps.onGitPush(connectionId, push);
      return pushReply(outcome, `push to ${push.branch} at ${push.commit.slice(0, 12)}`, { branch: push.branch, commit: push.commit }, log);
    }
  }
}

async function registryNotification(req: IncomingMessage, deps: WebhookDeps, log: Omit<WebhookLog, 'status' | 'ms'>): Promise<{ status: number; reply: Record<string, unknown> }> {
  const token = deps.registryToken;
  if (token === undefined) throw new WebhookFailure('WebhookNotEnabled', 'Registry notifications are turned off: no notification token is configured');
  const given = /^Bearer +(.+)$/i.exec(headerValue(req, 'authorization') ?? '')?.[1]?.trim();
  if (given === undefined || !sameSecret(given, token)) {
    throw new WebhookFailure('WebhookUnauthorized', "The notification must carry 'Authorization: Bearer <token>' with the configured notification token");
  }
  const body = await readBody(req, deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES, tooLarge);
  const notification = parseRegistryNotification(headerValue(req, 'content-type'), body);
  if (notification.kind === 'malformed') throw new WebhookFailure('WebhookMalformedPayload', `The registry notification cannot be read: ${notification.reason}`);
  if (notification.pushes.length === 0) {
    log.reason = 'no manifest pushes';
    return { status: 200, reply: { message: 'no manifest push in this notification; nothing to deploy', ignored: notification.skipped } };
  }
  const outcome = await deps.onImagePush(notification.pushes);
  return pushReply(outcome, `${notification.pushes.length} manifest push${notification.pushes.length === 1 ? '' : 'es'}`, {}, log);
}

function pushReply(outcome: PushOutcome, what: string, extra: Record<string, unknown>, log: Omit<WebhookLog, 'status' | 'ms'>): { status: number; reply: Record<string, unknown> } {
  const { deployments, skipped } = outcome;
  log.deployments = deployments.length;
  log.skipped = skipped.length;
  const message = deployments.length > 0
    ? `${what}: ${deployments.length} deployment${deployments.length === 1 ? '' : 's'} started`
    : `${what}: nothing to deploy`;
  return { status: deployments.length > 0 ? 202 : 200, reply: { message, ...extra, deployments, skipped } };
}

function internalError(error: unknown): WebhookFailure {
  // As in the API: the cause may say too much about internals; it goes to the channel only.
  if (webhookChannel.hasSubscribers) webhookChannel.publish({ internalError: error });
  return new WebhookFailure('WebhookInternalError', 'An internal error occurred; the delivery may be retried');
}

function tooLarge(limit: number): WebhookFailure {
  return new WebhookFailure('WebhookPayloadTooLarge', `The body is larger than ${limit} bytes`);
}

function pathOf(url: string | undefined): string {
  return (url ?? '/').split('?')[0] ?? '/';
}


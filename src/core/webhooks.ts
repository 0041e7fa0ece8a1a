/**
 * @module
 * The notifications that start automatic deployments (issue 4), checked and read without any
 * I/O: push webhooks from git hosts, verified with the connection's webhook secret, and the
 * CNCF distribution registry's notifications of pushed manifests.
 *
 * Git hosts sign in three ways, all compared in constant time:
 * - GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`;
 * - Gitea, Forgejo and Gogs: `X-Gitea-Signature`, `X-Forgejo-Signature`, `X-Gogs-Signature`
 *   (the same HMAC in hex, no prefix; Gitea sends several at once, and each one sent must match);
 * - GitLab: `X-Gitlab-Token`, the secret itself.
 * The sender is told by its event header. Gitea also sends `X-GitHub-Event` for compatibility,
 * so its own headers are looked at first.
 *
 * A push becomes one `GitPush`, whatever host sent it. Its `changedPaths` are the files the
 * pushed commits touched, or undefined whenever the payload cannot list them all (a truncated
 * commit list, a new branch, a forced push): the deploying side must then assume every
 * directory changed, since a needless deployment costs less than a missed one.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { showValue } from './errors.ts';
import { isPlainObject } from './model/shape.ts';

export type GitProvider = 'github' | 'gitlab' | 'gitea';

/** A push to a branch, as every provider's payload reads once normalized. */
export interface GitPush {
  provider: GitProvider;
  /** Every address the payload gives for the repository (https, ssh, git and web forms). */
  repositoryUrls: string[];
  /** The branch pushed to, without `refs/heads/`. */
  branch: string;
  /** The commit the branch now points at (40 hex, or 64 for SHA-256 repositories). */
  commit: string;
  /** Paths (relative to the repository root) the pushed commits added, modified or removed, sorted; undefined when the payload cannot tell. */
  changedPaths: string[] | undefined;
}

/** A manifest pushed to a registry, from one event of a notification. */
export interface ImagePush {
  /** The registry as clients address it: `host[:port]`. */
  registryHost: string;
  repository: string;
  /** The tag pushed; undefined for a push by digest. */
  tag: string | undefined;
  digest: string;
}

/** What the deploying side did about a push: deployments started, and services it left alone and why. */
export interface PushOutcome {
  deployments: { serviceArn: string; operationId: string }[];
  skipped: { serviceArn: string; reason: string }[];
}

/** Request headers by lower-case name, as node:http gives them. */
export type WebhookHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** Where a connection's push webhook is served, under the API endpoint. */
export const GIT_WEBHOOK_PATH_PREFIX = '/webhooks/git/';
/** Where registry notifications are served, under the API endpoint. */
export const REGISTRY_WEBHOOK_PATH = '/webhooks/registry';

/** The path a connection's push webhook is served at: its 32-hex id, never its name. */
export function gitWebhookPath(connectionId: string): string {
  return `${GIT_WEBHOOK_PATH_PREFIX}${connectionId}`;
}

// ---------------------------------------------------------------------------------------------
// Senders and signatures.

/** Who sent a git webhook and which event it reports. */
export interface GitSender {
  provider: GitProvider;
  event: string;
}

const GITEA_EVENT_HEADERS = ['x-forgejo-event', 'x-gitea-event', 'x-gogs-event'];
const GITEA_SIGNATURE_HEADERS = ['x-forgejo-signature', 'x-gitea-signature', 'x-gogs-signature'];

/** The sender told by the event header; undefined when the request has none of them. */
export function gitSender(headers: WebhookHeaders): GitSender | undefined {
  for (const name of GITEA_EVENT_HEADERS) {
    const event = header(headers, name);
    if (event !== undefined) return { provider: 'gitea', event };
  }
  const gitlab = header(headers, 'x-gitlab-event');
  if (gitlab !== undefined) return { provider: 'gitlab', event: gitlab };
  const github = header(headers, 'x-github-event');
  if (github !== undefined) return { provider: 'github', event: github };
  return undefined;
}

/** The event headers `gitSender` looks for, for messages. */
export const GIT_EVENT_HEADERS = 'X-GitHub-Event, X-Gitlab-Event, X-Gitea-Event, X-Forgejo-Event or X-Gogs-Event';

export type SignatureCheck =
  | { ok: true }
  /** No signature header at all: the webhook was set up without a secret. */
  | { ok: false; problem: 'unsigned'; expected: string }
  | { ok: false; problem: 'mismatch' };

/** Whether the request carries a signature made with `secret` in the form its sender uses. */
export function verifyGitSignature(sender: GitSender, headers: WebhookHeaders, body: Buffer, secret: string): SignatureCheck {
  switch (sender.provider) {
    case 'github': {
      const given = header(headers, 'x-hub-signature-256');
      if (given === undefined) return { ok: false, problem: 'unsigned', expected: 'X-Hub-Signature-256' };
      return hmacMatches(given, 'sha256=', body, secret) ? { ok: true } : { ok: false, problem: 'mismatch' };
    }
    case 'gitea': {
      const given = GITEA_SIGNATURE_HEADERS.map((name) => header(headers, name)).filter((v) => v !== undefined);
      const hub = header(headers, 'x-hub-signature-256');
      if (given.length === 0 && hub === undefined) return { ok: false, problem: 'unsigned', expected: 'X-Gitea-Signature' };
      // Every signature sent must match: one right header must not vouch for a wrong one.
      const results = [...given.map((v) => hmacMatches(v, '', body, secret)), ...(hub === undefined ? [] : [hmacMatches(hub, 'sha256=', body, secret)])];
      return results.every(Boolean) ? { ok: true } : { ok: false, problem: 'mismatch' };
    }
    case 'gitlab': {
      const given = header(headers, 'x-gitlab-token');
      if (given === undefined) return { ok: false, problem: 'unsigned', expected: 'X-Gitlab-Token' };
      return sameSecret(given, secret) ? { ok: true } : { ok: false, problem: 'mismatch' };
    }
  }
}

/** `given` is `<prefix><hex HMAC-SHA256 of body under secret>`, compared in constant time. */
function hmacMatches(given: string, prefix: string, body: Buffer, secret: string): boolean {
  const hex = given.trim().toLowerCase();
  if (!hex.startsWith(prefix) || !/^[0-9a-f]{64}$/.test(hex.slice(prefix.length))) return false;
  const expected = createHmac('sha256', secret).update(body).digest();
  return timingSafeEqual(Buffer.from(hex.slice(prefix.length), 'hex'), expected);
}

/**
 * Whether two secrets are equal, in time that depends on neither: both are hashed first, so
 * the comparison is of equal-length buffers and the length of the secret does not show either.
 */
export function sameSecret(given: string, secret: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(secret));
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

// ---------------------------------------------------------------------------------------------
// Git push payloads.

export type GitWebhookEvent =
  | { kind: 'push'; push: GitPush }
  /** GitHub's `ping`, sent when a webhook is created: answered, nothing else. */
  | { kind: 'ping'; message: string }
  /** A well-formed event that deploys nothing (a tag push, a deleted branch, another event). */
  | { kind: 'ignored'; reason: string }
  | { kind: 'malformed'; reason: string };

/**
 * GitHub's webhook deliveries carry no total commit count. It documents a cap of 20 commits on
 * the same payload in its timeline and 2048 on webhook deliveries; a list of 20 or more is
 * taken as possibly cut short.
 */
export const GITHUB_COMMIT_LIMIT = 20;
/** GitHub caps each commit's `added`, `removed` and `modified` lists (3000 entries, 5000 in later documentation). */
export const GITHUB_FILE_LIST_LIMIT = 3000;

const ZERO_COMMIT = /^0+$/;
const COMMIT = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** Reads a verified request's body as the event its sender names. Call only after `verifyGitSignature`. */
export function parseGitWebhook(sender: GitSender, contentType: string | undefined, body: Buffer): GitWebhookEvent {
  const { provider, event } = sender;
  const isPush = provider === 'gitlab' ? event === 'Push Hook' : event === 'push';
  if (provider === 'github' && event === 'ping') return { kind: 'ping', message: 'pong: the webhook reaches Berth and its signature matches' };
  if (provider === 'gitlab' && event === 'Tag Push Hook') return { kind: 'ignored', reason: 'a tag push deploys nothing: services follow a branch' };
  if (!isPush) {
    const expected = provider === 'gitlab' ? 'Push Hook' : 'push';
    return { kind: 'ignored', reason: `the event ${showValue(event)} deploys nothing; Berth acts on ${showValue(expected)} events only (the webhook may send just those)` };
  }
  const payload = decodePayload(contentType, body);
  if (typeof payload === 'string') return { kind: 'malformed', reason: payload };
  return provider === 'gitlab' ? gitlabPush(payload) : githubLikePush(provider, payload);
}

/** The JSON object a webhook sends, as `application/json` or as the `payload` form field GitHub and Gitea can send instead. */
function decodePayload(contentType: string | undefined, body: Buffer): Record<string, unknown> | string {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  let text = body.toString('utf8');
  if (type === 'application/x-www-form-urlencoded') {
    const field = new URLSearchParams(text).get('payload');
    if (field === null) return "the form body has no 'payload' field; set the webhook's content type to application/json";
    text = field;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `the payload is not valid JSON: ${(error as Error).message}`;
  }
  return isPlainObject(value) ? value : 'the payload must be a JSON object';
}

/** The refs, commits and file lists GitHub and Gitea (and its forks) share. */
function githubLikePush(provider: 'github' | 'gitea', payload: Record<string, unknown>): GitWebhookEvent {
  const ref = refOf(payload);
  if (ref.kind !== 'branch') return ref.event;
  const after = payload.after;
  if (typeof after !== 'string' || !(COMMIT.test(after) || ZERO_COMMIT.test(after))) return malformed("'after' is not a commit id");
  if (ZERO_COMMIT.test(after) || payload.deleted === true) return { kind: 'ignored', reason: `the branch ${showValue(ref.branch)} was deleted; nothing to deploy` };
  const repository = isPlainObject(payload.repository) ? payload.repository : undefined;
  if (repository === undefined) return malformed("there is no 'repository' object");
  const urls = repositoryUrls([
    repository.clone_url,
    repository.ssh_url,
    repository.git_url,
    ...withGitSuffix(repository.html_url),
    // GitHub's push payload gives the web address as `url` too; Gitea's `url` is its API's.
    ...(provider === 'github' ? withGitSuffix(repository.url) : []),
  ]);
  if (urls.length === 0) return malformed("'repository' gives no clone_url, ssh_url or html_url");
  const commits = commitsOf(payload);
  if (typeof commits === 'string') return malformed(commits);

  let complete = !ZERO_COMMIT.test(String(payload.before ?? '0')) && payload.created !== true && payload.forced !== true;
  if (provider === 'github') complete &&= commits.length < GITHUB_COMMIT_LIMIT;
  else complete &&= typeof payload.total_commits === 'number' && payload.total_commits <= commits.length;
  return pushEvent(provider, urls, ref.branch, after, commits, complete);
}

/** GitLab's push hook: `checkout_sha`, `total_commits_count`, and the URLs under `project` and `repository`. */
function gitlabPush(payload: Record<string, unknown>): GitWebhookEvent {
  if (payload.object_kind !== undefined && payload.object_kind !== 'push') return malformed(`'object_kind' is ${showValue(String(payload.object_kind))}, not 'push'`);
  const ref = refOf(payload);
  if (ref.kind !== 'branch') return ref.event;
  const after = payload.after;
  if (typeof after !== 'string' || !(COMMIT.test(after) || ZERO_COMMIT.test(after))) return malformed("'after' is not a commit id");
  if (ZERO_COMMIT.test(after)) return { kind: 'ignored', reason: `the branch ${showValue(ref.branch)} was deleted; nothing to deploy` };
  const checkout = payload.checkout_sha;
  const commit = typeof checkout === 'string' && COMMIT.test(checkout) ? checkout : after;
  const project = isPlainObject(payload.project) ? payload.project : {};
  const repository = isPlainObject(payload.repository) ? payload.repository : {};
  const urls = repositoryUrls([
    project.git_http_url,
    project.git_ssh_url,
    project.http_url,
    project.ssh_url,
    ...withGitSuffix(project.web_url),
    repository.git_http_url,
    repository.git_ssh_url,
    repository.url,
    ...withGitSuffix(repository.homepage),
  ]);
  if (urls.length === 0) return malformed("neither 'project' nor 'repository' gives a clone URL");
  const commits = commitsOf(payload);
  if (typeof commits === 'string') return malformed(commits);
  // GitLab lists at most 20 commits and says how many there were.
  const total = payload.total_commits_count;
  const complete = !ZERO_COMMIT.test(String(payload.before ?? '0')) && typeof total === 'number' && total <= commits.length;
  return pushEvent('gitlab', urls, ref.branch, commit, commits, complete);
}

type RefOutcome = { kind: 'branch'; branch: string } | { kind: 'other'; event: GitWebhookEvent };

function refOf(payload: Record<string, unknown>): RefOutcome {
  const ref = payload.ref;
  if (typeof ref !== 'string' || ref === '') return { kind: 'other', event: malformed("there is no 'ref'") };
  if (ref.startsWith('refs/tags/')) return { kind: 'other', event: { kind: 'ignored', reason: `a tag push (${showValue(ref.slice('refs/tags/'.length))}) deploys nothing: services follow a branch` } };
  if (!ref.startsWith('refs/heads/') || ref.length === 'refs/heads/'.length) return { kind: 'other', event: { kind: 'ignored', reason: `the ref ${showValue(ref)} is not a branch; nothing to deploy` } };
  return { kind: 'branch', branch: ref.slice('refs/heads/'.length) };
}

interface PayloadCommit {
  /** Undefined when the commit does not list its files. */
  paths: string[] | undefined;
  /** Whether a file list may have been cut short. */
  capped: boolean;
}

/** The `commits` list, each commit's `added`, `modified` and `removed` together; a string says what is malformed. */
function commitsOf(payload: Record<string, unknown>): PayloadCommit[] | string {
  const commits = payload.commits ?? [];
  if (!Array.isArray(commits)) return "'commits' is not a list";
  const out: PayloadCommit[] = [];
  for (const [i, commit] of commits.entries()) {
    if (!isPlainObject(commit)) return `'commits[${i}]' is not an object`;
    const lists = [commit.added, commit.modified, commit.removed];
    if (lists.some((l) => l === undefined || l === null)) {
      out.push({ paths: undefined, capped: false });
      continue;
    }
    if (!lists.every((l) => Array.isArray(l) && l.every((p) => typeof p === 'string'))) return `'commits[${i}]' has an added, modified or removed list that is not a list of paths`;
    const typed = lists as string[][];
    out.push({ paths: typed.flat(), capped: typed.some((l) => l.length >= GITHUB_FILE_LIST_LIMIT) });
  }
  return out;
}

function pushEvent(provider: GitProvider, repositoryUrls: string[], branch: string, commit: string, commits: PayloadCommit[], complete: boolean): GitWebhookEvent {
  let changedPaths: string[] | undefined;
  // A push that moves the branch but lists no commit (it now points at a commit that was
  // already elsewhere) says nothing about which files differ from what ran before.
  if (complete && commits.length > 0 && commits.every((c) => c.paths !== undefined && !c.capped)) {
    changedPaths = [...new Set(commits.flatMap((c) => c.paths ?? []))].sort();
  }
  return { kind: 'push', push: { provider, repositoryUrls, branch, commit, changedPaths } };
}

function repositoryUrls(candidates: unknown[]): string[] {
  return [...new Set(candidates.filter((u): u is string => typeof u === 'string' && u !== ''))];
}

/** A web address as given and with `.git` appended, the two forms a repository URL is written in. */
function withGitSuffix(url: unknown): string[] {
  if (typeof url !== 'string' || !/^https?:\/\//.test(url)) return [];
  const bare = url.replace(/\/+$/, '');
  return bare.endsWith('.git') ? [bare] : [bare, `${bare}.git`];
}

// ---------------------------------------------------------------------------------------------
// Registry notifications.

/** The media type the CNCF distribution registry sends its notification envelopes as. */
export const REGISTRY_EVENTS_MEDIA_TYPE = 'application/vnd.docker.distribution.events.v1+json';

/** Manifests and indexes: what a tag can point at. Layers, configs and other blobs are not here. */
const MANIFEST_MEDIA_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
]);

// The OCI distribution spec's grammar for repository names, tags and digests.
const REPOSITORY = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[A-Za-z0-9=_-]+$/;
const HOST = /^[A-Za-z0-9.-]+(?::[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?$/;

export type RegistryNotification =
  /** `skipped`: why each event that is not a manifest push was passed over (pulls, blobs, events missing a member). */
  | { kind: 'pushes'; pushes: ImagePush[]; skipped: string[] }
  | { kind: 'malformed'; reason: string };

/**
 * Reads a notification envelope (`{"events": [...]}`). Only the envelope itself can be
 * malformed: an event that cannot be read is skipped, because the registry retries a refused
 * delivery, and one odd event must not hold back the pushes queued behind it.
 */
export function parseRegistryNotification(contentType: string | undefined, body: Buffer): RegistryNotification {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== REGISTRY_EVENTS_MEDIA_TYPE && type !== 'application/json') {
    return { kind: 'malformed', reason: `the content type is ${showValue(type ?? '')}; registry notifications are ${REGISTRY_EVENTS_MEDIA_TYPE}` };
  }
  let envelope: unknown;
  try {
    envelope = JSON.parse(body.toString('utf8'));
  } catch (error) {
    return { kind: 'malformed', reason: `the envelope is not valid JSON: ${(error as Error).message}` };
  }
  if (!isPlainObject(envelope) || !Array.isArray(envelope.events)) return { kind: 'malformed', reason: "the envelope must be a JSON object with an 'events' list" };
  const pushes: ImagePush[] = [];
  const skipped: string[] = [];
  for (const [i, event] of envelope.events.entries()) {
    const read = imagePush(event);
    if (typeof read === 'string') skipped.push(`events[${i}]: ${read}`);
    else pushes.push(read);
  }
  return { kind: 'pushes', pushes, skipped };
}

function imagePush(event: unknown): ImagePush | string {
  if (!isPlainObject(event)) return 'not an object';
  if (event.action !== 'push') return `the action is ${showValue(String(event.action))}, not 'push'`;
  const target = isPlainObject(event.target) ? event.target : undefined;
  if (target === undefined) return "no 'target'";
  const { mediaType, repository, digest, tag, url } = target;
  const isManifest = (typeof mediaType === 'string' && MANIFEST_MEDIA_TYPES.has(mediaType)) || (typeof url === 'string' && /\/v2\/.+\/manifests\//.test(url));
  if (!isManifest) return `a blob (${showValue(String(mediaType))}), not a manifest`;
  if (typeof repository !== 'string' || !REPOSITORY.test(repository)) return "no valid 'target.repository'";
  if (typeof digest !== 'string' || !DIGEST.test(digest)) return "no valid 'target.digest'";
  if (tag !== undefined && (typeof tag !== 'string' || !TAG.test(tag))) return "'target.tag' is not a valid tag";
  const request = isPlainObject(event.request) ? event.request : {};
  const registryHost = typeof request.host === 'string' && HOST.test(request.host) ? request.host : hostOf(url);
  if (registryHost === undefined) return "no 'request.host' and no 'target.url' to tell the registry's address";
  return { registryHost, repository, tag, digest };
}

function hostOf(url: unknown): string | undefined {
  if (typeof url !== 'string') return undefined;
  try {
    const host = new URL(url).host;
    return HOST.test(host) ? host : undefined;
  } catch {
    return undefined;
  }
}

function malformed(reason: string): GitWebhookEvent {
  return { kind: 'malformed', reason };
}

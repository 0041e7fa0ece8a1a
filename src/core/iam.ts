/**
 * @module
 * Berth's principals and credentials, IAM-style (docs/access-control.md): users with inline
 * policies, long-term access keys (`AKIA…`) and temporary session credentials (`ASIA…` plus a
 * session token). The records the store keeps, the caller a verified request acts as, and the
 * check of a request's security token. Secrets are only ever held sealed here.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { BerthError } from './errors.ts';
import { newAccessKey, type ArnContext } from './ids.ts';

/** IAM's limit: two access keys per user, so one can be rotated while the other works. */
export const MAX_ACCESS_KEYS_PER_USER = 2;
/** Berth's limit on inline policies per user (IAM limits their total size instead). */
export const MAX_POLICIES_PER_USER = 10;
/** GetSessionToken's DurationSeconds range and default, as in AWS STS. */
export const SESSION_DURATION = { min: 900, max: 129_600, default: 43_200 } as const;

/** The user the installation starts with, and the inline policy that lets it do everything. */
export const ADMIN_USER_NAME = 'admin';
export const ADMIN_POLICY_NAME = 'AdministratorAccess';
export const ADMIN_POLICY_DOCUMENT = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}';

export type AccessKeyStatus = 'Active' | 'Inactive';

export interface UserRecord {
  /** `AIDA` + 17 characters, IAM's unique id form; never reused. */
  id: string;
  name: string;
  createdAt: number;
}

export interface UserPolicyRecord {
  userId: string;
  name: string;
  /** The document exactly as the client sent it (validated when it was put). */
  document: string;
}

export interface AccessKeyRecord {
  accessKeyId: string;
  userId: string;
  status: AccessKeyStatus;
  /** The secret access key, sealed by the SecretBox with context `access-key:<id>`. */
  sealedSecret: string;
  createdAt: number;
}

/** An access key from before access control, its secret still in plaintext (converted at start). */
export interface PlaintextAccessKeyRecord {
  accessKeyId: string;
  secretAccessKey: string;
  createdAt: number;
}

export interface SessionRecord {
  /** `ASIA` + 16 characters. */
  accessKeyId: string;
  /** The long-term key that minted the session: the session lives only while that key is Active. */
  parentAccessKeyId: string;
  userId: string;
  /** The secret, sealed with context `session:<id>`. */
  sealedSecret: string;
  /** SHA-256 (hex) of the session token: the token itself is never stored. */
  tokenHash: string;
  createdAt: number;
  expiresAt: number;
}

/** Who a verified request acts as. */
export interface Caller {
  userId: string;
  userName: string;
  userArn: string;
  /** The access key id the request was signed with (`AKIA…` or `ASIA…`). */
  accessKeyId: string;
  /** True when signed with temporary credentials from GetSessionToken. */
  session: boolean;
}

/**
 * What the API needs to check one access key: its secret (to verify the signature), who it
 * stands for, and for session keys the token the request must carry and until when.
 */
export interface CallerCredential {
  secret: string;
  caller: Caller;
  session?: { tokenHash: string; expiresAt: number };
}

export function userArn(ctx: Pick<ArnContext, 'accountId'>, userName: string): string {
  return `arn:aws:iam::${ctx.accountId}:user/${userName}`;
}

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** An IAM-style unique id for a user: `AIDA` + 17 characters. */
export function newUserId(): string {
  return `AIDA${[...randomBytes(17)].map((b) => ID_ALPHABET[b % 32]).join('')}`;
}

/** Temporary credentials: an `ASIA` key id, a secret and a session token (all random). */
export function newSessionCredentials(): { accessKeyId: string; secretAccessKey: string; sessionToken: string } {
  const { accessKeyId, secretAccessKey } = newAccessKey();
  return { accessKeyId: `ASIA${accessKeyId.slice(4)}`, secretAccessKey, sessionToken: randomBytes(96).toString('base64') };
}

export const isSessionKeyId = (accessKeyId: string): boolean => accessKeyId.startsWith('ASIA');

/** The SecretBox context a key's secret is sealed under: a sealed value moved to another key does not open. */
export const accessKeySecretContext = (accessKeyId: string): string => `access-key:${accessKeyId}`;
export const sessionSecretContext = (accessKeyId: string): string => `session:${accessKeyId}`;

export function sessionTokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

const invalidToken = (): BerthError => new BerthError('UnrecognizedClientException', 'The security token included in the request is invalid.');

/**
 * Checks the X-Amz-Security-Token of a request whose signature is already verified: session
 * keys must carry their own token, unexpired; long-term keys must carry none (a token with an
 * `AKIA` key means the client mixed up two sets of credentials).
 */
export function checkSecurityToken(credential: CallerCredential, token: string | undefined, now: number): void {
  const session = credential.session;
  if (session === undefined) {
    if (token !== undefined) throw invalidToken();
    return;
  }
  if (token === undefined) throw invalidToken();
  const given = Buffer.from(sessionTokenHash(token), 'latin1');
  if (!timingSafeEqual(given, Buffer.from(session.tokenHash, 'latin1'))) throw invalidToken();
  if (now >= session.expiresAt) throw new BerthError('ExpiredTokenException', 'The security token included in the request is expired');
}

/**
 * @module
 * Connections to git hosts (app-runner-api.md §2.3, §3.12) and how Berth completes their
 * handshake. App Runner finishes it in its console through an OAuth app; Berth takes a
 * credential through its own operation `Berth.CompleteConnectionHandshake` instead: an HTTPS
 * token, or an SSH private key with the host keys to pin. The credential is kept sealed
 * (`SecretBox`, bound to the connection's ARN) and opened only for the builds that need it.
 *
 * Each connection also has a webhook secret, Berth's own: git hosts sign their push webhooks
 * with it (core/webhooks.ts). It is made with the connection, sealed like the credential,
 * shown only by `Berth.GetConnectionWebhook` and replaced by `Berth.RotateConnectionWebhookSecret`.
 */
import { createPrivateKey, randomBytes } from 'node:crypto';
import { invalidRequest, invalidState, notFound, showValue } from './errors.ts';
import type { ArnContext } from './ids.ts';
import { ARN } from './model/app-runner-shapes.ts';
import { isPlainObject, str, struct, validateShape, validationMessage, type Shape } from './model/shape.ts';
import { parseResourceArn, type ResourceRecord } from './resources.ts';
import type { SecretBox } from './secret-box.ts';
import type { Store } from './store.ts';
import { epochSeconds } from './time.ts';
import { gitWebhookPath } from './webhooks.ts';

/** App Runner's GITHUB and BITBUCKET, and Berth's values for other git hosts (GIT: any host). */
export type ProviderType = 'GITHUB' | 'BITBUCKET' | 'GITLAB' | 'GITEA' | 'GIT';
export type ConnectionStatus = 'PENDING_HANDSHAKE' | 'AVAILABLE' | 'ERROR' | 'DELETED';
/** The form of a completed handshake's credential; shown as the extension member `CredentialType`. */
export type CredentialType = 'TOKEN' | 'SSH_KEY';

export interface ConnectionData {
  arn: string;
  name: string;
  providerType: ProviderType;
  status: ConnectionStatus;
  createdAt: number;
  deletedAt?: number;
  /** Set by the handshake: the credential's form in clear, the credential itself sealed. */
  credential?: { type: CredentialType; sealed: string; completedAt: number };
  /** The secret push webhooks are signed with, sealed; connections stored before webhooks existed get one when it is first asked for. */
  webhookSecret?: string;
}

export type ConnectionRecord = ResourceRecord<ConnectionData>;

/** A completed handshake's credential, opened. */
export type ConnectionCredential =
  | { type: 'TOKEN'; token: string; username?: string }
  | { type: 'SSH_KEY'; privateKey: string; knownHosts: string };

export const CONNECTION_ARN_FORM = 'a connection ARN: arn:aws:apprunner:<region>:<account>:connection/<name>/<32 hex id>';

// Tokens go into HTTP headers and git's credential protocol, where whitespace or a line break
// would end the value early or smuggle in another field: printable ASCII only.
const TOKEN = str({ min: 1, max: 4096, pattern: /^[\x21-\x7e]+$/ });
// The user of HTTPS basic authentication: a name or e-mail address; never ':' (it ends the user).
const USERNAME = str({ min: 1, max: 256, pattern: /^[A-Za-z0-9._@+-]+$/ });

/**
 * Input shapes of Berth's connection operations (target prefix `Berth`), checked like App
 * Runner's. The rules that span members (exactly one credential form, known hosts required
 * with a key) and the key formats are checked after the shape, by `handshakeCredential`.
 */
export const CONNECTION_EXTENSION_SHAPES: Readonly<Record<string, Shape>> = {
  CompleteConnectionHandshake: struct(
    {
      ConnectionArn: ARN,
      Credential: struct({
        Token: TOKEN,
        Username: USERNAME,
        SshPrivateKey: str({ min: 1, max: 16384 }),
        SshKnownHosts: str({ min: 1, max: 65536 }),
      }),
    },
    ['ConnectionArn', 'Credential'],
  ),
  GetConnectionWebhook: struct({ ConnectionArn: ARN }, ['ConnectionArn']),
  RotateConnectionWebhookSecret: struct({ ConnectionArn: ARN }, ['ConnectionArn']),
};

/** Host key algorithms OpenSSH accepts in known_hosts and as key types. */
const SSH_KEY_TYPES: readonly string[] = [
  'ssh-ed25519',
  'ssh-rsa',
  'ssh-dss',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
];

/** Every connection not DELETED, oldest first. */
export function liveConnections(store: Store): ConnectionRecord[] {
  return (store.listResources('connection') as ConnectionRecord[]).filter((r) => r.live);
}

/**
 * The connection a full ARN names, deleted or not. A string that is no connection ARN is
 * InvalidRequestException; one that names nothing here, ResourceNotFoundException.
 */
export function findConnection(store: Store, ctx: ArnContext, arn: string, path: string): ConnectionRecord {
  const parts = parseResourceArn(ctx, arn, 'connection', path, CONNECTION_ARN_FORM);
  if (parts.length !== 2 || !/^[0-9a-f]{32}$/.test(parts[1] ?? '')) {
    throw invalidRequest(`Value ${showValue(arn)} at '${path}' is not ${CONNECTION_ARN_FORM}`);
  }
  const record = store.getResource('connection', arn) as ConnectionRecord | undefined;
  if (record === undefined) throw notFound(`No connection with ARN ${showValue(arn)} exists in account ${ctx.accountId}, region ${ctx.region}`);
  return record;
}

/** The live service whose source uses the connection, if any. */
export function serviceUsingConnection(store: Store, arn: string): { name: string; arn: string } | undefined {
  return store.listLiveServices().find((s) => s.config.SourceConfiguration.AuthenticationConfiguration?.ConnectionArn === arn);
}

/** `Connection` and `ConnectionSummary` (§3.12; the same members), plus Berth's `CredentialType`. */
export function connectionOutput(record: ConnectionRecord): Record<string, unknown> {
  const d = record.data;
  return {
    ConnectionName: d.name,
    ConnectionArn: d.arn,
    ProviderType: d.providerType,
    Status: d.status,
    CreatedAt: epochSeconds(d.createdAt),
    ...(d.credential !== undefined && { CredentialType: d.credential.type }),
  };
}

/** The record of a deleted connection: DELETED, and its credential and webhook secret forgotten. */
export function deletedConnection(record: ConnectionRecord, now: number): ConnectionRecord {
  const { credential: _forgotten, webhookSecret: _alsoForgotten, ...data } = record.data;
  return { ...record, live: false, data: { ...data, status: 'DELETED', deletedAt: now } };
}

/** The record after a handshake: AVAILABLE, with `credential` sealed (replacing any earlier one). */
export function completedConnection(record: ConnectionRecord, credential: ConnectionCredential, secrets: SecretBox, now: number): ConnectionRecord {
  const sealed = secrets.seal(JSON.stringify(credential), sealContext(record.data.arn));
  return { ...record, data: { ...record.data, status: 'AVAILABLE', credential: { type: credential.type, sealed, completedAt: now } } };
}

/**
 * The opened credential of an AVAILABLE connection, for fetching its repositories. A
 * connection that does not exist or was deleted is ResourceNotFoundException; one whose
 * handshake is not complete, InvalidStateException.
 */
export function connectionCredential(store: Store, secrets: SecretBox, arn: string): ConnectionCredential {
  const record = store.getResource('connection', arn) as ConnectionRecord | undefined;
  if (record === undefined || !record.live) throw notFound(`No connection with ARN ${showValue(arn)} exists (it may have been deleted)`);
  const { credential, status, name } = record.data;
  if (status !== 'AVAILABLE' || credential === undefined) {
    throw invalidState(`Connection ${showValue(name)} is ${status}, not AVAILABLE; complete its handshake with Berth.CompleteConnectionHandshake first`);
  }
  return JSON.parse(secrets.open(credential.sealed, sealContext(arn))) as ConnectionCredential;
}

function sealContext(arn: string): string {
  return `connection:${arn}`;
}

// ---------------------------------------------------------------------------------------------
// Webhook secrets.

/** A new webhook secret: 32 random bytes in hex, a form every git host's webhook form takes. */
export function newWebhookSecret(): string {
  return randomBytes(32).toString('hex');
}

/** The record with `secret` as its webhook secret, sealed (replacing any earlier one). */
export function withWebhookSecret(record: ConnectionRecord, secret: string, secrets: SecretBox): ConnectionRecord {
  return { ...record, data: { ...record.data, webhookSecret: secrets.seal(secret, webhookSealContext(record.data.arn)) } };
}

/** The id webhooks name a connection by: the 32 hex characters its ARN ends with. */
export function connectionId(arn: string): string {
  return arn.slice(arn.lastIndexOf('/') + 1);
}

/**
 * The opened webhook secret of a live connection, made and stored first if the connection
 * has none yet. Call inside a store transaction.
 */
export function ensureWebhookSecret(store: Store, secrets: SecretBox, record: ConnectionRecord): string {
  const sealed = record.data.webhookSecret;
  if (sealed !== undefined) return secrets.open(sealed, webhookSealContext(record.data.arn));
  const secret = newWebhookSecret();
  store.putResource(withWebhookSecret(record, secret, secrets));
  return secret;
}

/**
 * The webhook secret of the live connection with id `id` (as in its webhook's path), for
 * checking a push's signature; undefined when no live connection has that id.
 */
export function connectionWebhookSecret(store: Store, secrets: SecretBox, id: string): string | undefined {
  if (!/^[0-9a-f]{32}$/.test(id)) return undefined;
  return store.transaction(() => {
    const record = liveConnections(store).find((c) => connectionId(c.data.arn) === id);
    return record === undefined ? undefined : ensureWebhookSecret(store, secrets, record);
  });
}

/** The output of `Berth.GetConnectionWebhook` and `Berth.RotateConnectionWebhookSecret`. */
export function connectionWebhookOutput(record: ConnectionRecord, secret: string): Record<string, unknown> {
  return { ConnectionArn: record.data.arn, WebhookPath: gitWebhookPath(connectionId(record.data.arn)), Secret: secret };
}

function webhookSealContext(arn: string): string {
  return `connection-webhook:${arn}`;
}

/**
 * Checks a CompleteConnectionHandshake input in full and returns the credential it gives.
 * Messages never repeat a token or key, not even to the caller who sent it: error replies end
 * up in logs and terminals.
 */
export function handshakeCredential(input: Record<string, unknown>): ConnectionCredential {
  const shape = CONNECTION_EXTENSION_SHAPES.CompleteConnectionHandshake as Shape;
  const given = isPlainObject(input.Credential) ? input.Credential : {};
  // A credential given as a bare string is most likely a token too.
  const secrets = [given.Token, given.SshPrivateKey, input.Credential].filter((v): v is string => typeof v === 'string' && v !== '');
  const errors = validateShape(shape, input).map((message) => redact(message, secrets));
  if (errors.length > 0) throw invalidRequest(validationMessage(errors));

  const { Token: token, Username: username, SshPrivateKey: privateKey, SshKnownHosts: knownHosts } = given as {
    Token?: string;
    Username?: string;
    SshPrivateKey?: string;
    SshKnownHosts?: string;
  };
  if (token !== undefined && privateKey !== undefined) {
    throw invalidRequest("'credential' gives both 'credential.token' and 'credential.sshPrivateKey'; give exactly one: a token for HTTPS, or an SSH private key");
  }
  if (token !== undefined) {
    if (knownHosts !== undefined) throw invalidRequest("'credential.sshKnownHosts' applies to an SSH private key, not to a token; leave it out");
    return { type: 'TOKEN', token, ...(username !== undefined && { username }) };
  }
  if (privateKey === undefined) {
    throw invalidRequest(
      "'credential' gives no credential; give 'credential.token' (HTTPS, with 'credential.username' if the host needs one) or 'credential.sshPrivateKey' with 'credential.sshKnownHosts'",
    );
  }
  if (username !== undefined) {
    throw invalidRequest("'credential.username' applies to a token; with an SSH key the user is part of the repository URL (git@host:owner/repo); leave it out");
  }
  if (knownHosts === undefined) {
    throw invalidRequest(
      "'credential.sshKnownHosts' is required with 'credential.sshPrivateKey': Berth pins the git host's keys and does not trust a host on first use; give known_hosts lines, e.g. the output of 'ssh-keyscan github.com'",
    );
  }
  checkPrivateKey(privateKey);
  checkKnownHosts(knownHosts);
  return { type: 'SSH_KEY', privateKey, knownHosts };
}

/**
 * Shape messages show a bad value as shape.ts does, shortened to 77 characters and '...' past
 * 80: quoted after a failed constraint (`Value 'x' at`), as JSON after a wrong type
 * (`Value "x" at`). Every form of each secret is replaced.
 */
function redact(message: string, secrets: readonly string[]): string {
  const shorten = (text: string): string => (text.length > 80 ? `${text.slice(0, 77)}...` : text);
  let out = message;
  for (const secret of secrets) {
    for (const shown of [`'${shorten(secret)}'`, shorten(JSON.stringify(secret)), shorten(secret)]) {
      out = out.replaceAll(`Value ${shown} at '`, "Value (secret, not shown) at '");
    }
  }
  return out;
}

const KEY_PATH = "'credential.sshPrivateKey'";
const PASSPHRASE = `${KEY_PATH} is protected by a passphrase, which Berth cannot type in during builds; give the key without one (ssh-keygen -p -N '' -f <key file> removes it from a copy)`;
const PEM_KEY_LABELS: readonly string[] = ['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY', 'DSA PRIVATE KEY'];

/** An unencrypted private key in OpenSSH or PEM form; messages never show the key's text. */
function checkPrivateKey(text: string): void {
  const trimmed = text.trim();
  if (/^(ssh-|ecdsa-|sk-)/.test(trimmed) || /-----BEGIN [A-Z0-9 ]*PUBLIC KEY-----/.test(trimmed)) {
    throw invalidRequest(`${KEY_PATH} is a public key; give the private key (the key file without .pub, e.g. ~/.ssh/id_ed25519)`);
  }
  const block = /^-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)\r?\n?-----END \1-----$/.exec(trimmed);
  const malformed = `${KEY_PATH} is not a private key in OpenSSH or PEM form; expected the key file's whole text, from '-----BEGIN OPENSSH PRIVATE KEY-----' to '-----END OPENSSH PRIVATE KEY-----'`;
  if (block === null) throw invalidRequest(malformed);
  const [, label = '', body = ''] = block;
  if (label === 'OPENSSH PRIVATE KEY') return checkOpenSshKey(body, malformed);
  if (label === 'ENCRYPTED PRIVATE KEY' || /^Proc-Type: *4,ENCRYPTED/m.test(body)) throw invalidRequest(PASSPHRASE);
  if (!PEM_KEY_LABELS.includes(label)) throw invalidRequest(`${KEY_PATH} is a PEM block of type ${showValue(label)}, not a private key`);
  let keyType: string | undefined;
  try {
    keyType = createPrivateKey({ key: trimmed, format: 'pem' }).asymmetricKeyType;
  } catch {
    throw invalidRequest(malformed);
  }
  if (keyType === undefined || !['rsa', 'ec', 'ed25519', 'dsa'].includes(keyType)) {
    throw invalidRequest(`${KEY_PATH} is a ${keyType ?? 'unknown'} key, which SSH cannot use; give an Ed25519, ECDSA or RSA key`);
  }
}

/** The `openssh-key-v1` format (OpenSSH's PROTOCOL.key): magic, cipher, kdf, kdf options, key count, keys. */
function checkOpenSshKey(body: string, malformed: string): void {
  const base64 = body.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) throw invalidRequest(malformed);
  const raw = Buffer.from(base64, 'base64');
  const magic = 'openssh-key-v1\0';
  if (raw.subarray(0, magic.length).toString('latin1') !== magic) throw invalidRequest(malformed);
  const cipher = readSshString(raw, magic.length);
  const kdf = cipher && readSshString(raw, cipher.next);
  const kdfOptions = kdf && readSshString(raw, kdf.next);
  if (kdfOptions === undefined || kdfOptions.next + 4 > raw.length) throw invalidRequest(malformed);
  if (cipher?.value.toString('latin1') !== 'none') throw invalidRequest(PASSPHRASE);
  const count = raw.readUInt32BE(kdfOptions.next);
  if (count !== 1) throw invalidRequest(`${KEY_PATH} holds ${count} keys; give a key file with exactly one`);
  const publicKey = readSshString(raw, kdfOptions.next + 4);
  const keyType = publicKey && readSshString(publicKey.value, 0)?.value.toString('latin1');
  if (keyType === undefined || !SSH_KEY_TYPES.includes(keyType)) throw invalidRequest(malformed);
}

/** An SSH wire-format string (uint32 length, bytes) at `offset`, and the offset after it. */
function readSshString(buffer: Buffer, offset: number): { value: Buffer; next: number } | undefined {
  if (offset + 4 > buffer.length) return undefined;
  const length = buffer.readUInt32BE(offset);
  const end = offset + 4 + length;
  return end > buffer.length ? undefined : { value: buffer.subarray(offset + 4, end), next: end };
}

/** known_hosts lines (sshd(8), SSH_KNOWN_HOSTS FILE FORMAT), at least one of them a usable key. */
function checkKnownHosts(text: string): void {
  const path = "'credential.sshKnownHosts'";
  let keys = 0;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `Line ${index + 1} of ${path}`;
    const fields = line.split(/\s+/);
    const marker = fields[0]?.startsWith('@') === true ? fields.shift() : undefined;
    if (marker !== undefined && marker !== '@cert-authority' && marker !== '@revoked') {
      throw invalidRequest(`${where} has the marker ${showValue(marker)}; known_hosts markers are @cert-authority and @revoked`);
    }
    const [hosts, type, key] = fields;
    if (hosts === undefined || type === undefined || key === undefined) {
      throw invalidRequest(`${where} is not a known_hosts entry; expected '<host>[,<host>...] <key type> <base64 key>', as 'ssh-keyscan <host>' prints`);
    }
    if (hosts.split(',').some((h) => h === '')) throw invalidRequest(`${where} has an empty host pattern in ${showValue(hosts)}`);
    if (!SSH_KEY_TYPES.includes(type)) {
      throw invalidRequest(`${where} has the key type ${showValue(type)}; expected one of: ${SSH_KEY_TYPES.join(', ')}`);
    }
    const blob = /^[A-Za-z0-9+/]+={0,2}$/.test(key) ? Buffer.from(key, 'base64') : undefined;
    if (blob === undefined || readSshString(blob, 0)?.value.toString('latin1') !== type) {
      throw invalidRequest(`${where} has a key that is not a valid base64 ${type} key`);
    }
    if (marker !== '@revoked') keys += 1;
  });
  if (keys === 0) {
    throw invalidRequest(`${path} holds no host key; give the git host's keys as known_hosts lines, e.g. the output of 'ssh-keyscan github.com'`);
  }
}

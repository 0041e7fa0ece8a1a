/**
 * @module
 * Berth's local certificate authority: one ECDSA P-256 root kept in a directory (`ca.crt`,
 * `ca.key`) that issues short-lived leaf certificates for service hosts, so the router can serve
 * HTTPS for `*.localhost` names without any outside service. Users who want a green padlock
 * trust `ca.crt` once.
 *
 * The private key is the source of truth: `ca.crt` is derived from it. Both files are published
 * with link(2), which fails when the name exists, so two processes starting at once (router and
 * control plane) agree on one CA, and a crash between the two writes leaves a key from which the
 * next start derives the certificate.
 */

import { createPrivateKey, createPublicKey, randomBytes, webcrypto, X509Certificate, type KeyObject } from 'node:crypto';
import { chmod, link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as X509 from '@peculiar/x509';

/** A certificate and its private key, both PEM (the key in PKCS#8). */
export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
}

export interface LocalCa {
  /** The CA certificate, PEM: what clients must trust. */
  readonly certPem: string;
  /** Issues a server certificate whose subjectAltName lists exactly `hosts` (DNS names). */
  issue(hosts: readonly string[]): Promise<IssuedCertificate>;
}

const CA_CERT_FILE = 'ca.crt';
const CA_KEY_FILE = 'ca.key';
const CA_VALIDITY_YEARS = 10;
const LEAF_VALIDITY_DAYS = 90;
/** Leaves start a minute in the past so a client whose clock lags a little still accepts them. */
const LEAF_BACKDATE_MS = 60_000;
const DAY_MS = 86_400_000;

const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const EC_SIGNING = { ...EC_KEY, hash: 'SHA-256' } as const;

/** Loads the CA kept in `dir`, creating it (and `dir`, mode 0700) on first use. */
export async function loadOrCreateLocalCa(dir: string): Promise<LocalCa> {
  const x509 = await loadX509();
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const keyPath = join(dir, CA_KEY_FILE);
  const certPath = join(dir, CA_CERT_FILE);

  let keyPem = await readIfExists(keyPath);
  if (keyPem === undefined) {
    const keys = await webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify']);
    const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
    await chmod(dir, 0o700);
    await publish(keyPath, x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'), 0o600);
    // Whoever published first won: read back the key that is actually there.
    keyPem = await readFile(keyPath, 'utf8');
  }
  const privateKey = parsePrivateKey(keyPem, keyPath);
  const publicKey = createPublicKey(privateKey);

  let certPem = await readIfExists(certPath);
  if (certPem === undefined) {
    await publish(certPath, await createCaCertificate(x509, privateKey, publicKey), 0o644);
    certPem = await readFile(certPath, 'utf8');
  }
  const caCert = checkCaCertificate(certPem, certPath, publicKey);

  const signingKey = await privateKey.toCryptoKey(EC_SIGNING, false, ['sign']);
  const authorityKeyId = new x509.X509Certificate(certPem).getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  if (authorityKeyId === undefined) {
    throw new Error(`the CA certificate ${certPath} has no subject key identifier; delete ${certPath} so Berth derives a new one from ${keyPath}`);
  }

  return {
    certPem,
    issue: (hosts) => issueLeaf(x509, { subject: caCert.subject, signingKey, authorityKeyId }, hosts),
  };
}

interface Issuer {
  subject: string;
  signingKey: webcrypto.CryptoKey;
  authorityKeyId: string;
}

async function issueLeaf(x509: X509Module, issuer: Issuer, hosts: readonly string[]): Promise<IssuedCertificate> {
  if (hosts.length === 0) throw new Error('cannot issue a certificate for no host: pass at least one DNS name');
  for (const host of hosts) {
    if (!isDnsName(host)) {
      throw new Error(`cannot issue a certificate for '${host}': expected a lower-case DNS name such as 'hello-abc.localhost'`);
    }
  }
  const keys = await webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${hosts[0]}`,
    issuer: issuer.subject,
    notBefore: new Date(now - LEAF_BACKDATE_MS),
    notAfter: new Date(now + LEAF_VALIDITY_DAYS * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: issuer.signingKey,
    signingAlgorithm: EC_SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension(hosts.map((value) => ({ type: 'dns' as const, value })), false),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      new x509.AuthorityKeyIdentifierExtension(issuer.authorityKeyId),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { certPem: cert.toString('pem'), keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}

async function createCaCertificate(x509: X509Module, privateKey: KeyObject, publicKey: KeyObject): Promise<string> {
  const keys = {
    privateKey: await privateKey.toCryptoKey(EC_SIGNING, false, ['sign']),
    publicKey: await publicKey.toCryptoKey(EC_SIGNING, true, ['verify']),
  };
  const now = Date.now();
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CA_VALIDITY_YEARS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    // A random suffix tells apart the CAs of several installations a user may trust at once.
    name: `CN=Berth Local CA ${randomBytes(4).toString('hex')}`,
    notBefore: new Date(now - LEAF_BACKDATE_MS),
    notAfter,
    keys,
    signingAlgorithm: EC_SIGNING,
    extensions: [
      // RFC 5280 §4.2.1.9: CAs mark basicConstraints critical; §4.2.1.3: keyCertSign, cRLSign.
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return cert.toString('pem');
}

function checkCaCertificate(certPem: string, certPath: string, publicKey: KeyObject): X509Certificate {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    throw new Error(`${certPath} is not a PEM certificate (${(err as Error).message}); delete it so Berth derives a new one from ${CA_KEY_FILE}`);
  }
  const expected = publicKey.export({ type: 'spki', format: 'der' });
  const actual = cert.publicKey.export({ type: 'spki', format: 'der' });
  if (!expected.equals(actual) || !cert.ca) {
    throw new Error(`${certPath} is not the CA certificate of the key beside it; delete ${certPath} so Berth derives a new one from ${CA_KEY_FILE}`);
  }
  if (cert.validToDate.getTime() <= Date.now()) {
    throw new Error(`the local CA ${certPath} expired on ${cert.validTo}; delete ${CA_CERT_FILE} and ${CA_KEY_FILE} to create a new CA, then trust the new ${CA_CERT_FILE}`);
  }
  return cert;
}

function parsePrivateKey(pem: string, path: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw new Error(`${path} is not a PEM private key (${(err as Error).message})`);
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error(`${path} holds a ${key.asymmetricKeyType ?? 'unknown'} key; the local CA needs an ECDSA P-256 key`);
  }
  return key;
}

/**
 * Writes `contents` under `path` unless it exists: written to a temporary name first, then
 * linked, so readers never see a partial file and a concurrent writer's file is never replaced.
 */
async function publish(path: string, contents: string, mode: number): Promise<void> {
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temporary, contents, { mode, flag: 'wx' });
  try {
    await link(temporary, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await unlink(temporary);
  }
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** RFC 5280 §4.1.2.2: a positive integer of at most 20 octets; 16 random ones, top bit clear. */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString('hex');
}

/** A DNS name as RFC 1035 §2.3.1 allows it in a certificate (RFC 5280 §4.2.1.6), lower case. */
function isDnsName(host: string): boolean {
  if (host.length === 0 || host.length > 253) return false;
  return /^(?:\*\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(host);
}

type X509Module = typeof X509;
let x509Loading: Promise<X509Module> | undefined;

/**
 * Loads @peculiar/x509 on first use. It resolves its algorithms through tsyringe, which needs
 * the Reflect metadata polyfill loaded first.
 */
function loadX509(): Promise<X509Module> {
  x509Loading ??= (async () => {
    await import('reflect-metadata');
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(webcrypto);
    return x509;
  })();
  return x509Loading;
}

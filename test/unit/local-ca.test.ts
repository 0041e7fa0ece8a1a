import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadOrCreateLocalCa, type LocalCa } from '../../src/adapters/tls/local-ca.ts';

const DAY_MS = 86_400_000;
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

describe('local CA', () => {
  let root: string;
  let dir: string;
  let ca: LocalCa;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-ca-'));
    dir = join(root, 'ca');
    ca = await loadOrCreateLocalCa(dir);
  });
  after(() => rm(root, { recursive: true, force: true }));

  test('creates a self-signed P-256 CA with private files', async () => {
    const cert = new X509Certificate(ca.certPem);
    assert.equal(cert.ca, true);
    assert.match(cert.subject, /^CN=Berth Local CA [0-9a-f]{8}$/);
    assert.equal(cert.issuer, cert.subject);
    assert.equal(cert.verify(cert.publicKey), true);
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    const years = (cert.validToDate.getTime() - cert.validFromDate.getTime()) / (365.25 * DAY_MS);
    assert.ok(years > 9.9 && years < 10.1, `validity ${years} years`);

    assert.equal(await readFile(join(dir, 'ca.crt'), 'utf8'), ca.certPem);
    assert.equal((await stat(join(dir, 'ca.key'))).mode & 0o777, 0o600);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    const key = await readFile(join(dir, 'ca.key'), 'utf8');
    assert.match(key, /^-----BEGIN PRIVATE KEY-----/);
    assert.equal(cert.checkPrivateKey(createPrivateKey(key)), true);
  });

  test('a second load returns the same CA', async () => {
    const again = await loadOrCreateLocalCa(dir);
    assert.equal(again.certPem, ca.certPem);
  });

  test('issues a leaf for exactly the given hosts that verifies against the CA', async () => {
    const caCert = new X509Certificate(ca.certPem);
    const before = Date.now();
    const leaf = await ca.issue(['hello-abc.localhost']);
    const cert = new X509Certificate(leaf.certPem);

    assert.equal(cert.verify(caCert.publicKey), true);
    assert.equal(cert.checkIssued(caCert), true);
    assert.equal(cert.ca, false);
    assert.equal(cert.checkHost('hello-abc.localhost'), 'hello-abc.localhost');
    assert.equal(cert.checkHost('other.localhost'), undefined);
    assert.equal(cert.subjectAltName, 'DNS:hello-abc.localhost');
    assert.deepEqual(cert.keyUsage, [SERVER_AUTH]);
    assert.equal(cert.checkPrivateKey(createPrivateKey(leaf.keyPem)), true);
    assert.equal(createPrivateKey(leaf.keyPem).asymmetricKeyDetails?.namedCurve, 'prime256v1');

    const backdatedMs = before - cert.validFromDate.getTime();
    assert.ok(backdatedMs >= 59_000 && backdatedMs <= 62_000, `backdated ${backdatedMs} ms`);
    const days = (cert.validToDate.getTime() - before) / DAY_MS;
    assert.ok(days > 89.9 && days < 90.1, `validity ${days} days`);

    const other = await ca.issue(['hello-abc.localhost']);
    assert.notEqual(new X509Certificate(other.certPem).serialNumber, cert.serialNumber);
  });

  test('issues one certificate for several hosts', async () => {
    const cert = new X509Certificate((await ca.issue(['a.localhost', 'b.example.test'])).certPem);
    assert.equal(cert.subjectAltName, 'DNS:a.localhost, DNS:b.example.test');
  });

  test('openssl verifies the chain, the purpose and the extensions', { skip: !hasOpenssl && 'openssl is not installed' }, async () => {
    const leaf = await ca.issue(['hello-abc.localhost']);
    const leafPath = join(root, 'leaf.crt');
    await writeFile(leafPath, leaf.certPem);
    const verify = spawnSync('openssl', ['verify', '-CAfile', join(dir, 'ca.crt'), '-purpose', 'sslserver', '-verify_hostname', 'hello-abc.localhost', leafPath], { encoding: 'utf8' });
    assert.equal(verify.status, 0, verify.stderr + verify.stdout);
    assert.match(verify.stdout, /: OK\n$/);

    const caText = spawnSync('openssl', ['x509', '-noout', '-text', '-in', join(dir, 'ca.crt')], { encoding: 'utf8' }).stdout;
    assert.match(caText, /Basic Constraints: critical\s+CA:TRUE/);
    assert.match(caText, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
    const leafText = spawnSync('openssl', ['x509', '-noout', '-text', '-in', leafPath], { encoding: 'utf8' }).stdout;
    assert.match(leafText, /Key Usage: critical\s+Digital Signature/);
    assert.match(leafText, /Extended Key Usage:\s+TLS Web Server Authentication/);
    assert.match(leafText, /Subject Key Identifier/);
    assert.match(leafText, /Authority Key Identifier/);
  });

  test('rejects names that are not DNS names, saying which', async () => {
    await assert.rejects(ca.issue([]), /at least one DNS name/);
    await assert.rejects(ca.issue(['Hello.localhost']), /'Hello.localhost'/);
    await assert.rejects(ca.issue(['bad_name.localhost']), /'bad_name.localhost'/);
    await assert.rejects(ca.issue(['127.0.0.1:8443']), /'127.0.0.1:8443'/);
  });
});

describe('local CA files', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-ca-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  test('two processes creating the CA at once agree on one', async () => {
    const dir = join(root, 'race');
    const [a, b, c] = await Promise.all([loadOrCreateLocalCa(dir), loadOrCreateLocalCa(dir), loadOrCreateLocalCa(dir)]);
    assert.equal(a.certPem, b.certPem);
    assert.equal(b.certPem, c.certPem);
  });

  test('a key left without its certificate (crash between writes) gets a certificate derived from it', async () => {
    const dir = join(root, 'crash');
    await loadOrCreateLocalCa(dir);
    const key = await readFile(join(dir, 'ca.key'), 'utf8');
    await unlink(join(dir, 'ca.crt'));
    const ca = await loadOrCreateLocalCa(dir);
    const publicKey = new X509Certificate(ca.certPem).publicKey.export({ type: 'spki', format: 'der' });
    assert.deepEqual(publicKey, createPublicKey(createPrivateKey(key)).export({ type: 'spki', format: 'der' }));
  });

  test('a certificate that does not belong to the key is refused with the fix', async () => {
    const one = join(root, 'one');
    const two = join(root, 'two');
    await loadOrCreateLocalCa(one);
    await loadOrCreateLocalCa(two);
    await writeFile(join(one, 'ca.crt'), await readFile(join(two, 'ca.crt')));
    await assert.rejects(loadOrCreateLocalCa(one), /is not the CA certificate of the key beside it; delete/);
  });
});

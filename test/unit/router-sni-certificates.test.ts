import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SecureContext } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { loadOrCreateLocalCa, type LocalCa } from '../../src/adapters/tls/local-ca.ts';
import { SniCertificates, type CertificateIssuer, type IssuedCertificate } from '../../src/edges/router/sni-certificates.ts';

const DAY_MS = 86_400_000;

/** The local CA, counting what it is asked to issue. */
class CountingIssuer implements CertificateIssuer {
  readonly issued: string[] = [];
  readonly #ca: LocalCa;
  constructor(ca: LocalCa) {
    this.#ca = ca;
  }
  issue(hosts: readonly string[]): Promise<IssuedCertificate> {
    this.issued.push(...hosts);
    return this.#ca.issue(hosts);
  }
}

/** The certificate an SNI callback picks, as the name it was issued for. */
function pick(certificates: SniCertificates, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    certificates.sniCallback(servername, (error, context?: SecureContext) => {
      if (error) return reject(error);
      // The native context behind a SecureContext can hand out the certificate it holds.
      const der = (context as SecureContext & { context: { getCertificate(): Buffer } }).context.getCertificate();
      resolve(new X509Certificate(der).subjectAltName ?? '');
    });
  });
}

describe('SNI certificates', () => {
  let dir: string;
  let ca: LocalCa;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-sni-'));
    ca = await loadOrCreateLocalCa(join(dir, 'ca'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('routed hosts get their own certificate, issued once; other names get the default', async () => {
    const issuer = new CountingIssuer(ca);
    const routed = new Set(['app.localhost']);
    const certificates = await SniCertificates.create({ issuer, isRouted: (host) => routed.has(host) });
    assert.match(new X509Certificate(certificates.defaultCertificate.certPem).subjectAltName ?? '', /^DNS:localhost$/);

    const concurrent = await Promise.all([pick(certificates, 'app.localhost'), pick(certificates, 'APP.localhost')]);
    assert.deepEqual(concurrent, ['DNS:app.localhost', 'DNS:app.localhost']);
    assert.equal(await pick(certificates, 'app.localhost'), 'DNS:app.localhost');
    assert.equal(await pick(certificates, 'evil.example'), 'DNS:localhost');
    assert.equal(await pick(certificates, 'localhost'), 'DNS:localhost');
    assert.deepEqual(issuer.issued, ['localhost', 'app.localhost']);

    // Unrouted, it keeps its certificate until that is due for renewal.
    routed.clear();
    assert.equal(await pick(certificates, 'app.localhost'), 'DNS:app.localhost');
  });

  test('renews after two thirds of the lifetime; drops a host no longer routed instead', async () => {
    const issuer = new CountingIssuer(ca);
    const routed = new Set(['a.localhost', 'b.localhost']);
    let now = Date.now();
    const certificates = await SniCertificates.create({ issuer, isRouted: (host) => routed.has(host), now: () => now });
    await pick(certificates, 'a.localhost');
    await pick(certificates, 'b.localhost');
    let renewedDefault: IssuedCertificate | undefined;
    certificates.onDefaultRenewed = (certificate) => {
      renewedDefault = certificate;
    };

    now += 61 * DAY_MS;
    routed.delete('b.localhost');
    assert.equal(await pick(certificates, 'a.localhost'), 'DNS:a.localhost');
    // Still valid for this handshake, then forgotten.
    assert.equal(await pick(certificates, 'b.localhost'), 'DNS:b.localhost');
    assert.equal(await pick(certificates, 'b.localhost'), 'DNS:localhost');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(issuer.issued, ['localhost', 'a.localhost', 'b.localhost', 'a.localhost', 'localhost']);
    assert.ok(renewedDefault, 'the server was given the renewed default certificate');
  });

  test('keeps at most maxHeld certificates, least recently used out first', async () => {
    const issuer = new CountingIssuer(ca);
    const certificates = await SniCertificates.create({ issuer, isRouted: () => true, maxHeld: 2 });
    await pick(certificates, 'a.localhost');
    await pick(certificates, 'b.localhost');
    await pick(certificates, 'a.localhost');
    await pick(certificates, 'c.localhost');
    await pick(certificates, 'a.localhost');
    await pick(certificates, 'b.localhost');
    assert.deepEqual(issuer.issued, ['localhost', 'a.localhost', 'b.localhost', 'c.localhost', 'b.localhost']);
  });
});

/**
 * @module
 * Chooses the certificate for each TLS handshake from the name the client asks for (SNI, RFC
 * 6066 §3). A host in the route table gets a certificate for exactly that host, issued on its
 * first handshake and kept in memory; any other name, or none, gets the default certificate
 * (for `localhost`). Only routed hosts get one issued, so a client cannot make the router sign
 * arbitrary names.
 *
 * Certificates are renewed in the background once two thirds of their lifetime have passed; the
 * current one serves until the new one is ready. A host that leaves the table keeps its
 * certificate until then, so a client of a deleted service still gets a verifiable connection
 * and a 404 rather than a certificate error. At most `maxHeld` are kept, least recently used
 * first out.
 */

import { X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import { certificateChannel, type CertificateMessage } from './diagnostics.ts';
import { hostKey } from './host.ts';

/** A certificate and its private key, PEM. */
export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
}

/** Who signs the router's certificates: the local CA (src/adapters/tls/local-ca.ts), later ACME. */
export interface CertificateIssuer {
  issue(hosts: readonly string[]): Promise<IssuedCertificate>;
}

export type SniCallback = (servername: string, callback: (error: Error | null, context?: SecureContext) => void) => void;

interface Held {
  certificate: IssuedCertificate;
  context: SecureContext;
  /** Clock time after which a replacement is issued. */
  renewAt: number;
}

export interface SniCertificatesOptions {
  issuer: CertificateIssuer;
  /**
   * Whether a host may have a certificate of its own: a routed host, or any name under the
   * services' domain, so that a client asking for a service that is gone (or not yet routed)
   * completes the handshake and reads a 404 rather than a certificate error.
   */
  isRouted: (host: string) => boolean;
  /** The name on the certificate for unknown names. Default `localhost`. */
  defaultHost?: string;
  /** How many host certificates are kept in memory. Default 1000. */
  maxHeld?: number;
  /** Milliseconds clock. Default `Date.now`. */
  now?: () => number;
}

export class SniCertificates {
  readonly #issuer: CertificateIssuer;
  readonly #isRouted: (host: string) => boolean;
  readonly #defaultHost: string;
  readonly #now: () => number;
  readonly #maxHeld: number;
  /** Least recently used first. */
  readonly #held = new Map<string, Held>();
  #default: Held | undefined;
  readonly #issuing = new Map<string, Promise<Held>>();
  /** Called with a renewed default certificate, for the server to use without SNI. */
  onDefaultRenewed: ((certificate: IssuedCertificate) => void) | undefined;

  /** Issues the default certificate, which the HTTPS server needs before it can start. */
  static async create(options: SniCertificatesOptions): Promise<SniCertificates> {
    const certificates = new SniCertificates(options);
    certificates.#default = await certificates.#obtain(certificates.#defaultHost);
    return certificates;
  }

  private constructor(options: SniCertificatesOptions) {
    this.#issuer = options.issuer;
    this.#isRouted = options.isRouted;
    this.#defaultHost = options.defaultHost ?? 'localhost';
    this.#now = options.now ?? Date.now;
    this.#maxHeld = options.maxHeld ?? 1000;
  }

  /** The default certificate, for the server's `cert`/`key` options (clients that send no SNI). */
  get defaultCertificate(): IssuedCertificate {
    return this.#defaultHeld().certificate;
  }

  /** The server's `SNICallback`. */
  readonly sniCallback: SniCallback = (servername, callback) => {
    const host = hostKey(servername);
    const held = this.#held.get(host);
    if (held !== undefined) {
      callback(null, this.#renewIfDue(host, held).context);
      return;
    }
    if (host === this.#defaultHost || !this.#isRouted(host)) {
      callback(null, this.#defaultHeld().context);
      return;
    }
    this.#obtain(host).then(
      (issued) => callback(null, issued.context),
      (error: Error) => callback(error),
    );
  };

  #defaultHeld(): Held {
    const held = this.#default!;
    if (this.#now() >= held.renewAt && !this.#issuing.has(this.#defaultHost)) {
      this.#obtain(this.#defaultHost).then((renewed) => {
        this.#default = renewed;
        this.onDefaultRenewed?.(renewed.certificate);
      }, () => {});
    }
    return held;
  }

  /** Marks `held` as just used and starts its renewal when due; a host no longer routed is dropped instead. */
  #renewIfDue(host: string, held: Held): Held {
    this.#held.delete(host);
    if (this.#now() < held.renewAt) {
      this.#held.set(host, held);
    } else if (this.#isRouted(host)) {
      this.#held.set(host, held);
      if (!this.#issuing.has(host)) this.#obtain(host).catch(() => {});
    }
    return held;
  }

  /** Issues a certificate for `host`; concurrent handshakes for one host share one issuance. */
  #obtain(host: string): Promise<Held> {
    let issuing = this.#issuing.get(host);
    if (issuing === undefined) {
      issuing = this.#issue(host).finally(() => this.#issuing.delete(host));
      this.#issuing.set(host, issuing);
    }
    return issuing;
  }

  async #issue(host: string): Promise<Held> {
    try {
      const certificate = await this.#issuer.issue([host]);
      const x509 = new X509Certificate(certificate.certPem);
      const from = x509.validFromDate.getTime();
      const held: Held = {
        certificate,
        context: createSecureContext({ cert: certificate.certPem, key: certificate.keyPem }),
        renewAt: from + ((x509.validToDate.getTime() - from) * 2) / 3,
      };
      if (host !== this.#defaultHost) this.#hold(host, held);
      if (certificateChannel.hasSubscribers) certificateChannel.publish({ host } satisfies CertificateMessage);
      return held;
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      if (certificateChannel.hasSubscribers) certificateChannel.publish({ host, error } satisfies CertificateMessage);
      throw error;
    }
  }

  #hold(host: string, held: Held): void {
    this.#held.delete(host);
    this.#held.set(host, held);
    if (this.#held.size > this.#maxHeld) {
      const oldest = this.#held.keys().next();
      if (!oldest.done) this.#held.delete(oldest.value);
    }
  }
}

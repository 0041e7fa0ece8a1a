/**
 * @module
 * One undici `Pool` of keep-alive connections per instance address, so consecutive requests to
 * an instance reuse a connection instead of paying a TCP handshake each. The router closes the
 * pool of an address once no instance there is routed or draining: requests still running on it
 * finish, then the sockets close.
 */

import { Pool } from 'undici';

export interface UpstreamPoolsOptions {
  /** Time allowed to open a connection to an instance. */
  connectTimeoutMs: number;
  /** How long an idle connection is kept when the instance sends no Keep-Alive hint. Default 4 s. */
  keepAliveTimeoutMs?: number;
}

export class UpstreamPools {
  readonly #pools = new Map<string, Pool>();
  readonly #options: Pool.Options;

  constructor(options: UpstreamPoolsOptions) {
    this.#options = {
      connectTimeout: options.connectTimeoutMs,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 4000,
      // The proxy enforces the total request timeout itself; undici's per-phase timeouts
      // (300 s by default) would only fire later and with a different error.
      headersTimeout: 0,
      bodyTimeout: 0,
      // One request per connection at a time: pipelining (RFC 9112 §9.3.2) lets one slow
      // response hold up the ones behind it.
      pipelining: 1,
    };
  }

  /** The pool for `address` (`host:port`), created on first use. */
  get(address: string): Pool {
    let pool = this.#pools.get(address);
    if (pool === undefined) {
      pool = new Pool(`http://${address}`, this.#options);
      this.#pools.set(address, pool);
    }
    return pool;
  }

  /** Closes the pools of addresses not in `addresses`, letting their running requests finish. */
  retain(addresses: ReadonlySet<string>): void {
    for (const [address, pool] of this.#pools) {
      if (!addresses.has(address)) {
        this.#pools.delete(address);
        pool.close().catch(() => {});
      }
    }
  }

  /** Closes every pool; running requests finish unless `force`, which cuts them. */
  async close(force = false): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((pool) => (force ? pool.destroy() : pool.close()).catch(() => {})));
  }
}

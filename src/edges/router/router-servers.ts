/**
 * @module
 * The router's two listeners: HTTPS, which serves the services (certificate chosen per SNI),
 * and plain HTTP, which redirects to it. Closing stops accepting, lets requests in flight end
 * within a grace period, then cuts what is left.
 */

import { once } from 'node:events';
import { createServer as createHttpServer, IncomingMessage } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Server, Socket } from 'node:net';
import { createHttpsRedirectHandler } from './https-redirect.ts';
import { MAX_ROUTE_TIMEOUT_MS } from './parse-route-table.ts';
import { ProxyResponse, type ProxyHandler } from './proxy.ts';
import type { SniCertificates } from './sni-certificates.ts';

export interface RouterServersOptions {
  listenHost: string;
  /** 0 picks a free port. */
  httpPort: number;
  /** 0 picks a free port. */
  httpsPort: number;
  proxy: ProxyHandler;
  certificates: SniCertificates;
  requestTimeoutMs: number;
}

export interface RouterServers {
  /** The ports actually bound. */
  readonly httpPort: number;
  readonly httpsPort: number;
  /**
   * Stops accepting connections and waits for requests in flight, up to `graceMs`; then closes
   * every connection left. Resolves whether everything ended in time.
   */
  close(graceMs: number): Promise<boolean>;
}

/**
 * Node's own limit on receiving a request (300 s by default) must not cut an upload that a
 * route's longer timeout allows: it stays above the longest a route may set, and above the
 * router's default, by a margin. The proxy enforces the real limits per route.
 */
const NODE_TIMEOUT_MARGIN_MS = 10_000;
/** How often idle keep-alive connections are closed while draining. */
const DRAIN_POLL_MS = 50;

export async function startRouterServers(options: RouterServersOptions): Promise<RouterServers> {
  const { certificates } = options;
  const https = createHttpsServer<typeof IncomingMessage, typeof ProxyResponse>(
    {
      ServerResponse: ProxyResponse,
      cert: certificates.defaultCertificate.certPem,
      key: certificates.defaultCertificate.keyPem,
      SNICallback: certificates.sniCallback,
      requestTimeout: Math.max(MAX_ROUTE_TIMEOUT_MS, options.requestTimeoutMs) + NODE_TIMEOUT_MARGIN_MS,
    },
    options.proxy,
  );
  certificates.onDefaultRenewed = ({ certPem, keyPem }) => https.setSecureContext({ cert: certPem, key: keyPem });
  const httpsPort = await listen(https, options.httpsPort, options.listenHost);

  const http = createHttpServer(createHttpsRedirectHandler(httpsPort));
  let httpPort: number;
  try {
    httpPort = await listen(http, options.httpPort, options.listenHost);
  } catch (err) {
    https.close();
    throw err;
  }

  // Node's closeAllConnections() knows HTTP connections only, not a TLS one still in its
  // handshake: the sockets are tracked so that none outlives the grace period.
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  https.on('connection', track);
  http.on('connection', track);

  return {
    httpPort,
    httpsPort,
    async close(graceMs) {
      const closed = Promise.all([whenClosed(https), whenClosed(http)]);
      let drained = false;
      // server.close() closes only the connections idle at that moment; a keep-alive connection
      // whose request ends later would wait for its own idle timeout.
      const poll = setInterval(() => {
        https.closeIdleConnections();
        http.closeIdleConnections();
      }, DRAIN_POLL_MS);
      let graceTimer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        graceTimer = setTimeout(resolve, graceMs);
      });
      await Promise.race([closed.then(() => (drained = true)), grace]);
      clearInterval(poll);
      clearTimeout(graceTimer);
      if (!drained) {
        for (const socket of sockets) socket.destroy();
        await closed;
      }
      return drained;
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
}

/** Stops accepting and resolves when every connection has ended. */
async function whenClosed(server: Server): Promise<void> {
  if (!server.listening) return;
  const done = once(server, 'close');
  server.close();
  await done;
}

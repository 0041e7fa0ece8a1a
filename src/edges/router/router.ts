/**
 * @module
 * Berth's router, the data plane: assembled from its configuration. It serves from the route
 * table it holds (loaded from its cache file at start), follows the control plane for newer
 * ones, and keeps serving when the control plane is away.
 *
 *     store ── route table by host, cached on disk ◄── feed (long poll on the control socket)
 *       │ on change
 *       ├─► balancer   (instances, in-flight counts, caps, queues of waiting requests,
 *       │               service loads; withdrawn instances drain)
 *       ├─► pools      (keep-alive connections per instance, kept while it drains)
 *       └─► reports    (in-flight counts and service loads to the control socket, POST /v1/reports)
 *     HTTPS server ─► certificates (one per routed host, from the local CA, asked at handshake)
 *                  ─► proxy
 *     HTTP server  ─► redirect to HTTPS
 *
 * Draining: an instance a new table withdraws keeps its connections while requests run on it;
 * when the last one ends, its connections are closed and a report tells the control plane, which
 * stops the instance once every router has said so.
 *
 * Demand: a request that finds no instance with room waits in the balancer's queue for its host;
 * the first one to wait (a service scaled to zero, or every instance at its cap) has a report
 * sent at once, so the control plane can start an instance without waiting for the next second.
 */

import { randomUUID } from 'node:crypto';
import { loadOrCreateLocalCa } from '../../adapters/tls/local-ca.ts';
import { Balancer } from './balancer.ts';
import type { RouterConfig } from './config.ts';
import { createProxyHandler } from './proxy.ts';
import { ReportSender } from './report-sender.ts';
import { RouteFeed } from './route-feed.ts';
import { RouteTableStore } from './route-table-store.ts';
import { startRouterServers, type RouterServers } from './router-servers.ts';
import { SniCertificates, type CertificateIssuer } from './sni-certificates.ts';
import { UpstreamPools } from './upstream-pools.ts';

export interface Router {
  /** The ports actually bound (differ from the configuration's when it asked for 0). */
  readonly httpPort: number;
  readonly httpsPort: number;
  /** Random, one per router: names it in its reports to the control plane. */
  readonly routerId: string;
  /** Requests in flight per instance id: those of the table (0 included) and the draining ones. */
  inFlight(): Map<string, number>;
  /**
   * Stops: no new connections, requests in flight get up to `graceMs` (default 10 s) to end,
   * then the control-plane feed, the reports and the upstream connections are closed.
   */
  close(graceMs?: number): Promise<void>;
}

export interface RouterDependencies {
  /** Signs the HTTPS certificates. Default: the local CA kept in `config.caDir`. */
  issuer?: CertificateIssuer;
}

/** Longest a connection to an instance may take to open. */
const CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_GRACE_MS = 10_000;

export async function startRouter(config: RouterConfig, dependencies: RouterDependencies = {}): Promise<Router> {
  const store = await RouteTableStore.open(config.routesCacheFile);
  const issuer = dependencies.issuer ?? (await loadOrCreateLocalCa(config.caDir));
  const routerId = randomUUID();
  const reports = new ReportSender({
    socketPath: config.controlSocketPath,
    report: () => ({ routerId, tableTag: store.tag, instances: Object.fromEntries(balancer.inFlight()), services: balancer.takeLoads() }),
  });
  const balancer = new Balancer({
    queueLimit: config.queueLimit,
    onDrained: () => {
      pools.retain(balancer.addresses());
      reports.soon();
    },
    onDemand: () => reports.soon(),
  });
  const pools = new UpstreamPools({ connectTimeoutMs: Math.min(CONNECT_TIMEOUT_MS, config.requestTimeoutMs) });
  const underDomain = `.${config.domain}`;
  const isServiceName = (host: string): boolean => host.endsWith(underDomain) && !host.slice(0, -underDomain.length).includes('.');
  const certificates = await SniCertificates.create({ issuer, isRouted: (host) => store.get(host) !== undefined || isServiceName(host) });

  const unsubscribe = store.subscribe((table) => {
    balancer.sync(table);
    // Withdrawn instances still draining keep their connections, or their requests would be cut.
    pools.retain(balancer.addresses());
    reports.now();
  });

  const feed = new RouteFeed({ socketPath: config.controlSocketPath, sink: store });
  feed.start();

  const proxy = createProxyHandler({
    balancer,
    pools,
    requestTimeoutMs: config.requestTimeoutMs,
    idleTimeoutMs: config.idleTimeoutMs,
    queueTimeoutMs: config.queueTimeoutMs,
  });
  let servers: RouterServers;
  try {
    servers = await startRouterServers({
      listenHost: config.listenHost,
      httpPort: config.httpPort,
      httpsPort: config.httpsPort,
      requestTimeoutMs: config.requestTimeoutMs,
      proxy,
      certificates,
    });
  } catch (err) {
    unsubscribe();
    await feed.close();
    await reports.close();
    await pools.close(true);
    throw err;
  }

  let closing: Promise<void> | undefined;
  return {
    httpPort: servers.httpPort,
    httpsPort: servers.httpsPort,
    routerId,
    inFlight: () => balancer.inFlight(),
    close(graceMs = DEFAULT_GRACE_MS) {
      closing ??= (async () => {
        const drained = await servers.close(graceMs);
        unsubscribe();
        await feed.close();
        await reports.close();
        // Once every client connection is gone, no request uses an upstream connection any more.
        await pools.close(!drained);
        await store.flush();
      })();
      return closing;
    },
  };
}

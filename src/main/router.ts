/**
 * @module
 * Composition root of the router process (`berth router`, started by `berth up`): turns Berth's
 * configuration into the router's, starts it, writes its pid file, and turns its diagnostics
 * channels into log lines. The command line, the readiness line and signal handling are in
 * cli.ts.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { berthPaths, type BerthConfig } from '../core/config.ts';
import { parseRouterConfig, ROUTER_DEFAULTS, type RouterConfig } from '../edges/router/config.ts';
import type { CacheErrorMessage, CertificateMessage, FeedErrorMessage, ReportErrorMessage, RequestMessage, RoutesMessage } from '../edges/router/diagnostics.ts';
import { startRouter, type Router } from '../edges/router/router.ts';
import { log } from './log.ts';

export interface RouterProcess {
  httpPort: number;
  httpsPort: number;
  stop(): Promise<void>;
}

/** Time requests in flight get to finish at shutdown; `berth up` kills a child after 15 s. */
const STOP_GRACE_MS = 10_000;

export function routerConfigFrom(config: Readonly<BerthConfig>): RouterConfig {
  const paths = berthPaths(config.home);
  return parseRouterConfig({
    listenHost: config.router.host,
    httpPort: config.router.httpPort,
    httpsPort: config.router.httpsPort,
    requestTimeoutMs: Math.round(config.router.requestTimeoutSeconds * 1000),
    idleTimeoutMs: Math.round(config.router.idleTimeoutSeconds * 1000),
    // Not in berth.json (yet): the router's own defaults, Cloud Run's 10 s wait.
    queueLimit: ROUTER_DEFAULTS.queueLimit,
    queueTimeoutMs: ROUTER_DEFAULTS.queueTimeoutMs,
    controlSocketPath: paths.controlSocket,
    routesCacheFile: paths.routesCache,
    caDir: paths.caDir,
    domain: config.domain,
  });
}

export async function startRouterProcess(config: Readonly<BerthConfig>): Promise<RouterProcess> {
  const paths = berthPaths(config.home);
  await mkdir(paths.runDir, { recursive: true, mode: 0o700 });
  const stopLogging = logDiagnostics();
  let router: Router;
  try {
    router = await startRouter(routerConfigFrom(config));
  } catch (err) {
    stopLogging();
    throw err;
  }
  await writeFile(paths.routerPid, `${process.pid}\n`);
  return {
    httpPort: router.httpPort,
    httpsPort: router.httpsPort,
    async stop() {
      await router.close(STOP_GRACE_MS);
      stopLogging();
      await rm(paths.routerPid, { force: true });
    },
  };
}

/** Subscribes log lines to the router's channels; returns the unsubscriber. */
function logDiagnostics(): () => void {
  // While the control plane is down the feed fails every two seconds: say so once, then again
  // only when it has been followed in between.
  let feedFailing = false;
  const handlers: Record<string, (message: unknown) => void> = {
    'berth:router:routes': (message) => {
      const m = message as RoutesMessage;
      if (m.source === 'control-plane') feedFailing = false;
      log('info', 'router', `serving ${m.routeCount} route(s) from the ${m.source === 'cache' ? 'cache file' : 'control plane'} (table ${m.tag})`);
    },
    'berth:router:feed-error': (message) => {
      const m = message as FeedErrorMessage;
      if (feedFailing) return log('debug', 'router', `control plane still unreachable: ${m.error.message}`);
      feedFailing = true;
      log('warn', 'router', `cannot follow the control plane (${m.error.message}); serving the last routes, retrying`);
    },
    // The feed's warning already says when the control plane is away; reports fail along with it.
    'berth:router:report-error': (message) => {
      log('debug', 'router', `cannot report to the control plane: ${(message as ReportErrorMessage).error.message}`);
    },
    'berth:router:cache-error': (message) => {
      const m = message as CacheErrorMessage;
      log('warn', 'router', `cannot ${m.operation} the route cache ${m.file}: ${m.error.message}`);
    },
    'berth:router:certificate': (message) => {
      const m = message as CertificateMessage;
      if (m.error === undefined) log('debug', 'router', `issued a certificate for ${m.host}`);
      else log('warn', 'router', `cannot issue a certificate for ${m.host}: ${m.error.message}`);
    },
    'berth:router:request': (message) => {
      const m = message as RequestMessage;
      const line = `${m.method} ${m.host} ${m.statusCode || '-'} ${m.outcome}${m.instanceId ? ` ${m.instanceId}` : ''} ${m.durationMs.toFixed(1)} ms${m.error ? `: ${m.error.message}` : ''}`;
      log(m.outcome === 'upstream-error' || m.outcome === 'timeout' || m.outcome === 'no-capacity' ? 'warn' : 'debug', 'router', line);
    },
  };
  for (const [name, handler] of Object.entries(handlers)) subscribe(name, handler);
  return () => {
    for (const [name, handler] of Object.entries(handlers)) unsubscribe(name, handler);
  };
}

/**
 * @module
 * Composition root of the control plane: opens the store, sets the installation up on first
 * start (its id, the administrator's access key and the AWS profile files), and wires the API,
 * the reconciler, the health tracker and the route feed to the Docker runtime.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { subscribe, unsubscribe as unsubscribeChannel } from 'node:diagnostics_channel';
import { DockerRuntime } from '../adapters/docker/docker-runtime.ts';
import { writeAwsProfileFiles } from '../adapters/local-files/aws-profile-files.ts';
import { loadOrCreateMasterKey } from '../adapters/local-files/master-key.ts';
import { NetworkProber } from '../adapters/probe/network-prober.ts';
import { SqliteStore } from '../adapters/sqlite/sqlite-store.ts';
import { systemClock } from '../core/clock.ts';
import { ensureDefaultAutoScalingConfiguration } from '../core/auto-scaling.ts';
import { berthPaths, type BerthConfig } from '../core/config.ts';
import { newAccessKey, newHexId } from '../core/ids.ts';
import type { ContainerRuntime } from '../core/runtime.ts';
import { SecretBox } from '../core/secret-box.ts';
import type { Store } from '../core/store.ts';
import { HealthTracker } from '../control/health-tracker.ts';
import { Reconciler, type ReconcilerEvent } from '../control/reconciler.ts';
import type { ApiContext, OperationHandlers } from '../control/api-context.ts';
import { AutoScalingApi } from '../control/auto-scaling-api.ts';
import { ObservabilityApi } from '../control/observability-api.ts';
import { ServiceApi } from '../control/service-api.ts';
import { TagApi } from '../control/tag-api.ts';
import { VpcConnectorApi } from '../control/vpc-connector-api.ts';
import { advanceVpcIngressConnections, VpcIngressApi } from '../control/vpc-ingress-api.ts';
import { createApiServer } from '../edges/api/api-server.ts';
import { createControlServer, RouteFeed } from '../edges/control-socket/route-feed-server.ts';
import { log } from './log.ts';

export interface ControlPlane {
  apiUrl: string;
  store: Store;
  stop(): Promise<void>;
}

/** Creates the installation's id and administrator key once; later starts reuse them. */
export function ensureInstallation(store: Store, config: BerthConfig): { installationId: string } {
  const paths = berthPaths(config.home);
  return store.transaction(() => {
    let installationId = store.getMeta('installation-id');
    if (installationId === undefined) {
      installationId = newHexId();
      store.setMeta('installation-id', installationId);
      store.setMeta('created-at', String(Date.now()));
      const key = newAccessKey();
      store.insertAccessKey({ ...key, principal: 'admin', createdAt: Date.now() });
      store.setMeta('admin-access-key-id', key.accessKeyId);
    }
    ensureDefaultAutoScalingConfiguration(store, config, Date.now());
    const adminKey = store.getAccessKey(store.getMeta('admin-access-key-id') ?? '');
    if (adminKey === undefined) throw new Error(`the store in ${config.home} has no administrator key; it is damaged`);
    // Rewritten at every start, so the files always match the store and the region configured.
    writeAwsProfileFiles(paths, adminKey, config.region);
    return { installationId };
  });
}

export async function startControlPlane(config: BerthConfig, options: { runtime?: ContainerRuntime } = {}): Promise<ControlPlane> {
  const paths = berthPaths(config.home);
  mkdirSync(paths.runDir, { recursive: true, mode: 0o700 });
  const store = new SqliteStore(paths.database);
  const { installationId } = ensureInstallation(store, config);
  const runtime = options.runtime ?? new DockerRuntime({ socketPath: config.docker.socket, installationId });

  const feed = new RouteFeed();
  // The tracker reports to the reconciler, which is made after it.
  const onHealthChange: { to?: Reconciler } = {};
  const health = new HealthTracker(new NetworkProber(), (id, verdict) => onHealthChange.to?.onHealthChange(id, verdict));
  const reconciler = new Reconciler({
    store,
    runtime,
    health,
    clock: systemClock,
    options: {
      intervalMs: config.reconcile.intervalMs,
      startupTimeoutMs: config.reconcile.startupTimeoutSeconds * 1000,
      stopGraceSeconds: config.reconcile.stopGraceSeconds,
    },
    publish: (table) => feed.publish(table),
    emit: logReconcilerEvent,
    lifecycleSteps: [() => advanceVpcIngressConnections(store, systemClock)],
  });
  onHealthChange.to = reconciler;
  const context: ApiContext = {
    store,
    clock: systemClock,
    arn: { region: config.region, accountId: config.accountId },
    domain: config.domain,
    quotas: config.quotas,
    secrets: new SecretBox(loadOrCreateMasterKey(paths.masterKey)),
    onChange: () => reconciler.wake(),
  };
  const unsubscribe = logApiRequests();

  const api = createApiServer({
    targets: { AppRunner: appRunnerHandlers(context), Berth: berthHandlers(context) },
    region: config.region,
    lookupSecret: (id) => {
      const key = store.getAccessKey(id);
      return key === undefined ? undefined : { secret: key.secretAccessKey, principal: key.principal };
    },
    clock: systemClock,
  });
  const control = createControlServer(feed);
  rmSync(paths.controlSocket, { force: true });
  await listen(control, paths.controlSocket);
  const apiPort = await listen(api, config.api.port, config.api.host);
  writeFileSync(paths.controlPlanePid, `${process.pid}\n`);
  reconciler.start();

  const apiHost = config.api.host.includes(':') ? `[${config.api.host}]` : config.api.host;
  return {
    apiUrl: `http://${apiHost}:${apiPort}`,
    store,
    async stop() {
      await reconciler.stop();
      feed.close();
      await Promise.all([close(api), close(control)]);
      unsubscribe();
      store.close();
      rmSync(paths.controlPlanePid, { force: true });
    },
  };
}

/** Every App Runner operation, from the families that implement them. */
function appRunnerHandlers(context: ApiContext): OperationHandlers {
  return {
    ...new ServiceApi(context).handlers(),
    ...new TagApi(context).handlers(),
    ...new AutoScalingApi(context).handlers(),
    ...new ObservabilityApi(context).handlers(),
    ...new VpcConnectorApi(context).handlers(),
    ...new VpcIngressApi(context).handlers(),
  };
}

/** Berth's own operations (target prefix `Berth`): access control and extensions. */
function berthHandlers(context: ApiContext): OperationHandlers {
  void context;
  return {};
}

function listen(server: Server, port: number | string, host?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = (): void => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    };
    if (typeof port === 'string') server.listen(port, done);
    else server.listen(port, host, done);
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function logReconcilerEvent(event: ReconcilerEvent): void {
  switch (event.type) {
    case 'instance-started':
      return log('info', 'reconciler', `${event.serviceName}: started instance ${event.instanceId} at ${event.address} in ${event.ms} ms`);
    case 'instance-removed':
      return log('info', 'reconciler', `${event.serviceName}: removed instance ${event.instanceId}: ${event.why}`);
    case 'operation-ended':
      return log(event.operation.status === 'SUCCEEDED' ? 'info' : 'warn', 'reconciler',
        `${event.serviceName}: ${event.operation.type} ${event.operation.id} ${event.operation.status}${event.operation.message ? `: ${event.operation.message}` : ''}`);
    case 'error':
      return log('error', 'reconciler', `${event.serviceName ? `${event.serviceName}: ` : ''}${event.message}`);
  }
}

function logApiRequests(): () => void {
  const onMessage = (message: unknown): void => {
    const m = message as { operation?: string; status?: number; error?: string; ms?: number; internalError?: Error };
    if (m.internalError !== undefined) log('error', 'api', `internal error: ${m.internalError.stack ?? String(m.internalError)}`);
    else log(m.status === 200 ? 'debug' : 'info', 'api', `${m.operation || '(none)'} ${m.status}${m.error ? ` ${m.error}` : ''} ${m.ms?.toFixed(1)} ms`);
  };
  subscribe('berth:api:request', onMessage);
  return () => unsubscribeChannel('berth:api:request', onMessage);
}

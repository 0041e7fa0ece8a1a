/**
 * @module
 * Composition root of the control plane: opens the store, sets the installation up on first
 * start (its id, the administrator's access key and the AWS profile files), and wires the API,
 * the reconciler, the health tracker and the route feed to the Docker runtime.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { subscribe, unsubscribe as unsubscribeChannel } from 'node:diagnostics_channel';
import { GitSources } from '../adapters/git/git-sources.ts';
import { writeAwsProfileFiles } from '../adapters/local-files/aws-profile-files.ts';
import { loadOrCreateMasterKey } from '../adapters/local-files/master-key.ts';
import { NetworkProber } from '../adapters/probe/network-prober.ts';
import { SqliteStore } from '../adapters/sqlite/sqlite-store.ts';
import { systemClock, type Clock } from '../core/clock.ts';
import { ensureDefaultAutoScalingConfiguration } from '../core/auto-scaling.ts';
import { berthPaths, defaultServiceSettings, type BerthConfig } from '../core/config.ts';
import {
  accessKeySecretContext,
  ADMIN_POLICY_DOCUMENT,
  ADMIN_POLICY_NAME,
  ADMIN_USER_NAME,
  newUserId,
  type UserRecord,
} from '../core/iam.ts';
import { newAccessKey, newHexId } from '../core/ids.ts';
import type { RuntimeImageMap } from '../core/build/managed-runtimes.ts';
import type { Builder, SourceFetcher } from '../core/builder.ts';
import type { ContainerRuntime } from '../core/runtime.ts';
import { connectionWebhookSecret } from '../core/connection.ts';
import { SecretBox } from '../core/secret-box.ts';
import type { Store } from '../core/store.ts';
import { Autoscaler } from '../control/autoscaler.ts';
import { HealthTracker } from '../control/health-tracker.ts';
import { Reconciler, type ReconcilerEvent } from '../control/reconciler.ts';
import { RouterFleet } from '../control/router-fleet.ts';
import { SourceBuilds } from '../control/source-builds.ts';
import { AutoDeployer, type AutoDeployEvent } from '../control/auto-deploy.ts';
import type { WebhookDeps } from '../edges/api/webhook-endpoint.ts';
import type { ApiContext, OperationHandlers } from '../control/api-context.ts';
import { Authorizer } from '../control/authorizer.ts';
import { IamApi, type CallerOperationHandlers } from '../control/iam-api.ts';
import { ConnectionApi } from '../control/connection-api.ts';
import { CustomDomainApi } from '../control/custom-domain-api.ts';
import { AutoScalingApi } from '../control/auto-scaling-api.ts';
import { ObservabilityApi } from '../control/observability-api.ts';
import { ServiceApi } from '../control/service-api.ts';
import { TagApi } from '../control/tag-api.ts';
import { VpcConnectorApi } from '../control/vpc-connector-api.ts';
import { advanceVpcIngressConnections, VpcIngressApi } from '../control/vpc-ingress-api.ts';
import { createApiServer } from '../edges/api/api-server.ts';
import { createControlServer, RouteFeed } from '../edges/control-socket/route-feed-server.ts';
import { chooseExecution } from './execution.ts';
import { log } from './log.ts';

export interface ControlPlane {
  apiUrl: string;
  store: Store;
  stop(): Promise<void>;
}

/**
 * Creates the installation once: its id, the `admin` user with a policy allowing everything,
 * and that user's first access key (secret sealed). Keys stored before access control existed
 * (the administrator's, in plaintext) are sealed and given to `admin` here, never dropped.
 * At every start the administrator key is written to the AWS profile files again, unless it
 * has since been deleted (then `adminKeyGone` is true and the files are left as they are).
 */
export function ensureInstallation(store: Store, config: BerthConfig, secrets: SecretBox, clock: Clock = systemClock): { installationId: string; adminKeyGone: boolean } {
  const paths = berthPaths(config.home);
  return store.transaction(() => {
    const now = clock.now();
    let installationId = store.getMeta('installation-id');
    if (installationId === undefined) {
      installationId = newHexId();
      store.setMeta('installation-id', installationId);
      store.setMeta('created-at', String(now));
      const admin = createAdministrator(store, now);
      const key = newAccessKey();
      store.putAccessKey({
        accessKeyId: key.accessKeyId,
        userId: admin.id,
        status: 'Active',
        sealedSecret: secrets.seal(key.secretAccessKey, accessKeySecretContext(key.accessKeyId)),
        createdAt: now,
      });
      store.setMeta('admin-access-key-id', key.accessKeyId);
    }
    const plaintext = store.listPlaintextAccessKeys();
    if (plaintext.length > 0) {
      const admin = store.findUserByName(ADMIN_USER_NAME) ?? createAdministrator(store, now);
      for (const key of plaintext) {
        // The same id and secret, so every client configured with the key keeps working.
        store.putAccessKey({
          accessKeyId: key.accessKeyId,
          userId: admin.id,
          status: 'Active',
          sealedSecret: secrets.seal(key.secretAccessKey, accessKeySecretContext(key.accessKeyId)),
          createdAt: key.createdAt,
        });
      }
    }
    ensureDefaultAutoScalingConfiguration(store, config, now);
    const adminKeyId = store.getMeta('admin-access-key-id') ?? '';
    const adminKey = store.getAccessKey(adminKeyId);
    if (adminKey === undefined) return { installationId, adminKeyGone: true };
    let secretAccessKey: string;
    try {
      secretAccessKey = secrets.open(adminKey.sealedSecret, accessKeySecretContext(adminKeyId));
    } catch {
      throw new Error(`the administrator key ${adminKeyId} in ${paths.database} does not open with the master key ${paths.masterKey}; restore the master key the store was made with`);
    }
    // Rewritten at every start, so the files always match the store and the region configured.
    writeAwsProfileFiles(paths, { accessKeyId: adminKeyId, secretAccessKey }, config.region);
    return { installationId, adminKeyGone: false };
  });
}

function createAdministrator(store: Store, now: number): UserRecord {
  const admin: UserRecord = { id: newUserId(), name: ADMIN_USER_NAME, createdAt: now };
  store.insertUser(admin);
  store.putUserPolicy({ userId: admin.id, name: ADMIN_POLICY_NAME, document: ADMIN_POLICY_DOCUMENT });
  return admin;
}

export interface ControlPlaneOptions {
  runtime?: ContainerRuntime;
  /** Builds source-code revisions; chosen to match the runtime when absent. */
  builder?: Builder;
  /** Where source code comes from; git with a cache under the data directory when absent. */
  sources?: SourceFetcher;
  /** The base images of the managed runtimes; from the configuration when absent. */
  runtimeImages?: RuntimeImageMap;
  /** The time everything in the control plane goes by (tests move it forward to expire sessions). */
  clock?: Clock;
}

export async function startControlPlane(config: BerthConfig, options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const paths = berthPaths(config.home);
  const clock = options.clock ?? systemClock;
  mkdirSync(paths.runDir, { recursive: true, mode: 0o700 });
  const store = new SqliteStore(paths.database);
  const secrets = new SecretBox(loadOrCreateMasterKey(paths.masterKey));
  const { installationId, adminKeyGone } = ensureInstallation(store, config, secrets, clock);
  if (adminKeyGone) log('warn', 'control-plane', `the administrator key in ${paths.credentials} has been deleted; the file is left as it is (it no longer works)`);
  const execution = await chooseExecution(config, installationId, options);
  const { runtime } = execution;
  log('info', 'control-plane', `instances run on the ${runtime.name} runtime; source code is built by the ${execution.builder.name} builder`);

  const settingsDefaults = defaultServiceSettings(config);
  const feed = new RouteFeed();
  const fleet = new RouterFleet(clock);
  // The tracker reports to the reconciler, which is made after it.
  const onHealthChange: { to?: Reconciler } = {};
  const health = new HealthTracker(new NetworkProber(), (id, verdict) => onHealthChange.to?.onHealthChange(id, verdict));
  const sources = options.sources ?? new GitSources({ cacheDir: paths.gitCache });
  const wake: { reconciler?: Reconciler } = {};
  const builds = new SourceBuilds({
    store,
    clock,
    secrets,
    builder: execution.builder,
    sources,
    images: execution.runtimeImages,
    options: { workRoot: paths.buildWork, timeoutMs: config.build.timeoutSeconds * 1000 },
    onEnd: (build) => {
      log(build.status === 'SUCCEEDED' ? 'info' : 'warn', 'builder', `build ${build.id} of revision ${build.revisionId} ${build.status}${build.commit === undefined ? '' : ` (commit ${build.commit.slice(0, 12)})`}${build.failure === undefined ? '' : `: ${build.failure.message}`}`);
      wake.reconciler?.wake();
    },
  });
  const reconciler = new Reconciler({
    store,
    runtime,
    health,
    clock,
    options: {
      intervalMs: config.reconcile.intervalMs,
      defaults: settingsDefaults,
      stopGraceSeconds: config.reconcile.stopGraceSeconds,
    },
    publish: (table) => feed.publish(table),
    emit: logReconcilerEvent,
    lifecycleSteps: [() => advanceVpcIngressConnections(store, systemClock)],
    builds,
    ...(execution.digests !== undefined && { digests: execution.digests }),
    fleet,
  });
  wake.reconciler = reconciler;
  onHealthChange.to = reconciler;
  const autoscaler = new Autoscaler({
    store,
    clock,
    defaults: settingsDefaults,
    onChange: () => reconciler.wake(),
    emit: (event) => log(event.type === 'error' ? 'warn' : 'info', 'autoscaler', `${event.serviceName === undefined ? '' : `${event.serviceName}: `}${event.message}`),
  });
  const context: ApiContext = {
    store,
    clock,
    arn: { region: config.region, accountId: config.accountId },
    domain: config.domain,
    quotas: config.quotas,
    serviceSettings: settingsDefaults,
    secrets,
    onChange: () => reconciler.wake(),
  };
  const unsubscribe = logApiRequests();
  const services = new ServiceApi(context);
  const autoDeploy = new AutoDeployer({
    store,
    clock,
    secrets,
    sources,
    // Set only on the Docker runtime (execution.ts): elsewhere image tags are not polled.
    digests: execution.digests,
    startDeployment: (serviceArn) => services.startDeployment({ ServiceArn: serviceArn }).OperationId as string,
    emit: logAutoDeployEvent,
  });
  const webhooks: WebhookDeps = {
    webhookSecret: (id) => connectionWebhookSecret(store, secrets, id),
    onGitPush: (id, push) => autoDeploy.onGitPush(id, push),
    registryToken: config.build.registryNotificationToken === '' ? undefined : config.build.registryNotificationToken,
    onImagePush: (pushes) => autoDeploy.onImagePush(pushes),
  };

  const authorizer = new Authorizer({ store, secrets, arn: context.arn });
  const api = createApiServer({
    targets: { AppRunner: appRunnerHandlers(context), Berth: berthHandlers(context) },
    region: config.region,
    lookupSecret: (id) => authorizer.credential(id),
    authorize: (caller, target, input) => authorizer.authorize(caller, target, input),
    clock,
    webhooks,
  });
  const control = createControlServer(feed, {
    onReport: (report) => {
      fleet.record(report);
      // Every report feeds the load windows; one showing a request waiting for a service at
      // zero has it decided at once.
      autoscaler.observe(report);
      // A report may say an instance being drained has finished its last request.
      if (reconciler.draining) reconciler.wake();
    },
  });
  rmSync(paths.controlSocket, { force: true });
  await listen(control, paths.controlSocket);
  const apiPort = await listen(api, config.api.port, config.api.host);
  writeFileSync(paths.controlPlanePid, `${process.pid}\n`);
  reconciler.start();
  autoscaler.start();
  autoDeploy.start(config.build.pollIntervalSeconds * 1000);
  // Images and build directories no revision needs any more are freed once a minute.
  const collector = setInterval(() => {
    builds.collect().then(
      (count) => count > 0 && log('info', 'builder', `freed ${count} build${count === 1 ? '' : 's'} no revision needs`),
      (error: unknown) => log('warn', 'builder', `freeing old builds failed: ${(error as Error).message}`),
    );
  }, 60_000);
  collector.unref();

  const apiHost = config.api.host.includes(':') ? `[${config.api.host}]` : config.api.host;
  return {
    apiUrl: `http://${apiHost}:${apiPort}`,
    store,
    async stop() {
      clearInterval(collector);
      await autoDeploy.stop();
      autoscaler.stop();
      await reconciler.stop();
      await builds.stop();
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
    ...new ConnectionApi(context).handlers(),
    ...new CustomDomainApi(context).handlers(),
    ...new AutoScalingApi(context).handlers(),
    ...new ObservabilityApi(context).handlers(),
    ...new VpcConnectorApi(context).handlers(),
    ...new VpcIngressApi(context).handlers(),
  };
}

/** Berth's own operations (target prefix `Berth`): access control and extensions. */
function berthHandlers(context: ApiContext): CallerOperationHandlers {
  return {
    ...new IamApi(context).handlers(),
    ...new ConnectionApi(context).extensionHandlers(),
    ...new ServiceApi(context).extensionHandlers(),
  };
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

function logAutoDeployEvent(event: AutoDeployEvent): void {
  switch (event.type) {
    case 'deploy':
      return log('info', 'auto-deploy', `${event.serviceName}: deploying (${event.why}): operation ${event.operationId}`);
    case 'skip':
      return log('info', 'auto-deploy', `${event.serviceName}: not deploying: ${event.why}`);
    case 'error':
      return log('warn', 'auto-deploy', `${event.serviceName}: ${event.message}`);
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

/**
 * @module
 * The reconciler: level-triggered convergence of what runs (read from the runtime every pass)
 * on what the store asks for. It keeps no state that matters across restarts: killed at any
 * moment and started again, it reads both sides afresh and carries on, so it never loses or
 * duplicates an instance. Passes run every `intervalMs` and whenever something changed.
 */
import { newHexId } from '../core/ids.ts';
import type { Clock } from '../core/clock.ts';
import type { HealthVerdict } from '../core/health.ts';
import type { OperationRecord } from '../core/operation.ts';
import type { Route, RouteTable } from '../core/routes.ts';
import { revisionDigestKey, RuntimeError, type ContainerRuntime, type ImageDigests, type Instance } from '../core/runtime.ts';
import { buildFailureMessage } from '../core/build-record.ts';
import type { RevisionSpec, ServiceRecord } from '../core/service.ts';
import type { Store } from '../core/store.ts';
import type { HealthTracker } from './health-tracker.ts';
import type { SourceBuilds } from './source-builds.ts';

export interface ReconcilerOptions {
  intervalMs: number;
  /** How long a deployment's instances get to pass their health check (App Runner: 5 min). */
  startupTimeoutMs: number;
  /** SIGTERM-to-SIGKILL grace when stopping an instance. */
  stopGraceSeconds: number;
}

/** What the reconciler reports; the composition root logs it. */
export type ReconcilerEvent =
  | { type: 'instance-started'; serviceName: string; instanceId: string; address: string; ms: number }
  | { type: 'instance-removed'; serviceName: string; instanceId: string; why: string }
  | { type: 'operation-ended'; serviceName: string; operation: OperationRecord }
  | { type: 'error'; serviceName?: string; message: string };

export class Reconciler {
  readonly #store: Store;
  readonly #runtime: ContainerRuntime;
  readonly #health: HealthTracker;
  readonly #clock: Clock;
  readonly #options: ReconcilerOptions;
  readonly #publish: (table: RouteTable) => void;
  readonly #emit: (event: ReconcilerEvent) => void;
  readonly #lifecycleSteps: readonly (() => boolean)[];
  readonly #builds: SourceBuilds | undefined;
  readonly #digests: ImageDigests | undefined;
  /** Image revisions this process has pulled afresh for their deployment. */
  readonly #refreshed = new Set<string>();

  /** Services with a pass of their own under way (pulls and starts can take a while). */
  readonly #busy = new Set<string>();
  /** When each service's last pass ended: a runtime listing older than that is stale for it. */
  readonly #passEndedAt = new Map<string, number>();
  /** Instances this process is removing right now, so no pass removes them twice. */
  readonly #removing = new Set<string>();
  /** Each instance's service, to publish routes from health changes. */
  readonly #instances = new Map<string, Instance>();
  #synced = false;
  #running = false;
  #wake: (() => void) | undefined;
  #pending = false;
  #loop: Promise<void> | undefined;

  constructor(deps: {
    store: Store;
    runtime: ContainerRuntime;
    health: HealthTracker;
    clock: Clock;
    options: ReconcilerOptions;
    publish: (table: RouteTable) => void;
    emit: (event: ReconcilerEvent) => void;
    /**
     * Store-only lifecycle steps run at the start of every pass (e.g. moving VPC ingress
     * connections out of their PENDING_* states); each returns true if it changed anything.
     */
    lifecycleSteps?: readonly (() => boolean)[];
    /** Builds source-code revisions; without it, such revisions fail to deploy with a reason. */
    builds?: SourceBuilds;
    /** Reads the digest an image service's revision was pulled at (recorded for auto-deploy). */
    digests?: ImageDigests;
  }) {
    this.#store = deps.store;
    this.#runtime = deps.runtime;
    this.#health = deps.health;
    this.#clock = deps.clock;
    this.#options = deps.options;
    this.#publish = deps.publish;
    this.#emit = deps.emit;
    this.#lifecycleSteps = deps.lifecycleSteps ?? [];
    this.#builds = deps.builds;
    this.#digests = deps.digests;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.wake();
    await this.#loop;
    this.#health.stop();
  }

  /** Asks for a pass now (after an API write or a health change). */
  wake(): void {
    this.#pending = true;
    this.#wake?.();
  }

  /** Called by the health tracker. */
  onHealthChange(instanceId: string, verdict: HealthVerdict): void {
    void verdict;
    if (this.#instances.has(instanceId)) {
      this.#publishRoutes();
      this.wake();
    }
  }

  async #run(): Promise<void> {
    while (this.#running) {
      this.#pending = false;
      try {
        await this.pass();
      } catch (error) {
        this.#emit({ type: 'error', message: `reconcile pass failed: ${(error as Error).message}` });
      }
      if (!this.#running) break;
      // Even when more work is pending, pause briefly: a failing engine call must not spin.
      const delay = this.#pending ? 10 : this.#options.intervalMs;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.#wake = () => {
          clearTimeout(timer);
          setTimeout(resolve, 10);
        };
      });
      this.#wake = undefined;
    }
  }

  /** One pass over every service. Exposed for tests. */
  async pass(): Promise<void> {
    for (const step of this.#lifecycleSteps) {
      try {
        if (step()) this.wake();
      } catch (error) {
        this.#emit({ type: 'error', message: `lifecycle step failed: ${(error as Error).message}` });
      }
    }
    const listedAt = this.#clock.now();
    let instances: Instance[];
    try {
      instances = await this.#runtime.list();
    } catch (error) {
      // The engine is away: change nothing (the router keeps its routes), but let deploys
      // that have waited too long fail with the reason.
      this.#emit({ type: 'error', message: `cannot list instances from ${this.#runtime.name}: ${(error as Error).message}` });
      for (const service of this.#store.listLiveServices()) this.#checkDeadline(service, `the ${this.#runtime.name} runtime is unavailable: ${(error as Error).message}`);
      return;
    }
    const services = this.#store.listLiveServices();
    const live = new Map(services.map((s) => [s.id, s]));
    const byService = new Map<string, Instance[]>();
    for (const instance of instances) {
      if (!live.has(instance.serviceId)) {
        // Owned by no live service (deleted while Berth was down, or left by a crash): remove.
        void this.#remove(instance, undefined, 'no service owns it');
        continue;
      }
      const list = byService.get(instance.serviceId) ?? [];
      list.push(instance);
      byService.set(instance.serviceId, list);
    }
    // Forget instances that are gone from the runtime.
    const present = new Set(instances.map((i) => i.instanceId));
    for (const id of this.#instances.keys()) {
      if (!present.has(id)) {
        this.#instances.delete(id);
        this.#health.untrack(id);
      }
    }

    const passes: Promise<void>[] = [];
    for (const service of services) {
      if (this.#busy.has(service.id)) continue;
      if ((this.#passEndedAt.get(service.id) ?? 0) > listedAt) {
        // The listing predates this service's last change: look again next pass.
        this.wake();
        continue;
      }
      this.#busy.add(service.id);
      passes.push(
        this.#reconcileService(service.id, byService.get(service.id) ?? [], !this.#synced)
          .catch((error: unknown) => this.#emit({ type: 'error', serviceName: service.name, message: (error as Error).message }))
          .finally(() => {
            this.#busy.delete(service.id);
            this.#passEndedAt.set(service.id, this.#clock.now());
          }),
      );
    }
    if (!this.#synced) {
      // First pass after start: publish only once every instance found has been probed once,
      // so a restarted control plane never withdraws routes the router is serving on.
      await Promise.all(passes);
      this.#synced = true;
    }
    this.#publishRoutes();
  }

  async #reconcileService(serviceId: string, instances: Instance[], adopting: boolean): Promise<void> {
    const service = this.#store.getService(serviceId);
    if (service === undefined || service.status === 'DELETED') return;
    const operation = this.#store.activeOperation(serviceId);
    const revision = this.#store.getRevision(service.revisionId);
    if (revision === undefined) throw new Error(`service ${service.name} has no revision ${service.revisionId}`);

    const type = operation?.type;
    const stopping = type === 'DELETE_SERVICE' || type === 'PAUSE_SERVICE';
    const stopped = service.status === 'CREATE_FAILED' || service.status === 'PAUSED';
    const desired = stopping || (stopped && operation === undefined) ? 0 : service.minSize;
    const deploying = operation !== undefined && isDeployment(operation) && operation.status === 'IN_PROGRESS';
    // While a new revision starts, the one serving keeps its instances (and its traffic).
    const keep = deploying && service.servingRevisionId !== undefined && service.servingRevisionId !== service.revisionId ? service.servingRevisionId : undefined;

    for (const instance of instances) this.#instances.set(instance.instanceId, instance);
    const current = instances.filter((i) => i.revisionId === service.revisionId && i.state === 'running');
    const kept = instances.filter((i) => keep !== undefined && i.revisionId === keep && i.state === 'running');
    const removable = instances.filter((i) => !current.includes(i) && !kept.includes(i));

    // Instances that exited, or were created but never started (a crash mid-start), or belong
    // to another revision: remove them. An exit of the revision being deployed fails the deployment.
    for (const instance of removable) {
      if (instance.state === 'exited' && deploying && operation !== undefined && instance.revisionId === service.revisionId) {
        // Its output first (removal loses it), then clean up, then report: by the time the
        // operation reads failed, nothing of the failed revision runs.
        const logs = await this.#runtime.logs(instance.runtimeId, 5).catch(() => '');
        await Promise.all(
          instances.filter((i) => i.revisionId === service.revisionId).map((i) => this.#remove(i, service, i === instance ? 'it exited' : 'the deployment failed')),
        );
        this.#failDeployment(service, operation, `Instance ${instance.instanceId} exited with code ${instance.exitCode ?? 'unknown'} before passing its health check${logs.trim() ? `; its last output: ${logs.trim()}` : ''}`);
        return;
      }
      await this.#remove(instance, service, instance.state === 'exited' ? `it exited with code ${instance.exitCode ?? 'unknown'}` : instance.state === 'created' ? 'it never started' : 'it runs an old revision');
    }

    // Health: probe every running instance; replace those of the desired revision that turned unhealthy.
    const firstProbes: Promise<void>[] = [];
    for (const instance of [...current, ...kept]) {
      if (instance.address === undefined) continue;
      const check = (instance.revisionId === revision.id ? revision : this.#store.getRevision(instance.revisionId))?.spec.healthCheck ?? revision.spec.healthCheck;
      firstProbes.push(
        adopting && instance.revisionId === service.servingRevisionId
          ? this.#health.adopt(instance.instanceId, instance.address, check)
          : this.#health.track(instance.instanceId, instance.address, check),
      );
    }
    await Promise.all(firstProbes);
    const healthy: Instance[] = [];
    const serving: Instance[] = [];
    for (const instance of current) {
      const verdict = this.#health.verdict(instance.instanceId);
      if (verdict === 'unhealthy') {
        await this.#remove(instance, service, `it failed ${revision.spec.healthCheck.UnhealthyThreshold} health checks in a row (${this.#health.lastDetail(instance.instanceId)})`);
        continue;
      }
      serving.push(instance);
      if (verdict === 'healthy') healthy.push(instance);
    }

    // A source-code revision runs what its build made; until then nothing of it starts (the
    // revision serving keeps the traffic), and a failed build fails the deployment.
    let spec: RevisionSpec = revision.spec;
    let readySince = operation?.startedAt;
    if (revision.spec.source !== undefined && desired > 0) {
      const build = this.#builds?.state(revision, operation?.id)
        ?? { state: 'failed', build: { failure: { message: 'this control plane has no builder, so it cannot deploy source code', outputTail: [] } } };
      if (build.state === 'building') return;
      if (build.state === 'failed') {
        const message = buildFailureMessage(build.build.failure ?? { message: 'unknown reason', outputTail: [] });
        if (deploying && operation !== undefined) this.#failDeployment(service, operation, message);
        else this.#emit({ type: 'error', serviceName: service.name, message });
        return;
      }
      spec = { ...revision.spec, image: build.build.image, port: build.build.port, env: { ...build.build.environment, ...revision.spec.env } };
      readySince = Math.max(readySince ?? 0, build.build.endedAt ?? 0);
    }

    // Scale the desired revision to its count.
    if (serving.length > desired) {
      // Remove the ones not serving yet first, then the newest.
      const surplus = [...serving].sort((a, b) => rank(a) - rank(b) || b.createdAt - a.createdAt).slice(0, serving.length - desired);
      await Promise.all(surplus.map((i) => this.#remove(i, service, stopping ? `the service is ${type === 'PAUSE_SERVICE' ? 'pausing' : 'being deleted'}` : 'more instances run than desired')));
    } else if (serving.length < desired) {
      const started = await this.#startInstances(service, revision.id, spec, operation, desired - serving.length);
      if (!started) return;
    }

    // Move the operation on.
    if (operation === undefined) return;
    if (stopping) {
      // Everything listed has just been removed; the next pass confirms the runtime agrees.
      if (instances.length === 0) this.#succeed(service, operation, type === 'DELETE_SERVICE' ? 'DELETED' : 'PAUSED');
      else this.wake();
    } else if (healthy.length >= desired && desired > 0) {
      // The desired revision is healthy: it takes the traffic; what else runs goes next pass.
      if (operation.status === 'ROLLBACK_IN_PROGRESS') {
        if (instances.every((i) => i.revisionId === service.revisionId)) this.#finish(service, operation, 'ROLLBACK_SUCCEEDED', 'RUNNING', operation.message);
        else this.wake();
      } else {
        this.#succeed(service, operation, 'RUNNING');
      }
    } else if (deploying) {
      this.#checkDeadline(service, this.#whyNotHealthy(current), spec.port, readySince);
    }

    function rank(i: Instance): number {
      return healthy.includes(i) ? 1 : 0;
    }
  }

  async #startInstances(service: ServiceRecord, revisionId: string, spec: RevisionSpec, operation: OperationRecord | undefined, count: number): Promise<boolean> {
    const fail = (message: string): void => {
      if (operation !== undefined && isDeployment(operation) && operation.status === 'IN_PROGRESS') this.#failDeployment(service, operation, message);
      else this.#emit({ type: 'error', serviceName: service.name, message });
    };
    // A deployment of an image service takes what its tag names now (App Runner pulls on every
    // deployment), once per revision; instances started later for the revision reuse that pull.
    // A resume brings back the version that ran, so it does not look for a newer one (§5.5).
    const refresh = spec.source === undefined && operation !== undefined && isDeployment(operation) && operation.type !== 'RESUME_SERVICE'
      && operation.status === 'IN_PROGRESS' && !this.#refreshed.has(revisionId);
    try {
      await this.#runtime.ensureImage(spec.image, { refresh });
      if (refresh) {
        this.#refreshed.add(revisionId);
        await this.#recordDigest(revisionId, spec.image);
      }
    } catch (error) {
      fail(error instanceof RuntimeError ? error.message : `pulling ${spec.image} failed: ${(error as Error).message}`);
      return false;
    }
    const starts = Array.from({ length: count }, async () => {
      const instanceId = newHexId().slice(0, 12);
      const began = this.#clock.now();
      const instance = await this.#runtime.start({
        instanceId,
        serviceId: service.id,
        serviceName: service.name,
        revisionId,
        image: spec.image,
        port: spec.port,
        env: spec.env,
        ...(spec.startCommand !== undefined && { startCommand: spec.startCommand }),
        cpuUnits: spec.cpuUnits,
        memoryMb: spec.memoryMb,
      });
      this.#instances.set(instanceId, instance);
      this.#emit({ type: 'instance-started', serviceName: service.name, instanceId, address: instance.address ?? '', ms: this.#clock.now() - began });
      if (instance.address !== undefined) void this.#health.track(instanceId, instance.address, spec.healthCheck);
    });
    const results = await Promise.allSettled(starts);
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure !== undefined) {
      fail((failure.reason as Error).message);
      return false;
    }
    this.wake();
    return true;
  }

  /** The digest the revision's image was pulled at: the tag poller compares the registry with it. */
  async #recordDigest(revisionId: string, image: string): Promise<void> {
    const digest = await this.#digests?.local(image).catch(() => undefined);
    if (digest !== undefined) this.#store.setMeta(revisionDigestKey(revisionId), digest);
  }

  #whyNotHealthy(current: Instance[]): string {
    const details = current.map((i) => this.#health.lastDetail(i.instanceId)).filter((d) => d !== undefined);
    return details.length === 0 ? 'no instance was running' : `the last health check said: ${details.join('; ')}`;
  }

  /** Fails a deployment whose instances have not passed their health checks in time. */
  #checkDeadline(service: ServiceRecord, why: string, port?: number, since?: number): void {
    const operation = this.#store.activeOperation(service.id);
    if (operation === undefined || !isDeployment(operation) || operation.status !== 'IN_PROGRESS') return;
    const waited = this.#clock.now() - Math.max(operation.startedAt, since ?? 0);
    if (waited < this.#options.startupTimeoutMs) return;
    const check = service.config.HealthCheckConfiguration;
    const what = check.Protocol === 'HTTP' ? `HTTP health check of path ${check.Path}` : 'TCP health check';
    this.#failDeployment(service, operation, `No instance passed its ${what} on port ${port ?? this.#store.getRevision(service.revisionId)?.spec.port ?? 'unknown'} within ${Math.round(this.#options.startupTimeoutMs / 1000)} s; ${why}`);
  }

  /**
   * A deployment failed. A first deployment ends CREATE_FAILED; a resume goes back to PAUSED;
   * an update or redeploy of a service that has served before rolls back: the service returns
   * to the revision it served (image and configuration), whose instances never stopped, and
   * the operation ends ROLLBACK_SUCCEEDED once only that revision runs (§5.4).
   */
  #failDeployment(service: ServiceRecord, operation: OperationRecord, message: string): void {
    const previous = service.servingRevisionId === undefined ? undefined : this.#store.getRevision(service.servingRevisionId);
    if (operation.type === 'RESUME_SERVICE') {
      this.#finish(service, operation, 'FAILED', 'PAUSED', message);
    } else if (previous === undefined || previous.id === service.revisionId || operation.type === 'CREATE_SERVICE') {
      this.#finish(service, operation, 'FAILED', service.servingRevisionId === undefined ? 'CREATE_FAILED' : 'RUNNING', message);
    } else {
      const now = this.#clock.now();
      const rolledBack = this.#store.transaction(() => {
        const op = this.#store.activeOperation(service.id);
        const fresh = this.#store.getService(service.id);
        if (op?.id !== operation.id || fresh === undefined) return undefined;
        const rolling: OperationRecord = { ...op, status: 'ROLLBACK_IN_PROGRESS', updatedAt: now, message: `${message}; rolled back to the previous revision` };
        this.#store.updateOperation(rolling);
        this.#store.updateService({
          ...fresh,
          revisionId: previous.id,
          config: previous.config,
          autoScalingConfigurationArn: previous.autoScaling.arn,
          minSize: previous.autoScaling.minSize,
          maxConcurrency: previous.autoScaling.maxConcurrency,
          maxSize: previous.autoScaling.maxSize,
          updatedAt: now,
        });
        return rolling;
      });
      if (rolledBack !== undefined) {
        this.#emit({ type: 'operation-ended', serviceName: service.name, operation: rolledBack });
        this.wake();
      }
    }
  }

  #succeed(service: ServiceRecord, operation: OperationRecord, status: 'RUNNING' | 'DELETED' | 'PAUSED'): void {
    this.#finish(service, operation, 'SUCCEEDED', status);
  }

  #finish(service: ServiceRecord, operation: OperationRecord, opStatus: 'SUCCEEDED' | 'FAILED' | 'ROLLBACK_SUCCEEDED', status: ServiceRecord['status'], message?: string): void {
    const now = this.#clock.now();
    const ended = this.#store.transaction(() => {
      // Re-read both: the API may have written since this pass began.
      const op = this.#store.activeOperation(service.id);
      const fresh = this.#store.getService(service.id);
      if (op?.id !== operation.id || fresh === undefined) return undefined;
      const endedOp: OperationRecord = { ...op, status: opStatus, updatedAt: now, endedAt: now, ...(message !== undefined && { message }) };
      this.#store.updateOperation(endedOp);
      this.#store.updateService({
        ...fresh,
        status,
        updatedAt: now,
        // A revision that became healthy serves from now on.
        ...(status === 'RUNNING' && opStatus === 'SUCCEEDED' && { servingRevisionId: fresh.revisionId }),
        ...(status === 'DELETED' && { deletedAt: now }),
      });
      return endedOp;
    });
    if (ended !== undefined) {
      this.#emit({ type: 'operation-ended', serviceName: service.name, operation: ended });
      this.wake();
      this.#publishRoutes();
    }
  }

  async #remove(instance: Instance, service: ServiceRecord | undefined, why: string): Promise<void> {
    if (this.#removing.has(instance.instanceId)) return;
    this.#removing.add(instance.instanceId);
    this.#health.untrack(instance.instanceId);
    this.#instances.delete(instance.instanceId);
    this.#publishRoutes();
    try {
      await this.#runtime.remove(instance.runtimeId, this.#options.stopGraceSeconds);
      this.#emit({ type: 'instance-removed', serviceName: service?.name ?? instance.serviceId, instanceId: instance.instanceId, why });
      this.wake();
    } catch (error) {
      // Retried by the next timed pass, not at once: a failing engine must not be hammered.
      this.#emit({ type: 'error', serviceName: service?.name, message: `removing instance ${instance.instanceId} failed: ${(error as Error).message}` });
    } finally {
      this.#removing.delete(instance.instanceId);
    }
  }

  /** The route table from the store and the instances' health, sent to the router. */
  #publishRoutes(): void {
    if (!this.#synced) return;
    const routes: Route[] = [];
    for (const service of this.#store.listLiveServices()) {
      const operation = this.#store.activeOperation(service.id);
      if (operation?.type === 'DELETE_SERVICE') continue; // A service being deleted answers 404 at once.
      // A paused service keeps its host (and answers that it is paused) with no instances.
      const targets = [...this.#instances.values()]
        .filter((i) => i.serviceId === service.id && i.revisionId === (service.servingRevisionId ?? service.revisionId) && i.address !== undefined)
        .filter((i) => this.#health.verdict(i.instanceId) === 'healthy' && !this.#removing.has(i.instanceId))
        .map((i) => ({ instanceId: i.instanceId, address: i.address as string }));
      routes.push({ host: service.urlHost, serviceId: service.id, serviceName: service.name, targets });
    }
    this.#publish({ routes });
  }
}

/** Operations that bring a revision up and succeed once it is healthy. */
function isDeployment(operation: OperationRecord): boolean {
  return operation.type === 'CREATE_SERVICE' || operation.type === 'UPDATE_SERVICE' || operation.type === 'START_DEPLOYMENT' || operation.type === 'RESUME_SERVICE';
}

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
import { revisionDigestKey, revisionImageKey, RuntimeError, type ContainerRuntime, type ImageDigests, type Instance } from '../core/runtime.ts';
import { desiredInstancesOf } from '../core/auto-scaling.ts';
import { buildFailureMessage } from '../core/build-record.ts';
import { instanceSummaryKey, type InstanceSummary } from '../core/instance-summary.ts';
import { crashLoopKey, type CrashLoopState, type ServiceEvent, type ServiceEventType } from '../core/service-events.ts';
import { effectiveSettings, type ServiceSettings } from '../core/service-settings.ts';
import type { RevisionSpec, ServiceRecord } from '../core/service.ts';
import type { Store } from '../core/store.ts';
import type { HealthTracker } from './health-tracker.ts';
import { ROUTER_SETTLE_MS, type RouterFleet } from './router-fleet.ts';
import type { SourceBuilds } from './source-builds.ts';

export interface ReconcilerOptions {
  intervalMs: number;
  /**
   * The installation's defaults of services' own settings: the startup limit (how long a
   * deployment's instances get to pass their health check; App Runner: 5 min), the request
   * timeout (which also bounds how long an instance drains), the ephemeral storage limit.
   */
  defaults: ServiceSettings;
  /** SIGTERM-to-SIGKILL grace when stopping an instance. */
  stopGraceSeconds: number;
  /** How often instances' ephemeral storage is measured. Default ten passes apart (10 s by default). */
  storageCheckMs?: number;
}

/** An instance that has run this long and failed starts a new crash loop count. */
const CRASH_LOOP_RESET_MS = 60_000;
/** The longest wait between starts of a crash-looping revision's instances. */
const MAX_BACKOFF_MS = 300_000;

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
  readonly #fleet: RouterFleet | undefined;
  /** Image revisions this process has pulled afresh for their deployment. */
  readonly #refreshed = new Set<string>();

  /** Services with a pass of their own under way (pulls and starts can take a while). */
  readonly #busy = new Set<string>();
  /** When each service's last pass ended: a runtime listing older than that is stale for it. */
  readonly #passEndedAt = new Map<string, number>();
  /** Instances this process is removing right now, so no pass removes them twice. */
  readonly #removing = new Set<string>();
  /** Instances withdrawn from the routes and waiting for the routers to finish their requests. */
  readonly #draining = new Map<string, { since: number; why: string }>();
  /** Instances in the route table last published, and the generation (RouterFleet) of the first table without each that left it. */
  #routed = new Set<string>();
  readonly #leftRoutesIn = new Map<string, number>();
  #firstGeneration: number | undefined;
  /** Instances found running by the first pass, and when this reconciler was made. */
  #adopted: Set<string> | undefined;
  readonly #createdAt: number;
  /** Each instance's service, to publish routes from health changes. */
  readonly #instances = new Map<string, Instance>();
  /** Crash loops by service id, mirrored in the store (crashLoopKey) for the API. */
  readonly #crashLoops = new Map<string, CrashLoopState | undefined>();
  /** The instance summary last written per service (its revisions part), to write only changes. */
  readonly #summaries = new Map<string, string>();
  /** Operations whose start is in the event log. */
  readonly #announced = new Set<string>();
  /** Bytes written by each instance outside its image, by runtime id, and when last measured. */
  #storage = new Map<string, number>();
  #storageMeasuredAt = 0;
  #storagePending = false;
  #backoffTimer: NodeJS.Timeout | undefined;
  #wakeDue = 0;
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
    /**
     * The routers' reports: an instance leaving the routes is stopped once they have no request
     * left on it. Without it (no router), instances stop as soon as they leave the routes. Every
     * table is noted with it before `publish` sends it.
     */
    fleet?: RouterFleet;
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
    this.#fleet = deps.fleet;
    this.#createdAt = deps.clock.now();
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#backoffTimer);
    this.wake();
    await this.#loop;
    this.#health.stop();
  }

  /** Asks for a pass now (after an API write or a health change). */
  wake(): void {
    this.#pending = true;
    this.#wake?.();
  }

  /** Whether instances are draining: a router's report may have freed one (then `wake`). */
  get draining(): boolean {
    return this.#draining.size > 0;
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
    this.#adopted ??= new Set(instances.map((i) => i.instanceId));
    this.#measureStorage();
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
    for (const id of this.#draining.keys()) if (!present.has(id)) this.#draining.delete(id);
    for (const id of this.#leftRoutesIn.keys()) if (!present.has(id)) this.#leftRoutesIn.delete(id);

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
    const settings = this.#settings(service);
    const now = this.#clock.now();

    if (operation !== undefined && !this.#announced.has(operation.id)) this.#announce(service, operation);
    const type = operation?.type;
    const stopping = type === 'DELETE_SERVICE' || type === 'PAUSE_SERVICE';
    const stopped = service.status === 'CREATE_FAILED' || service.status === 'PAUSED';
    const deploying = operation !== undefined && isDeployment(operation) && operation.status === 'IN_PROGRESS';
    // The autoscaler's count within [MinSize, MaxSize]; a deployment brings up at least one
    // instance to check, even for a service scaled to zero.
    const desired = stopping || (stopped && operation === undefined) ? 0 : Math.max(desiredInstancesOf(service), deploying ? 1 : 0);
    // While a new revision starts, the one serving keeps its instances (and its traffic).
    const keep = deploying && service.servingRevisionId !== undefined && service.servingRevisionId !== service.revisionId ? service.servingRevisionId : undefined;

    for (const instance of instances) this.#instances.set(instance.instanceId, instance);
    const running = (i: Instance): boolean => i.state === 'running' && !this.#draining.has(i.instanceId);
    const current = instances.filter((i) => i.revisionId === service.revisionId && running(i));
    const kept = instances.filter((i) => keep !== undefined && i.revisionId === keep && running(i));
    const removable = instances.filter((i) => !current.includes(i) && !kept.includes(i));

    // Instances that exited, or were created but never started (a crash mid-start): remove them
    // at once. Running ones of another revision (or draining already): drain, then stop. An exit
    // of the revision being deployed fails the deployment; one of the revision serving counts
    // towards its crash loop.
    for (const instance of removable) {
      if (instance.state === 'exited' && deploying && operation !== undefined && instance.revisionId === service.revisionId) {
        // Its output first (removal loses it), then clean up, then report: by the time the
        // operation reads failed, nothing of the failed revision runs.
        const logs = await this.#runtime.logs(instance.runtimeId, 5).catch(() => '');
        const why = this.#exitReason(instance, revision.spec.memoryMb);
        await Promise.all(
          instances.filter((i) => i.revisionId === service.revisionId).map((i) => this.#remove(i, service, i === instance ? why : 'the deployment failed', i === instance)),
        );
        this.#failDeployment(service, operation, `Instance ${instance.instanceId} ${why} before passing its health check${logs.trim() ? `; its last output: ${logs.trim()}` : ''}`);
        return;
      }
      if (instance.state === 'exited') {
        const why = this.#exitReason(instance, (instance.revisionId === revision.id ? revision : this.#store.getRevision(instance.revisionId))?.spec.memoryMb);
        const failed = !stopping && !this.#draining.has(instance.instanceId);
        if (failed && instance.revisionId === (service.servingRevisionId ?? service.revisionId)) this.#noteFailure(service, instance, why);
        await this.#remove(instance, service, why, failed);
      } else if (instance.state === 'created') {
        await this.#remove(instance, service, 'it never started');
      } else {
        await this.#retire(instance, service, settings, this.#draining.get(instance.instanceId)?.why ?? 'it runs an old revision');
      }
    }

    // Health: probe every running instance; replace those of the desired revision that turned
    // unhealthy or went over their ephemeral storage.
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
    const storageLimit = settings.ephemeralStorageMb * 1024 * 1024;
    for (const instance of current) {
      const verdict = this.#health.verdict(instance.instanceId);
      const written = this.#storage.get(instance.runtimeId) ?? 0;
      const trouble = verdict === 'unhealthy'
        ? `it failed ${revision.spec.healthCheck.UnhealthyThreshold} health checks in a row (${this.#health.lastDetail(instance.instanceId)})`
        : written > storageLimit ? `it wrote ${Math.round(written / 1048576)} MB to its ephemeral storage, over the limit of ${settings.ephemeralStorageMb} MB` : undefined;
      if (trouble !== undefined) {
        if (!deploying) this.#noteFailure(service, instance, trouble);
        await this.#retire(instance, service, settings, trouble, true);
        continue;
      }
      serving.push(instance);
      if (verdict === 'healthy') healthy.push(instance);
    }
    this.#summarize(service, instances, healthy);
    // A revision whose instance has served a good while is out of its crash loop.
    if (healthy.some((i) => now - i.createdAt > CRASH_LOOP_RESET_MS)) this.#clearCrashLoop(service);

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
      const why = stopping ? `the service is ${type === 'PAUSE_SERVICE' ? 'pausing' : 'being deleted'}` : 'more instances run than desired';
      await Promise.all(surplus.map((i) => this.#retire(i, service, settings, why)));
    } else if (serving.length < desired) {
      const wait = this.#backoffLeft(service, revision.id, deploying);
      if (wait > 0) {
        this.#wakeIn(wait);
      } else {
        const started = await this.#startInstances(service, revision.id, spec, operation, desired - serving.length);
        if (!started) return;
      }
    }

    // Move the operation on.
    if (operation === undefined) return;
    if (stopping) {
      // Everything listed has just been removed; the next pass confirms the runtime agrees.
      if (instances.length === 0) this.#succeed(service, operation, type === 'DELETE_SERVICE' ? 'DELETED' : 'PAUSED');
      else this.wake();
    } else if (healthy.length >= desired && (desired > 0 || operation.status === 'ROLLBACK_IN_PROGRESS')) {
      // The desired revision is healthy: it takes the traffic; what else runs drains next pass.
      if (operation.status === 'ROLLBACK_IN_PROGRESS') {
        if (instances.every((i) => i.revisionId === service.revisionId)) this.#finish(service, operation, 'ROLLBACK_SUCCEEDED', 'RUNNING', operation.message);
        else this.wake();
      } else {
        this.#succeed(service, operation, 'RUNNING');
      }
    } else if (deploying) {
      this.#checkDeadline(service, this.#whyNotHealthy(current), spec.port, readySince);
    } else if (operation.status === 'ROLLBACK_IN_PROGRESS' && now - operation.updatedAt > settings.startupTimeoutSeconds * 1000) {
      // The previous revision could not be brought back in time either.
      this.#finish(service, operation, 'ROLLBACK_FAILED', 'RUNNING', `${operation.message ?? 'the deployment failed'}; the previous revision did not become healthy again within ${settings.startupTimeoutSeconds} s (${this.#whyNotHealthy(current)})`);
    }

    function rank(i: Instance): number {
      return healthy.includes(i) ? 1 : 0;
    }
  }

  async #startInstances(service: ServiceRecord, revisionId: string, spec: RevisionSpec, operation: OperationRecord | undefined, count: number): Promise<boolean> {
    const deploying = operation !== undefined && isDeployment(operation) && operation.status === 'IN_PROGRESS';
    const fail = (message: string): void => {
      if (deploying) {
        this.#failDeployment(service, operation, message);
      } else {
        this.#emit({ type: 'error', serviceName: service.name, message });
        this.#noteFailure(service, { revisionId, createdAt: this.#clock.now() }, message);
      }
    };
    let image: string;
    try {
      image = await this.#imageFor(revisionId, spec, deploying && operation.type !== 'RESUME_SERVICE');
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
        image,
        port: spec.port,
        env: spec.env,
        ...(spec.startCommand !== undefined && { startCommand: spec.startCommand }),
        cpuUnits: spec.cpuUnits,
        memoryMb: spec.memoryMb,
      });
      this.#instances.set(instanceId, instance);
      const ms = this.#clock.now() - began;
      this.#emit({ type: 'instance-started', serviceName: service.name, instanceId, address: instance.address ?? '', ms });
      this.#event(service, 'instance-started', `Instance ${instanceId} of revision ${revisionId} started in ${ms} ms`, { instanceId, revisionId });
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

  /**
   * The exact image a revision's instances run. A deployment of an image service takes what its
   * tag names now (App Runner pulls on every deployment), once per revision, and pins it: every
   * instance started later for the revision (a replacement, a rollback, a resume) runs those
   * same bits even after the tag has moved (§5.5: resume brings back the last deployed version).
   */
  async #imageFor(revisionId: string, spec: RevisionSpec, deployment: boolean): Promise<string> {
    // A build's image is its own and never moves (and a revision built again gets a new one).
    if (spec.source !== undefined) {
      await this.#runtime.ensureImage(spec.image);
      return spec.image;
    }
    const key = revisionImageKey(revisionId);
    const refresh = deployment && !this.#refreshed.has(revisionId);
    const pinned = refresh ? undefined : this.#store.getMeta(key);
    if (pinned !== undefined) {
      try {
        return await this.#runtime.ensureImage(pinned);
      } catch (error) {
        // The pinned image was removed from the engine: the reference is the best left.
        this.#emit({ type: 'error', message: `the image revision ${revisionId} was pinned to (${pinned}) is gone (${(error as Error).message}); using ${spec.image}` });
      }
    }
    const image = await this.#runtime.ensureImage(spec.image, { refresh });
    this.#store.setMeta(key, image);
    if (refresh) {
      this.#refreshed.add(revisionId);
      await this.#recordDigest(revisionId, spec.image);
    }
    return image;
  }

  /** The digest the revision's image was pulled at: the tag poller compares the registry with it. */
  async #recordDigest(revisionId: string, image: string): Promise<void> {
    const digest = await this.#digests?.local(image).catch(() => undefined);
    if (digest !== undefined) this.#store.setMeta(revisionDigestKey(revisionId), digest);
  }

  #settings(service: ServiceRecord): ServiceSettings {
    return effectiveSettings(service.settings, this.#options.defaults);
  }

  #exitReason(instance: Instance, memoryMb: number | undefined): string {
    if (instance.outOfMemory === true) return `ran out of memory (its limit is ${memoryMb ?? 'unknown'} MB) and was killed`;
    return `exited with code ${instance.exitCode ?? 'unknown'}`;
  }

  /**
   * An instance of the revision that serves (or should) failed. Replacements back off: the
   * first at once, then after 1 s, 2 s, 4 s, … up to 5 minutes, so a crash loop never spins;
   * the loop is reported in the event log and in DescribeService (crashLoopKey).
   */
  #noteFailure(service: ServiceRecord, instance: Pick<Instance, 'revisionId' | 'createdAt'> & { instanceId?: string }, why: string): void {
    const now = this.#clock.now();
    const previous = this.#crashLoop(service.id);
    const fresh = previous === undefined || previous.revisionId !== instance.revisionId || now - instance.createdAt > CRASH_LOOP_RESET_MS;
    const failures = fresh ? 1 : previous.failures + 1;
    const delay = failures <= 1 ? 0 : Math.min(1000 * 2 ** (failures - 2), MAX_BACKOFF_MS);
    const state: CrashLoopState = { revisionId: instance.revisionId, failures, lastReason: why, nextStartAt: now + delay };
    this.#crashLoops.set(service.id, state);
    if (failures >= 2) {
      this.#store.setMeta(crashLoopKey(service.id), JSON.stringify(state));
      this.#event(service, 'crash-loop', `Instances of revision ${instance.revisionId} failed ${failures} times in a row (the last one ${why}); the next starts in ${Math.round(delay / 1000)} s`, {
        revisionId: instance.revisionId,
        ...(instance.instanceId !== undefined && { instanceId: instance.instanceId }),
      });
    }
  }

  #crashLoop(serviceId: string): CrashLoopState | undefined {
    if (!this.#crashLoops.has(serviceId)) {
      // A restarted control plane carries on with the backoff it had reached.
      const stored = this.#store.getMeta(crashLoopKey(serviceId));
      this.#crashLoops.set(serviceId, stored === undefined || stored === '' ? undefined : (JSON.parse(stored) as CrashLoopState));
    }
    return this.#crashLoops.get(serviceId);
  }

  #clearCrashLoop(service: ServiceRecord): void {
    const state = this.#crashLoop(service.id);
    if (state === undefined) return;
    this.#crashLoops.set(service.id, undefined);
    if (state.failures >= 2) {
      this.#store.setMeta(crashLoopKey(service.id), '');
      this.#event(service, 'crash-loop', `Revision ${state.revisionId} is out of its crash loop: an instance has been healthy for ${CRASH_LOOP_RESET_MS / 1000} s`, { revisionId: state.revisionId });
    }
  }

  /** Milliseconds before an instance of `revisionId` may start again (0: now). Deployments never wait. */
  #backoffLeft(service: ServiceRecord, revisionId: string, deploying: boolean): number {
    if (deploying) return 0;
    const state = this.#crashLoop(service.id);
    if (state === undefined || state.revisionId !== revisionId) return 0;
    return Math.max(0, state.nextStartAt - this.#clock.now());
  }

  /** Asks for a pass in `ms` (or sooner, if one is already due sooner). */
  #wakeIn(ms: number): void {
    const due = this.#clock.now() + ms;
    if (this.#backoffTimer !== undefined && this.#wakeDue <= due) return;
    clearTimeout(this.#backoffTimer);
    this.#wakeDue = due;
    this.#backoffTimer = setTimeout(() => {
      this.#backoffTimer = undefined;
      this.wake();
    }, ms + 5);
    this.#backoffTimer.unref();
  }

  /** Starts measuring instances' ephemeral storage when it is due; never holds up a pass. */
  #measureStorage(): void {
    const every = this.#options.storageCheckMs ?? this.#options.intervalMs * 10;
    if (this.#storagePending || this.#clock.now() - this.#storageMeasuredAt < every) return;
    this.#storagePending = true;
    this.#runtime.storageUsage().then(
      (usage) => {
        this.#storage = usage;
        this.#storageMeasuredAt = this.#clock.now();
        this.wake();
      },
      (error: unknown) => {
        this.#storageMeasuredAt = this.#clock.now();
        this.#emit({ type: 'error', message: `measuring instances' ephemeral storage failed: ${(error as Error).message}` });
      },
    ).finally(() => (this.#storagePending = false));
  }

  #whyNotHealthy(current: Instance[]): string {
    const details = current.map((i) => this.#health.lastDetail(i.instanceId)).filter((d) => d !== undefined);
    return details.length === 0 ? 'no instance was running' : `the last health check said: ${details.join('; ')}`;
  }

  /** Fails a deployment whose instances have not passed their health checks in time. */
  #checkDeadline(service: ServiceRecord, why: string, port?: number, since?: number): void {
    const operation = this.#store.activeOperation(service.id);
    if (operation === undefined || !isDeployment(operation) || operation.status !== 'IN_PROGRESS') return;
    const limitMs = this.#settings(service).startupTimeoutSeconds * 1000;
    const waited = this.#clock.now() - Math.max(operation.startedAt, since ?? 0);
    if (waited < limitMs) return;
    const check = service.config.HealthCheckConfiguration;
    const what = check.Protocol === 'HTTP' ? `HTTP health check of path ${check.Path}` : 'TCP health check';
    this.#failDeployment(service, operation, `No instance passed its ${what} on port ${port ?? this.#store.getRevision(service.revisionId)?.spec.port ?? 'unknown'} within ${Math.round(limitMs / 1000)} s; ${why}`);
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
        this.#event(service, 'rollback-started', `Deployment ${operation.type} failed and rolls back to revision ${previous.id}: ${message}`, { operationId: operation.id, revisionId: service.revisionId });
        this.#emit({ type: 'operation-ended', serviceName: service.name, operation: rolledBack });
        this.wake();
      }
    }
  }

  #succeed(service: ServiceRecord, operation: OperationRecord, status: 'RUNNING' | 'DELETED' | 'PAUSED'): void {
    this.#finish(service, operation, 'SUCCEEDED', status);
  }

  #finish(service: ServiceRecord, operation: OperationRecord, opStatus: 'SUCCEEDED' | 'FAILED' | 'ROLLBACK_SUCCEEDED' | 'ROLLBACK_FAILED', status: ServiceRecord['status'], message?: string): void {
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
      this.#event(service, endedEventType(ended), endedEventMessage(ended, service.revisionId), { operationId: ended.id, revisionId: service.revisionId });
      this.#emit({ type: 'operation-ended', serviceName: service.name, operation: ended });
      this.wake();
      this.#publishRoutes();
    }
  }

  /**
   * Takes a running instance out of service without cutting a request: it leaves the routes at
   * once, and is stopped (SIGTERM, then SIGKILL after the grace period) once every router has
   * finished the requests it had on it, or after the service's request timeout at the latest.
   */
  async #retire(instance: Instance, service: ServiceRecord, settings: ServiceSettings, why: string, failed = false): Promise<void> {
    const now = this.#clock.now();
    let draining = this.#draining.get(instance.instanceId);
    if (draining === undefined) {
      draining = { since: now, why };
      this.#draining.set(instance.instanceId, draining);
      this.#health.untrack(instance.instanceId);
      this.#publishRoutes();
      if (failed) this.#event(service, 'instance-failed', `Instance ${instance.instanceId} is replaced: ${why}`, { instanceId: instance.instanceId, revisionId: instance.revisionId });
    }
    const overdue = now - draining.since > settings.requestTimeoutSeconds * 1000 + 1000;
    if (this.#drained(instance.instanceId) || overdue) {
      await this.#remove(instance, service, overdue ? `${draining.why}; requests still ran on it after the request timeout` : draining.why);
    } else {
      this.#wakeIn(100);
    }
  }

  /** Whether no router can still send or be running a request on an instance out of the routes. */
  #drained(instanceId: string): boolean {
    if (this.#routed.has(instanceId)) return false;
    if (this.#fleet === undefined) return true;
    // Never in a table of this control plane nor found running from the last one's: no router
    // has ever been told of it (an instance of a deployment that failed).
    if (!this.#leftRoutesIn.has(instanceId) && this.#adopted?.has(instanceId) !== true) return true;
    // Routers may still serve an instance found running from the last control plane's tables,
    // and may not have reported to this one yet.
    if (this.#adopted?.has(instanceId) === true && this.#clock.now() - this.#createdAt < ROUTER_SETTLE_MS) return false;
    // Nothing published yet: no router can be on a table of this process.
    return this.#fleet.drained(instanceId, this.#leftRoutesIn.get(instanceId) ?? this.#firstGeneration ?? Infinity);
  }

  async #remove(instance: Instance, service: ServiceRecord | undefined, why: string, failed = false): Promise<void> {
    if (this.#removing.has(instance.instanceId)) return;
    this.#removing.add(instance.instanceId);
    this.#health.untrack(instance.instanceId);
    this.#instances.delete(instance.instanceId);
    this.#publishRoutes();
    try {
      await this.#runtime.remove(instance.runtimeId, this.#options.stopGraceSeconds);
      this.#draining.delete(instance.instanceId);
      this.#emit({ type: 'instance-removed', serviceName: service?.name ?? instance.serviceId, instanceId: instance.instanceId, why });
      if (service !== undefined) {
        this.#event(service, failed ? 'instance-failed' : 'instance-stopped', `Instance ${instance.instanceId} ${failed ? 'failed' : 'stopped'}: ${why}`, { instanceId: instance.instanceId, revisionId: instance.revisionId });
      }
      this.wake();
    } catch (error) {
      // Retried by the next timed pass, not at once: a failing engine must not be hammered.
      this.#emit({ type: 'error', serviceName: service?.name, message: `removing instance ${instance.instanceId} failed: ${(error as Error).message}` });
    } finally {
      this.#removing.delete(instance.instanceId);
    }
  }

  /** Keeps the store's summary of what runs of a service (for the autoscaler and DescribeService) up to date. */
  #summarize(service: ServiceRecord, instances: Instance[], healthy: Instance[]): void {
    const byRevision = new Map<string, { revisionId: string; current: number; ready: number }>();
    for (const instance of instances) {
      if (instance.state !== 'running' || this.#draining.has(instance.instanceId)) continue;
      const entry = byRevision.get(instance.revisionId) ?? { revisionId: instance.revisionId, current: 0, ready: 0 };
      entry.current++;
      byRevision.set(instance.revisionId, entry);
    }
    for (const instance of healthy) {
      const entry = byRevision.get(instance.revisionId);
      if (entry !== undefined) entry.ready++;
    }
    const revisions = [...byRevision.values()].sort((a, b) => (a.revisionId < b.revisionId ? -1 : 1));
    const shape = JSON.stringify(revisions);
    if (this.#summaries.get(service.id) === shape) return;
    this.#summaries.set(service.id, shape);
    const summary: InstanceSummary = { revisions, at: this.#clock.now() };
    this.#store.setMeta(instanceSummaryKey(service.id), JSON.stringify(summary));
  }

  /** Records an operation's start in the event log, once (a restarted reconciler checks the log). */
  #announce(service: ServiceRecord, operation: OperationRecord): void {
    this.#announced.add(operation.id);
    if (this.#store.listServiceEvents(service.id, 50).some((e) => e.operationId === operation.id)) return;
    const deployment = isDeployment(operation);
    const what = deployment ? `Deployment (${operation.type}) of revision ${service.revisionId}` : operation.type === 'PAUSE_SERVICE' ? 'Pause' : 'Deletion';
    this.#event(service, deployment ? 'deployment-started' : 'operation-started', `${what} started`, { operationId: operation.id, revisionId: service.revisionId });
  }

  #event(service: ServiceRecord, type: ServiceEventType, message: string, extra: Pick<ServiceEvent, 'operationId' | 'instanceId' | 'revisionId'> = {}): void {
    try {
      this.#store.appendServiceEvent({ serviceId: service.id, at: this.#clock.now(), type, message, ...extra });
    } catch (error) {
      this.#emit({ type: 'error', serviceName: service.name, message: `recording an event failed: ${(error as Error).message}` });
    }
  }

  /** The route table from the store and the instances' health, sent to the router. */
  #publishRoutes(): void {
    if (!this.#synced) return;
    const routes: Route[] = [];
    const routed = new Set<string>();
    for (const service of this.#store.listLiveServices()) {
      const operation = this.#store.activeOperation(service.id);
      if (operation?.type === 'DELETE_SERVICE') continue; // A service being deleted answers 404 at once.
      const settings = this.#settings(service);
      // A paused service (and one pausing or resuming) keeps its host and says it is paused.
      const paused = service.status === 'PAUSED' || operation?.type === 'PAUSE_SERVICE' || operation?.type === 'RESUME_SERVICE';
      const targets = paused ? [] : [...this.#instances.values()]
        .filter((i) => i.serviceId === service.id && i.revisionId === (service.servingRevisionId ?? service.revisionId) && i.address !== undefined)
        .filter((i) => this.#health.verdict(i.instanceId) === 'healthy' && !this.#removing.has(i.instanceId) && !this.#draining.has(i.instanceId))
        .map((i) => ({ instanceId: i.instanceId, address: i.address as string }));
      for (const target of targets) routed.add(target.instanceId);
      // Scaled to zero, or instances starting: the router holds requests (and says so at once)
      // instead of refusing them, so the first request starts an instance and is then served.
      const hold = !paused && service.status !== 'CREATE_FAILED' && targets.length < Math.max(desiredInstancesOf(service), 1);
      routes.push({
        host: service.urlHost,
        serviceId: service.id,
        serviceName: service.name,
        targets,
        requestTimeoutMs: settings.requestTimeoutSeconds * 1000,
        idleTimeoutMs: settings.idleTimeoutSeconds * 1000,
        maxConcurrency: service.maxConcurrency,
        ...(paused && { paused: true }),
        ...(hold && { hold: true }),
      });
    }
    const table = { routes };
    // Noted before the routers can see it: a router's report naming this table must find it.
    const generation = this.#fleet?.published(table) ?? 0;
    this.#firstGeneration ??= generation;
    for (const id of this.#routed) if (!routed.has(id)) this.#leftRoutesIn.set(id, generation);
    this.#routed = routed;
    this.#publish(table);
  }
}

/** Operations that bring a revision up and succeed once it is healthy. */
function isDeployment(operation: OperationRecord): boolean {
  return operation.type === 'CREATE_SERVICE' || operation.type === 'UPDATE_SERVICE' || operation.type === 'START_DEPLOYMENT' || operation.type === 'RESUME_SERVICE';
}

function endedEventType(operation: OperationRecord): ServiceEventType {
  switch (operation.status) {
    case 'ROLLBACK_SUCCEEDED':
      return 'rollback-succeeded';
    case 'ROLLBACK_FAILED':
      return 'rollback-failed';
    case 'FAILED':
      return 'deployment-failed';
    default:
      return operation.type === 'PAUSE_SERVICE' ? 'paused' : operation.type === 'RESUME_SERVICE' ? 'resumed' : operation.type === 'DELETE_SERVICE' ? 'deleted' : 'deployment-succeeded';
  }
}

function endedEventMessage(operation: OperationRecord, revisionId: string): string {
  const what = operation.type === 'PAUSE_SERVICE' ? 'Pause' : operation.type === 'RESUME_SERVICE' ? 'Resume' : operation.type === 'DELETE_SERVICE' ? 'Deletion' : `Deployment (${operation.type}) of revision ${revisionId}`;
  const seconds = ((operation.endedAt ?? operation.updatedAt) - operation.startedAt) / 1000;
  const outcome = operation.status === 'SUCCEEDED' ? 'succeeded' : operation.status.toLowerCase().replace('_', ' ');
  return `${what} ${outcome} after ${seconds.toFixed(1)} s${operation.message === undefined ? '' : `: ${operation.message}`}`;
}

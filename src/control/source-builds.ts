/**
 * @module
 * Builds of source-code revisions: fetch the branch's latest commit, plan the build from what
 * the source directory holds (apprunner.yaml, CodeConfigurationValues, a Dockerfile, or a
 * detected Node.js or Python project), and have the builder carry the plan out. Every attempt is
 * a BuildRecord in the store with its commit and output, written while it runs.
 *
 * The reconciler asks `state(revision)` on every pass; the first ask starts the build in the
 * background and wakes the reconciler when it ends. Nothing here outlives a restart on
 * purpose: a build left IN_PROGRESS by a killed control plane is marked interrupted and started
 * again, so a deployment always ends.
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { APPRUNNER_YAML } from '../core/build/apprunner-yaml.ts';
import { planBuild } from '../core/build/build-plan.ts';
import type { RuntimeImageMap } from '../core/build/managed-runtimes.ts';
import { appendBuildLog, type BuildRecord } from '../core/build-record.ts';
import { BuildError, LineTail, type Builder, type SourceFetcher } from '../core/builder.ts';
import type { Clock } from '../core/clock.ts';
import { connectionCredential } from '../core/connection.ts';
import { BerthError } from '../core/errors.ts';
import { newHexId } from '../core/ids.ts';
import type { SecretBox } from '../core/secret-box.ts';
import type { RevisionRecord, Store } from '../core/store.ts';

export interface SourceBuildOptions {
  /** Where sources are checked out while they build; each build's directory is removed after. */
  workRoot: string;
  /** A build still running after this long is stopped and fails. */
  timeoutMs: number;
  /** How often output is written to the store while a build runs. */
  flushIntervalMs?: number;
}

export type BuildState =
  | { state: 'building' }
  | { state: 'built'; build: BuildRecord & { image: string; port: number } }
  | { state: 'failed'; build: Pick<BuildRecord, 'failure'> };

/** The largest apprunner.yaml read: App Runner's files are a few hundred bytes. */
const MAX_APPRUNNER_YAML_BYTES = 64 * 1024;

export class SourceBuilds {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #secrets: SecretBox;
  readonly #builder: Builder;
  readonly #sources: SourceFetcher;
  readonly #images: RuntimeImageMap;
  readonly #options: SourceBuildOptions;
  readonly #onEnd: (build: BuildRecord) => void;
  /** Builds running in this process, by revision. */
  readonly #running = new Map<string, Promise<void>>();
  readonly #aborts = new Set<AbortController>();
  #stopping = false;

  constructor(deps: {
    store: Store;
    clock: Clock;
    secrets: SecretBox;
    builder: Builder;
    sources: SourceFetcher;
    images: RuntimeImageMap;
    options: SourceBuildOptions;
    /** Called when a build ends either way (the reconciler wakes up). */
    onEnd: (build: BuildRecord) => void;
  }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#secrets = deps.secrets;
    this.#builder = deps.builder;
    this.#sources = deps.sources;
    this.#images = deps.images;
    this.#options = deps.options;
    this.#onEnd = deps.onEnd;
  }

  get builderName(): string {
    return this.#builder.name;
  }

  /** Where the revision's build stands; starts one when none has run or one was interrupted. */
  state(revision: RevisionRecord, operationId: string | undefined): BuildState {
    const latest = this.#store.latestBuild(revision.id);
    if (latest?.status === 'SUCCEEDED' && latest.image !== undefined && latest.port !== undefined && latest.imageDiscardedAt === undefined) {
      return { state: 'built', build: { ...latest, image: latest.image, port: latest.port } };
    }
    if (latest?.status === 'FAILED') return { state: 'failed', build: latest };
    // (A succeeded build whose image was discarded is built again, from the same branch.)
    if (this.#running.has(revision.id)) return { state: 'building' };
    if (latest?.status === 'IN_PROGRESS') {
      // Left by a control plane that stopped mid-build: say so, then build again.
      const now = this.#clock.now();
      this.#store.putBuild({ ...latest, status: 'FAILED', updatedAt: now, endedAt: now, failure: { message: 'the build was interrupted (the control plane stopped); it was started again', outputTail: [] } });
    }
    const run = this.#run(revision, operationId).finally(() => this.#running.delete(revision.id));
    this.#running.set(revision.id, run);
    return { state: 'building' };
  }

  /** Stops every running build and waits for them to record that. */
  async stop(): Promise<void> {
    // A build cut short by a stop is not a failed build: it stays IN_PROGRESS, and the next
    // start marks it interrupted and builds again, so the deployment still ends properly.
    this.#stopping = true;
    for (const abort of this.#aborts) abort.abort(new Error('the control plane is stopping'));
    await Promise.allSettled([...this.#running.values()]);
  }

  async #run(revision: RevisionRecord, operationId: string | undefined): Promise<void> {
    const source = revision.spec.source;
    if (source === undefined) throw new Error(`unreachable: revision ${revision.id} has no source`);
    const now = this.#clock.now();
    let record: BuildRecord = {
      id: newHexId(),
      serviceId: revision.serviceId,
      revisionId: revision.id,
      ...(operationId !== undefined && { operationId }),
      status: 'IN_PROGRESS',
      repositoryUrl: source.repositoryUrl,
      branch: source.branch,
      sourceDirectory: source.sourceDirectory,
      startedAt: now,
      updatedAt: now,
      log: '',
    };
    this.#store.putBuild(record);
    const abort = new AbortController();
    this.#aborts.add(abort);
    const timer = setTimeout(() => abort.abort(new Error(`the build took longer than ${Math.round(this.#options.timeoutMs / 1000)} s`)), this.#options.timeoutMs);
    const tail = new LineTail(20);
    let pending: string[] = [];
    const flush = (): void => {
      if (pending.length === 0) return;
      record = { ...record, log: appendBuildLog(record.log, pending), updatedAt: this.#clock.now() };
      pending = [];
      this.#store.putBuild(record);
    };
    const flusher = setInterval(flush, this.#options.flushIntervalMs ?? 250);
    const log = (line: string): void => {
      pending.push(line);
      tail.push(line);
    };
    const workDir = join(this.#options.workRoot, record.id);
    try {
      const credential = source.connectionArn === undefined ? undefined : connectionCredential(this.#store, this.#secrets, source.connectionArn);
      log(`Fetching branch ${source.branch} of ${source.repositoryUrl}${source.sourceDirectory === '.' ? '' : ` (source directory ${source.sourceDirectory})`}`);
      const fetched = await this.#sources.fetch({
        repositoryUrl: source.repositoryUrl,
        branch: source.branch,
        ...(credential !== undefined && { credential }),
        sourceDirectory: source.sourceDirectory,
        workDir,
        signal: abort.signal,
      });
      record = { ...record, commit: fetched.commit };
      log(`Checked out commit ${fetched.commit}`);
      const files = await readdir(fetched.directory);
      const apprunnerYaml = files.includes(APPRUNNER_YAML) ? await readSmallFile(join(fetched.directory, APPRUNNER_YAML)) : undefined;
      const plan = planBuild({ files, ...(apprunnerYaml !== undefined && { apprunnerYaml }) }, source.codeConfiguration, this.#images);
      if (plan.secrets.length > 0) {
        throw new BerthError('InvalidRequestException', `${APPRUNNER_YAML} asks for secrets (run.secrets: ${plan.secrets.map((s) => s.name).join(', ')}), which this version of Berth cannot resolve yet; pass them as run.env for now`);
      }
      const origin = plan.kind === 'dockerfile' ? 'Dockerfile' : plan.origin;
      record = { ...record, origin };
      log(plan.kind === 'dockerfile'
        ? 'Building the Dockerfile of the source directory as is'
        : `Building from ${origin === 'api' ? 'CodeConfigurationValues' : origin === 'detected' ? 'the detected project' : APPRUNNER_YAML}: runtime ${plan.runtime.yamlName}, start command ${JSON.stringify(plan.startCommand)}, port ${plan.port}`);
      const result = await this.#builder.build({
        buildId: record.id,
        serviceId: revision.serviceId,
        serviceName: this.#store.getService(revision.serviceId)?.name ?? revision.serviceId,
        revisionId: revision.id,
        sourceDirectory: fetched.directory,
        plan,
        onLog: log,
        signal: abort.signal,
      });
      log(`Built ${result.image}`);
      flush();
      const ended = this.#clock.now();
      record = { ...record, status: 'SUCCEEDED', image: result.image, port: plan.port, environment: { ...plan.environment }, updatedAt: ended, endedAt: ended };
    } catch (error) {
      if (this.#stopping) {
        log('The control plane is stopping; this build starts again when it is back');
        flush();
        return;
      }
      const failure = describeFailure(error, abort.signal, tail.lines());
      log(`Build failed: ${failure.message}`);
      flush();
      const ended = this.#clock.now();
      record = { ...record, status: 'FAILED', failure, updatedAt: ended, endedAt: ended };
    } finally {
      clearTimeout(timer);
      clearInterval(flusher);
      this.#aborts.delete(abort);
      await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
    }
    this.#store.putBuild(record);
    this.#onEnd(record);
  }

  /**
   * Frees what builds made once no revision can need it: every build of a deleted service, and
   * of a live one all but the builds of the revision it runs, the one serving (a rollback goes
   * back to it) and the newest. Failed builds made nothing. Returns how many were discarded.
   */
  async collect(): Promise<number> {
    let discarded = 0;
    for (const build of this.#store.listBuildsWithImages()) {
      const service = this.#store.getService(build.serviceId);
      const newest = service === undefined ? undefined : this.#store.listRevisions(service.id)[0]?.id;
      const keep = service !== undefined && service.status !== 'DELETED' && [service.revisionId, service.servingRevisionId, newest].includes(build.revisionId);
      if (keep || build.image === undefined || this.#running.has(build.revisionId)) continue;
      try {
        await this.#builder.discard(build.image);
        this.#store.putBuild({ ...build, imageDiscardedAt: this.#clock.now() });
        discarded += 1;
      } catch {
        // The builder could not free it now (its engine is away): the next round tries again.
      }
    }
    return discarded;
  }
}

async function readSmallFile(path: string): Promise<string> {
  const info = await stat(path);
  if (!info.isFile()) throw new BerthError('InvalidRequestException', `${APPRUNNER_YAML} is not a regular file`);
  if (info.size > MAX_APPRUNNER_YAML_BYTES) {
    throw new BerthError('InvalidRequestException', `${APPRUNNER_YAML} is ${info.size} bytes; Berth reads at most ${MAX_APPRUNNER_YAML_BYTES}`);
  }
  return readFile(path, 'utf8');
}

function describeFailure(error: unknown, signal: AbortSignal, tail: readonly string[]): NonNullable<BuildRecord['failure']> {
  if (signal.aborted) return { message: (signal.reason as Error).message, outputTail: [...tail] };
  if (error instanceof BuildError) {
    return { message: error.message, ...(error.command !== undefined && { command: error.command }), outputTail: [...(error.outputTail.length > 0 ? error.outputTail : tail)] };
  }
  // Fetch failures, apprunner.yaml problems (with their lines) and plan refusals carry messages
  // written for the user; anything else is reported as it is.
  return { message: (error as Error).message, outputTail: [...tail] };
}

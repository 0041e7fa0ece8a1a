/**
 * @module
 * Automatic deployments (`AutoDeploymentsEnabled`): a push to a service's branch that touches its
 * source directory, or a new image behind its tag, starts a deployment as StartDeployment would.
 * Pushes arrive by webhook; a poller checks the same things on a timer, so a missed webhook, a
 * push made while a deployment ran, or a repository without webhooks is still picked up. Both
 * paths compare against the commit last *attempted* (built or failed), so nothing deploys twice
 * and a commit whose build failed is not retried until a new one arrives.
 */
import type { SourceFetcher } from '../core/builder.ts';
import type { Clock } from '../core/clock.ts';
import { connectionCredential } from '../core/connection.ts';
import { BerthError } from '../core/errors.ts';
import { normalizeSourceDirectory } from '../core/git-url.ts';
import { parseImageReference } from '../core/image-reference.ts';
import { revisionDigestKey, type ImageDigests } from '../core/runtime.ts';
import type { SecretBox } from '../core/secret-box.ts';
import type { ServiceRecord } from '../core/service.ts';
import type { Store } from '../core/store.ts';
import type { GitPush, ImagePush, PushOutcome } from '../core/webhooks.ts';

export type AutoDeployEvent =
  | { type: 'deploy'; serviceName: string; operationId: string; why: string }
  | { type: 'skip'; serviceName: string; why: string }
  | { type: 'error'; serviceName: string; message: string };

export class AutoDeployer {
  readonly #store: Store;
  readonly #secrets: SecretBox;
  readonly #sources: SourceFetcher;
  readonly #digests: ImageDigests | undefined;
  readonly #startDeployment: (serviceArn: string) => string;
  readonly #emit: (event: AutoDeployEvent) => void;
  /** Per service, the remote head last found not to touch its source directory. */
  readonly #ignoredHeads = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;

  constructor(deps: {
    store: Store;
    clock: Clock;
    secrets: SecretBox;
    sources: SourceFetcher;
    digests?: ImageDigests;
    /** Starts a deployment of the service as StartDeployment does; returns the operation id. */
    startDeployment: (serviceArn: string) => string;
    emit: (event: AutoDeployEvent) => void;
  }) {
    this.#store = deps.store;
    this.#secrets = deps.secrets;
    this.#sources = deps.sources;
    this.#digests = deps.digests;
    this.#startDeployment = deps.startDeployment;
    this.#emit = deps.emit;
  }

  /** A verified push for a connection: deploys each service it concerns. */
  async onGitPush(connectionId: string, push: GitPush): Promise<PushOutcome> {
    const outcome: PushOutcome = { deployments: [], skipped: [] };
    const pushed = new Set(push.repositoryUrls.map(repositoryKey));
    for (const service of this.#codeServices()) {
      const code = service.config.SourceConfiguration.CodeRepository;
      const connectionArn = service.config.SourceConfiguration.AuthenticationConfiguration?.ConnectionArn;
      if (code === undefined || connectionArn?.endsWith(`/${connectionId}`) !== true) continue;
      if (!pushed.has(repositoryKey(code.RepositoryUrl)) || code.SourceCodeVersion.Value !== push.branch) continue;
      const skip = (reason: string): void => {
        outcome.skipped.push({ serviceArn: service.arn, reason });
        this.#emit({ type: 'skip', serviceName: service.name, why: reason });
      };
      if (!service.config.SourceConfiguration.AutoDeploymentsEnabled) {
        skip('automatic deployments are off for this service');
        continue;
      }
      if (this.#attemptedCommit(service) === push.commit) {
        skip(`commit ${push.commit} is already deployed or being deployed`);
        continue;
      }
      const directory = sourceDirectoryOf(service);
      if (push.changedPaths !== undefined && !touches(push.changedPaths, directory)) {
        skip(`the push changes nothing under the source directory ${directory}`);
        continue;
      }
      const started = this.#deploy(service, `push of ${push.commit.slice(0, 12)} to ${push.branch}`);
      if (typeof started === 'string') outcome.deployments.push({ serviceArn: service.arn, operationId: started });
      else skip(started.reason);
    }
    return outcome;
  }

  /** A registry notification: deploys image services whose tag was pushed. */
  async onImagePush(pushes: readonly ImagePush[]): Promise<PushOutcome> {
    const outcome: PushOutcome = { deployments: [], skipped: [] };
    for (const service of this.#store.listLiveServices()) {
      const image = service.config.SourceConfiguration.ImageRepository;
      if (image === undefined || !service.config.SourceConfiguration.AutoDeploymentsEnabled) continue;
      const reference = parseImageReference(image.ImageIdentifier);
      if (reference === undefined) continue;
      const push = pushes.find((p) => p.tag !== undefined && p.registryHost === reference.registry && p.repository === reference.repository && p.tag === (reference.tag ?? 'latest'));
      if (push === undefined) continue;
      if (this.#attemptedDigest(service) === push.digest) {
        outcome.skipped.push({ serviceArn: service.arn, reason: `digest ${push.digest} is already deployed or being deployed` });
        continue;
      }
      const started = this.#deploy(service, `new image ${push.digest} behind ${image.ImageIdentifier}`);
      if (typeof started === 'string') {
        outcome.deployments.push({ serviceArn: service.arn, operationId: started });
      } else {
        outcome.skipped.push({ serviceArn: service.arn, reason: started.reason });
      }
    }
    return outcome;
  }

  /** Polls every `intervalMs` (0: never). */
  start(intervalMs: number): void {
    if (intervalMs <= 0 || this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      this.#polling ??= this.poll().finally(() => (this.#polling = undefined));
    }, intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#polling;
  }

  /** One round of polling over every service with automatic deployments. Exposed for tests. */
  async poll(): Promise<void> {
    for (const service of this.#store.listLiveServices()) {
      if (!service.config.SourceConfiguration.AutoDeploymentsEnabled || service.status !== 'RUNNING') continue;
      if (this.#store.activeOperation(service.id) !== undefined) continue;
      try {
        if (service.config.SourceConfiguration.CodeRepository !== undefined) await this.#pollBranch(service);
        else await this.#pollImage(service);
      } catch (error) {
        this.#emit({ type: 'error', serviceName: service.name, message: `checking for a new version failed: ${(error as Error).message}` });
      }
    }
  }

  async #pollBranch(service: ServiceRecord): Promise<void> {
    const code = service.config.SourceConfiguration.CodeRepository;
    if (code === undefined) return;
    const connectionArn = service.config.SourceConfiguration.AuthenticationConfiguration?.ConnectionArn;
    const credential = connectionArn === undefined ? undefined : connectionCredential(this.#store, this.#secrets, connectionArn);
    const request = { repositoryUrl: code.RepositoryUrl, branch: code.SourceCodeVersion.Value, ...(credential !== undefined && { credential }) };
    const head = await this.#sources.latestCommit(request);
    const attempted = this.#attemptedCommit(service);
    if (head === attempted || head === this.#ignoredHeads.get(service.id)) return;
    const directory = sourceDirectoryOf(service);
    if (attempted !== undefined && directory !== '.') {
      const changed = await this.#sources.changedPaths({ ...request, from: attempted, to: head });
      if (changed !== undefined && !touches(changed, directory)) {
        this.#ignoredHeads.set(service.id, head);
        this.#emit({ type: 'skip', serviceName: service.name, why: `commit ${head.slice(0, 12)} changes nothing under ${directory}` });
        return;
      }
    }
    const started = this.#deploy(service, `new commit ${head.slice(0, 12)} on ${code.SourceCodeVersion.Value}`);
    if (typeof started !== 'string') this.#emit({ type: 'skip', serviceName: service.name, why: started.reason });
  }

  async #pollImage(service: ServiceRecord): Promise<void> {
    const image = service.config.SourceConfiguration.ImageRepository;
    if (image === undefined || this.#digests === undefined) return;
    // Level-triggered, so a restart loses nothing: what the registry serves now against the
    // digest the newest revision was pulled at (recorded then: the engine's tag may have moved
    // since, by a push from this host). A digest whose deployment rolled back is not retried.
    const [remote, attempted] = await Promise.all([this.#digests.remote(image.ImageIdentifier), this.#attemptedDigest(service) ?? this.#digests.local(image.ImageIdentifier)]);
    if (remote === undefined || attempted === undefined || remote === attempted) return;
    const started = this.#deploy(service, `new image ${remote} behind ${image.ImageIdentifier}`);
    if (typeof started !== 'string') this.#emit({ type: 'skip', serviceName: service.name, why: started.reason });
  }

  #deploy(service: ServiceRecord, why: string): string | { reason: string } {
    try {
      const operationId = this.#startDeployment(service.arn);
      this.#emit({ type: 'deploy', serviceName: service.name, operationId, why });
      return operationId;
    } catch (error) {
      // Most often another operation is under way; polling picks the change up after it.
      if (error instanceof BerthError) return { reason: `${error.message} (it will be deployed once the service is free)` };
      throw error;
    }
  }

  #codeServices(): ServiceRecord[] {
    return this.#store.listLiveServices().filter((s) => s.config.SourceConfiguration.CodeRepository !== undefined);
  }

  /** The digest the service's newest revision was pulled at, when it was recorded. */
  #attemptedDigest(service: ServiceRecord): string | undefined {
    const newest = this.#store.listRevisions(service.id)[0];
    return newest === undefined ? undefined : this.#store.getMeta(revisionDigestKey(newest.id));
  }

  /** The commit the service's newest revision built or tried to build. */
  #attemptedCommit(service: ServiceRecord): string | undefined {
    const newest = this.#store.listRevisions(service.id)[0];
    return newest === undefined ? undefined : this.#store.latestBuild(newest.id)?.commit;
  }
}

function sourceDirectoryOf(service: ServiceRecord): string {
  return normalizeSourceDirectory(service.config.SourceConfiguration.CodeRepository?.SourceDirectory);
}

/** True if any path is inside `directory` ('.' is the whole repository). */
export function touches(paths: readonly string[], directory: string): boolean {
  if (directory === '.') return paths.length > 0;
  return paths.some((p) => p === directory || p.startsWith(`${directory}/`));
}

/**
 * A repository address reduced to what identifies it across https, ssh and web forms:
 * `host/owner/repo`, lower-case host, no `.git`, no user, no port for the well-known schemes.
 */
export function repositoryKey(url: string): string {
  const scp = /^(?:[^@/:]+@)?([^/:]+):(?!\/\/)(.+)$/.exec(url);
  let host: string;
  let path: string;
  if (scp !== null && !url.includes('://')) {
    host = scp[1] ?? '';
    path = scp[2] ?? '';
  } else if (url.includes('://')) {
    try {
      const parsed = new URL(url);
      host = parsed.hostname;
      path = parsed.pathname;
    } catch {
      return url;
    }
  } else {
    return url.replace(/\/+$/, '').replace(/\.git$/, '');
  }
  return `${host.toLowerCase()}/${path.replace(/^\/+|\/+$/g, '').replace(/\.git$/, '')}`;
}

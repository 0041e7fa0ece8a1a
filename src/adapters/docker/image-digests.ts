/**
 * @module
 * Digests behind image tags, as the Docker engine sees them, for polling image services with
 * automatic deployments: `remote` asks the registry through the engine (`GET
 * /distribution/{name}/json`, no pull), `local` reads what the engine pulled (`RepoDigests`).
 *
 * Both answer the digest of the manifest the tag names: for a single-platform image the image
 * manifest, for a multi-platform one the index. The engine records the same thing when it pulls
 * or pushes by tag, so the two compare directly (checked against the CNCF registry: a locally
 * built image pushed gives one digest everywhere; a pulled index is recorded by its own digest).
 *
 * Failures: `remote` rejects with a message naming the image and what the registry or engine
 * said (unreachable, unauthorized, no such tag), rather than resolving undefined. The poller
 * reports a rejection as an `error` event and goes on with the next service, so a user whose
 * registry cannot be reached sees why nothing deploys instead of silence. `local` resolves
 * undefined when the engine has no image under the tag, which is an answer, not a failure.
 */
import type { ImageDigests } from '../../core/runtime.ts';
import { DockerEngineClient } from './engine-client.ts';
import { DockerEngineError } from './engine-error.ts';
import { engineImageName } from './image-name.ts';

export interface DockerImageDigestsOptions {
  client: DockerEngineClient;
  /** How long a registry may take to answer one lookup; 30 s by default. Polling waits for it. */
  timeoutMs?: number;
}

export class DockerImageDigests implements ImageDigests {
  readonly #client: DockerEngineClient;
  readonly #timeoutMs: number;

  constructor(options: DockerImageDigestsOptions) {
    this.#client = options.client;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  async remote(image: string): Promise<string | undefined> {
    const name = engineImageName(image);
    // A reference pinned to a digest names that manifest for good: no registry to ask.
    if (name.digest !== undefined) return name.digest;
    const inspected = await this.#client.distributionInspect(name.reference, { signal: AbortSignal.timeout(this.#timeoutMs) }).catch((error: unknown) => {
      throw new Error(`Could not ask the registry which image ${name.reference} names: ${reasonOf(error, this.#timeoutMs)}`, { cause: error });
    });
    if (inspected === undefined) {
      throw new Error(`The registry has no image under ${name.reference} (the tag was deleted, or the registry hides it without credentials)`);
    }
    return inspected.Descriptor.digest;
  }

  async local(image: string): Promise<string | undefined> {
    const name = engineImageName(image);
    const inspected = await this.#client.inspectImage(name.reference);
    if (inspected === undefined) return undefined;
    const repository = familiarName(name.repository);
    const digests = (inspected.RepoDigests ?? []).flatMap((entry) => {
      const at = entry.lastIndexOf('@');
      return at > 0 && familiarName(entry.slice(0, at)) === repository ? [entry.slice(at + 1)] : [];
    });
    if (name.digest !== undefined) return digests.includes(name.digest) ? name.digest : undefined;
    if (digests.length <= 1) return digests[0];
    // One image can carry several digests of its repository: pulled once by an index and once by
    // that index's platform manifest, say. The engine does not record which one the tag was
    // pulled by; the image is the same, so it is current if the registry serves any of them.
    const served = await this.remote(image).catch(() => undefined);
    return served !== undefined && digests.includes(served) ? served : digests[0];
  }
}

/** What the registry said, in the engine's words; the engine's own failures in full. */
function reasonOf(error: unknown, timeoutMs: number): string {
  if (error instanceof DockerEngineError) return error.code === 'DOCKER_ENGINE_HTTP' ? error.engineMessage : error.message;
  if (error instanceof Error && error.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  return error instanceof Error ? error.message : String(error);
}

/**
 * A repository as the engine writes it in `RepoDigests`: Docker Hub's host and its `library/`
 * namespace left out (`docker.io/library/nginx` is `nginx`), any other registry kept.
 */
function familiarName(repository: string): string {
  const hub = /^(?:docker\.io|index\.docker\.io|registry-1\.docker\.io)\/(.+)$/.exec(repository);
  if (hub === null) return repository;
  const path = hub[1] ?? '';
  return /^library\/[^/]+$/.test(path) ? path.slice('library/'.length) : path;
}

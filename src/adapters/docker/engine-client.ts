/**
 * @module
 * A small Docker Engine API client over the engine's Unix socket, with the API version pinned in
 * every path so that a newer engine answers in the shapes declared in `engine-types.ts`. It does
 * only what Berth needs and never runs the docker CLI.
 *
 * Conventions: HTTP errors reject with `DockerEngineError` (code `DOCKER_ENGINE_HTTP`, the
 * engine's status and message); `inspect*` calls resolve `undefined` for a 404 because "absent"
 * is an answer there, not a failure; progress streams (pull, push, build) reject on their error
 * lines even though the status was 200.
 * https://docs.docker.com/engine/api/v1.41/
 */
import { Readable } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import { DockerEngineError, isEngineStatus } from './engine-error.ts';
import type {
  ContainerCreateBody,
  ContainerInspect,
  ContainerSummary,
  EngineVersion,
  ImageInspect,
  NetworkCreateBody,
  NetworkInspect,
} from './engine-types.ts';
import { engineImageName } from './image-name.ts';
import { readProgress, type ProgressAux, type ProgressListener } from './json-progress.ts';
import { demultiplexLogs, type LogFrame } from './log-frames.ts';

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';
/** Engine 20.10 speaks 1.41; later engines still serve it. */
export const ENGINE_API_VERSION = '1.41';

export interface DockerEngineClientOptions {
  /** Defaults to `/var/run/docker.sock`. */
  socketPath?: string;
  /** Concurrent connections to the engine; each running pull, push or build holds one. */
  connections?: number;
}

export interface StreamOptions {
  /** Called with every progress line, for logs or a build transcript. */
  onProgress?: ProgressListener;
  signal?: AbortSignal;
}

export interface BuildOptions extends StreamOptions {
  /** `repository:tag` given to the built image. */
  tag?: string;
  /** Path of the Dockerfile inside the context; `Dockerfile` by default. */
  dockerfile?: string;
  labels?: Record<string, string>;
  buildArgs?: Record<string, string>;
}

export interface ImportOptions extends StreamOptions {
  /** `repository:tag` the imported image gets. */
  reference: string;
  /** Dockerfile instructions applied to the image's config, as `docker import --change` does: `ENV PATH=...`, `CMD ["bash"]`. */
  changes?: readonly string[];
  /** The commit message recorded in the image's history. */
  message?: string;
}

/** `GET /distribution/{name}/json`: what a reference names in its registry, asked through the engine. */
export interface DistributionInspect {
  /** The manifest the tag resolves to; for a multi-platform image, the index (manifest list). */
  Descriptor: { mediaType: string; digest: string; size: number };
  Platforms: { architecture: string; os: string; variant?: string }[] | null;
}

/** A request body the engine reads as a stream: a tar context or root file system. */
export type TarBody = Uint8Array | AsyncIterable<Uint8Array>;

export interface ListContainersOptions {
  /** Include stopped containers (all states). */
  all?: boolean;
  /** `key=value` or `key` label filters, all of which must match. */
  labels?: string[];
  /** Also report `SizeRw`: the engine then measures each container's writable layer, which takes a walk of its files. */
  size?: boolean;
}

export interface LogsOptions {
  /** Lines from the end; all lines when absent. */
  tail?: number;
  /** Whether the container has a TTY: then the stream is raw and not multiplexed. */
  tty?: boolean;
}

/** Socket errors that mean "no engine listens here", as opposed to an engine that failed. */
const UNREACHABLE_CODES = new Set(['ENOENT', 'ECONNREFUSED', 'EACCES', 'ENOTSOCK']);

interface EngineRequest {
  method: Dispatcher.HttpMethod;
  /** Path after the version prefix, already encoded. */
  path: string;
  /** An array value repeats the key, as the engine reads `changes`. */
  query?: Record<string, string | readonly string[]>;
  headers?: Record<string, string>;
  /** An async iterable is streamed, so a large tar never sits in memory whole. */
  body?: string | TarBody;
  headersTimeout?: number;
  /** 0 disables it: progress streams can be silent for minutes (a quiet RUN step). */
  bodyTimeout?: number;
  signal?: AbortSignal;
}

export class DockerEngineClient {
  readonly socketPath: string;
  readonly #pool: Pool;

  constructor(options: DockerEngineClientOptions = {}) {
    this.socketPath = options.socketPath ?? DEFAULT_DOCKER_SOCKET;
    // A Pool rather than a Client: a Client has one connection, so a long pull would hold up
    // every inspect behind it.
    this.#pool = new Pool('http://docker', { socketPath: this.socketPath, connections: options.connections ?? 8 });
  }

  /** Resolves when the engine answers `GET /_ping`; `signal` bounds the wait for a hung engine. */
  async ping(options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#empty({ method: 'GET', path: '/_ping', ...signalOf(options) });
  }

  async version(): Promise<EngineVersion> {
    return this.#json<EngineVersion>({ method: 'GET', path: '/version' });
  }

  // Images

  async inspectImage(reference: string): Promise<ImageInspect | undefined> {
    return this.#jsonOrUndefined<ImageInspect>({ method: 'GET', path: `/images/${encodeURIComponent(reference)}/json` });
  }

  /**
   * Asks the image's registry, through the engine, which manifest the reference names now,
   * without pulling anything; `:latest` when the reference has no tag. The engine reaches
   * loopback registries over plain HTTP as it does for pulls. Resolves undefined for a 404 (the
   * registry has no manifest under that tag); an unreachable or refusing registry rejects
   * (`DOCKER_ENGINE_HTTP`, with the engine's status and message). `signal` bounds the wait for
   * a registry that does not answer.
   */
  async distributionInspect(reference: string, options: { signal?: AbortSignal } = {}): Promise<DistributionInspect | undefined> {
    const name = engineImageName(reference);
    return this.#jsonOrUndefined<DistributionInspect>({ method: 'GET', path: `/distribution/${encodeURIComponent(name.reference)}/json`, ...signalOf(options) });
  }

  /** Pulls one image (`:latest` when the reference has no tag); works for plain-HTTP loopback registries. */
  async pullImage(reference: string, options: StreamOptions = {}): Promise<void> {
    const name = engineImageName(reference);
    await this.#stream(
      { method: 'POST', path: '/images/create', query: { fromImage: name.repository, tag: name.apiTag }, ...signalOf(options) },
      `Pulling ${name.reference}`,
      options.onProgress,
    );
  }

  /** Builds an image from a tar build context (bytes, or streamed) with the classic builder. */
  async buildImage(context: TarBody, options: BuildOptions = {}): Promise<{ imageId: string }> {
    const query: Record<string, string> = {
      // BuildKit (version 2) needs an interactive session API; the classic builder takes a plain request.
      version: '1',
      rm: '1',
      forcerm: '1',
      dockerfile: options.dockerfile ?? 'Dockerfile',
    };
    if (options.tag !== undefined) query.t = options.tag;
    if (options.labels !== undefined) query.labels = JSON.stringify(options.labels);
    if (options.buildArgs !== undefined) query.buildargs = JSON.stringify(options.buildArgs);
    const operation = `Building ${options.tag ?? 'an image'}`;
    const results = await this.#stream(
      { method: 'POST', path: '/build', query, headers: { 'content-type': 'application/x-tar' }, body: context, ...signalOf(options) },
      operation,
      options.onProgress,
    );
    const imageId = results.find((aux) => aux.ID !== undefined)?.ID;
    if (imageId === undefined) {
      throw new DockerEngineError('DOCKER_ENGINE_STREAM', `${operation} failed: the engine did not report an image id`, 'no image id');
    }
    return { imageId };
  }

  /**
   * Makes an image from a root file system tar, as `docker import` does; the tar can be streamed
   * (hundreds of MB). Resolves with the new image's id. A body that throws part-way fails the
   * call and the engine keeps nothing.
   */
  async importImage(rootfs: TarBody, options: ImportOptions): Promise<{ imageId: string }> {
    const name = engineImageName(options.reference);
    if (name.tag === undefined) throw new Error(`Cannot import as ${JSON.stringify(options.reference)}: an import needs a tag, not a digest`);
    const query: Record<string, string | readonly string[]> = { fromSrc: '-', repo: name.repository, tag: name.tag };
    if (options.changes !== undefined && options.changes.length > 0) query.changes = options.changes;
    if (options.message !== undefined) query.message = options.message;
    const operation = `Importing ${name.reference}`;
    // The engine reports the new id as the last status line (`{"status":"sha256:..."}`), not as aux.
    let imageId: string | undefined;
    await this.#stream(
      { method: 'POST', path: '/images/create', query, headers: { 'content-type': 'application/x-tar' }, body: rootfs, ...signalOf(options) },
      operation,
      (message) => {
        if (message.status?.startsWith('sha256:') === true) imageId = message.status;
        options.onProgress?.(message);
      },
    );
    if (imageId === undefined) {
      throw new DockerEngineError('DOCKER_ENGINE_STREAM', `${operation} failed: the engine did not report an image id`, 'no image id');
    }
    return { imageId };
  }

  /** Pushes a tagged image to its registry; resolves with the manifest digest the registry stored. */
  async pushImage(reference: string, options: StreamOptions = {}): Promise<{ digest: string | undefined }> {
    const name = engineImageName(reference);
    if (name.tag === undefined) throw new Error(`Cannot push ${JSON.stringify(reference)}: a push needs a tag, not a digest`);
    const results = await this.#stream(
      {
        method: 'POST',
        path: `/images/${encodeURIComponent(name.repository)}/push`,
        query: { tag: name.tag },
        // The engine insists on the header even for registries without authentication.
        headers: { 'x-registry-auth': Buffer.from('{}').toString('base64') },
        ...signalOf(options),
      },
      `Pushing ${name.reference}`,
      options.onProgress,
    );
    return { digest: results.find((aux) => aux.Digest !== undefined)?.Digest };
  }

  /** Gives `source` (an id or reference) the reference `target` (`:latest` when untagged). */
  async tagImage(source: string, target: string): Promise<void> {
    const name = engineImageName(target);
    if (name.tag === undefined) throw new Error(`Cannot tag as ${JSON.stringify(target)}: a tag target cannot be a digest`);
    await this.#empty({
      method: 'POST',
      path: `/images/${encodeURIComponent(source)}/tag`,
      query: { repo: name.repository, tag: name.tag },
    });
  }

  /** Removes a reference (and the image once no reference is left); `force` also untags images in use. */
  async removeImage(reference: string, options: { force?: boolean } = {}): Promise<void> {
    await this.#empty({
      method: 'DELETE',
      path: `/images/${encodeURIComponent(reference)}`,
      query: { force: options.force === true ? '1' : '0' },
    });
  }

  // Containers

  async createContainer(name: string, body: ContainerCreateBody): Promise<{ id: string; warnings: string[] }> {
    const created = await this.#json<{ Id: string; Warnings: string[] | null }>({
      method: 'POST',
      path: '/containers/create',
      query: { name },
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { id: created.Id, warnings: created.Warnings ?? [] };
  }

  /** Starts a container; starting a running one is not an error (the engine answers 304). */
  async startContainer(id: string): Promise<void> {
    await this.#empty({ method: 'POST', path: `/containers/${encodeURIComponent(id)}/start` });
  }

  async inspectContainer(id: string): Promise<ContainerInspect | undefined> {
    return this.#jsonOrUndefined<ContainerInspect>({ method: 'GET', path: `/containers/${encodeURIComponent(id)}/json` });
  }

  async listContainers(options: ListContainersOptions = {}): Promise<ContainerSummary[]> {
    const query: Record<string, string> = { all: options.all === true ? '1' : '0' };
    if (options.size === true) query.size = '1';
    if (options.labels !== undefined && options.labels.length > 0) query.filters = JSON.stringify({ label: options.labels });
    return this.#json<ContainerSummary[]>({ method: 'GET', path: '/containers/json', query });
  }

  /** SIGTERM, then SIGKILL after `timeoutSeconds`; stopping a stopped container is not an error (304). */
  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    await this.#empty({
      method: 'POST',
      path: `/containers/${encodeURIComponent(id)}/stop`,
      query: { t: String(Math.max(0, Math.ceil(timeoutSeconds))) },
      // The engine answers only once the container has stopped, up to the grace period later.
      headersTimeout: (Math.max(0, timeoutSeconds) + 60) * 1000,
    });
  }

  async removeContainer(id: string, options: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    await this.#empty({
      method: 'DELETE',
      path: `/containers/${encodeURIComponent(id)}`,
      query: { force: options.force === true ? '1' : '0', v: options.volumes === true ? '1' : '0' },
    });
  }

  /** stdout and stderr so far, as frames in the order written. */
  async containerLogs(id: string, options: LogsOptions = {}): Promise<LogFrame[]> {
    const request: EngineRequest = {
      method: 'GET',
      path: `/containers/${encodeURIComponent(id)}/logs`,
      query: { stdout: '1', stderr: '1', follow: '0', tail: options.tail === undefined ? 'all' : String(options.tail) },
    };
    const response = await this.#send(request);
    const bytes = Buffer.from(await this.#read(response, request, () => response.body.arrayBuffer()));
    return options.tty === true ? [{ stream: 'stdout', data: bytes }] : demultiplexLogs(bytes);
  }

  // Networks

  /** Every network the engine has; names are not unique to the engine, so this can show two. */
  async listNetworks(): Promise<NetworkInspect[]> {
    return this.#json<NetworkInspect[]>({ method: 'GET', path: '/networks' });
  }

  async inspectNetwork(name: string): Promise<NetworkInspect | undefined> {
    return this.#jsonOrUndefined<NetworkInspect>({ method: 'GET', path: `/networks/${encodeURIComponent(name)}` });
  }

  async createNetwork(body: NetworkCreateBody): Promise<{ id: string }> {
    const created = await this.#json<{ Id: string }>({
      method: 'POST',
      path: '/networks/create',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { id: created.Id };
  }

  async removeNetwork(name: string): Promise<void> {
    await this.#empty({ method: 'DELETE', path: `/networks/${encodeURIComponent(name)}` });
  }

  /** Closes the connections; pending calls finish first. */
  async close(): Promise<void> {
    await this.#pool.close();
  }

  // Transport

  /** Sends a request; rejects on transport failure and on any status of 400 or more. */
  async #send(request: EngineRequest): Promise<Dispatcher.ResponseData> {
    let response: Dispatcher.ResponseData;
    try {
      response = await this.#pool.request({
        method: request.method,
        path: `/v${ENGINE_API_VERSION}${request.path}`,
        query: request.query,
        headers: request.headers,
        // undici streams an async iterable too, but its types want a Readable.
        body: typeof request.body === 'string' || request.body instanceof Uint8Array || request.body === undefined ? request.body : Readable.from(request.body),
        headersTimeout: request.headersTimeout,
        bodyTimeout: request.bodyTimeout,
        signal: request.signal,
      });
    } catch (error) {
      throw this.#transportError(error, request);
    }
    if (response.statusCode < 400) return response;
    const text = await this.#read(response, request, () => response.body.text());
    const engineMessage = messageFromBody(text) || `HTTP ${response.statusCode}`;
    throw new DockerEngineError(
      'DOCKER_ENGINE_HTTP',
      `Docker engine answered ${request.method} ${request.path} with ${response.statusCode}: ${engineMessage}`,
      engineMessage,
      response.statusCode,
    );
  }

  async #json<T>(request: EngineRequest): Promise<T> {
    const response = await this.#send(request);
    return (await this.#read(response, request, () => response.body.json())) as T;
  }

  async #jsonOrUndefined<T>(request: EngineRequest): Promise<T | undefined> {
    try {
      return await this.#json<T>(request);
    } catch (error) {
      if (isEngineStatus(error, 404)) return undefined;
      throw error;
    }
  }

  async #empty(request: EngineRequest): Promise<void> {
    const response = await this.#send(request);
    await this.#read(response, request, () => response.body.dump());
  }

  async #stream(request: EngineRequest, operation: string, onProgress: ProgressListener | undefined): Promise<ProgressAux[]> {
    const streaming = { ...request, bodyTimeout: 0 };
    const response = await this.#send(streaming);
    return this.#read(response, streaming, () => readProgress(response.body, operation, onProgress));
  }

  /** Reads a body, mapping a connection lost half-way to the same errors as a failed connect. */
  async #read<T>(response: Dispatcher.ResponseData, request: EngineRequest, read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (error) {
      if (error instanceof DockerEngineError) throw error;
      response.body.destroy();
      throw this.#transportError(error, request);
    }
  }

  #transportError(error: unknown, request: EngineRequest): Error {
    // An abort the caller asked for is theirs to recognise; pass it through unchanged.
    if (request.signal?.aborted === true && error instanceof Error) return error;
    const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
    if (code !== undefined && UNREACHABLE_CODES.has(code)) {
      const hint = code === 'EACCES' ? 'permission denied on the socket' : 'is dockerd running?';
      return new DockerEngineError(
        'DOCKER_ENGINE_UNREACHABLE',
        `Docker engine not reachable at ${this.socketPath} (${code}: ${hint})`,
        `${code} on ${this.socketPath}`,
        undefined,
        { cause: error },
      );
    }
    const reason = error instanceof Error ? error.message : String(error);
    return new DockerEngineError('DOCKER_ENGINE_TRANSPORT', `Docker engine call ${request.method} ${request.path} failed: ${reason}`, reason, undefined, {
      cause: error,
    });
  }
}

/** The engine's errors are `{"message": "..."}`; a few paths answer plain text. */
function messageFromBody(text: string): string {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && 'message' in parsed && typeof parsed.message === 'string') {
      return parsed.message;
    }
  } catch {
    // Not JSON: use the text itself.
  }
  return text.trim();
}

function signalOf(options: { signal?: AbortSignal }): { signal?: AbortSignal } {
  return options.signal === undefined ? {} : { signal: options.signal };
}

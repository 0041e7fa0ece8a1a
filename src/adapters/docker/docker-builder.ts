/**
 * @module
 * The default Builder: the Docker engine's classic builder turns a source directory into an
 * image, `berth-build/<service id>:<build id>`, which the Docker runtimes then run.
 *
 * - A `dockerfile` plan builds the source's own `Dockerfile`; the engine pulls its FROM images.
 * - A `generated` plan builds the Dockerfile Berth wrote, sent in the context under a name no
 *   source file keeps (`.berth-build.Dockerfile`), with a `.dockerignore` that lists it and
 *   itself: the engine reads both and then drops them, so `COPY . /app` copies neither. Its base
 *   images are made ready first by a `BaseImageSource` (pulled, or built from Debian's packages:
 *   runtime-images.ts), because they may be images no registry has.
 *
 * The classic builder caches each step by its instruction and parent image (and `COPY` by the
 * content of the files), so rebuilding an unchanged source runs nothing. Every line of output
 * reaches `onLog` as it comes; a failure is a BuildError naming the step and the command.
 */
import { BuildError, type Builder, type BuildRequest, type BuildResult } from '../../core/builder.ts';
import { prepareBuildContext, type BuildContext } from './build-context.ts';
import { BuildTranscript } from './build-transcript.ts';
import { DockerEngineClient } from './engine-client.ts';
import { DockerEngineError, isEngineStatus } from './engine-error.ts';

/** Labels on every image Berth builds, in the style of the container labels. */
// Keys of their own, not the instance labels: the classic builder's step containers carry the
// image's labels, and with the instance keys the runtime listed them as instances of the
// service, removed them mid-build and failed the deployment with "Instance exited with code 0".
export const BUILD_LABEL = {
  installation: 'berth.build.installation',
  serviceId: 'berth.build.service-id',
  revisionId: 'berth.build.revision-id',
  buildId: 'berth.build-id',
} as const;

/** Where Berth's own Dockerfile sits in a generated plan's context. */
export const GENERATED_DOCKERFILE = '.berth-build.Dockerfile';

/** Makes images a build starts FROM ready in the engine (runtime-images.ts implements it). */
export interface BaseImageSource {
  ensure(images: readonly string[], onLog: (line: string) => void, signal?: AbortSignal): Promise<void>;
}

export interface DockerBuilderOptions {
  /** The engine to build with; or give `socketPath` and the builder makes (and closes) its own. */
  readonly client?: DockerEngineClient;
  readonly socketPath?: string;
  /** Recorded on every image as `berth.installation`. */
  readonly installationId: string;
  readonly baseImages: BaseImageSource;
  /** File bytes a build context may hold; 500 MiB by default. */
  readonly maxContextBytes?: number;
}

export class DockerBuilder implements Builder {
  readonly name = 'docker';
  readonly #client: DockerEngineClient;
  readonly #ownsClient: boolean;
  readonly #installationId: string;
  readonly #baseImages: BaseImageSource;
  readonly #maxContextBytes: number | undefined;

  constructor(options: DockerBuilderOptions) {
    this.#ownsClient = options.client === undefined;
    this.#client = options.client ?? new DockerEngineClient(options.socketPath === undefined ? {} : { socketPath: options.socketPath });
    this.#installationId = options.installationId;
    this.#baseImages = options.baseImages;
    this.#maxContextBytes = options.maxContextBytes;
  }

  async build(request: BuildRequest): Promise<BuildResult> {
    const { plan, signal } = request;
    const tag = buildTag(request.serviceId, request.buildId);
    const transcript = new BuildTranscript(request.onLog);
    try {
      signal?.throwIfAborted();
      if (plan.kind === 'generated') {
        await this.#baseImages.ensure([plan.baseImages.build, plan.baseImages.run], request.onLog, signal);
      }
      const context = await this.#context(request);
      request.onLog(`Sending build context: ${context.entries} entries, ${formatBytes(context.bytes)}`);
      const started = Date.now();
      await this.#client.buildImage(context.tar, {
        tag,
        dockerfile: plan.kind === 'generated' ? GENERATED_DOCKERFILE : plan.dockerfilePath,
        labels: {
          [BUILD_LABEL.installation]: this.#installationId,
          [BUILD_LABEL.serviceId]: request.serviceId,
          [BUILD_LABEL.revisionId]: request.revisionId,
          [BUILD_LABEL.buildId]: request.buildId,
        },
        onProgress: transcript.onProgress,
        ...(signal === undefined ? {} : { signal }),
      });
      transcript.flush();
      request.onLog(`Built ${tag} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return { image: tag };
    } catch (error) {
      // A cancelled build is the caller's doing, not a failure to explain.
      if (signal?.aborted === true) throw signal.reason;
      if (error instanceof BuildError) throw error;
      // A context that failed while being sent carries its BuildError as the cause.
      if (error instanceof DockerEngineError && error.cause instanceof BuildError) throw error.cause;
      throw transcript.failure(error);
    }
  }

  async discard(image: string): Promise<void> {
    try {
      await this.#client.removeImage(image);
    } catch (error) {
      if (isEngineStatus(error, 404)) return;
      throw error;
    }
  }

  /** Closes the engine connections when the builder made its own client. */
  async close(): Promise<void> {
    if (this.#ownsClient) await this.#client.close();
  }

  async #context(request: BuildRequest): Promise<BuildContext> {
    const common = {
      ...(this.#maxContextBytes === undefined ? {} : { maxBytes: this.#maxContextBytes }),
      ...(request.signal === undefined ? {} : { signal: request.signal }),
    };
    if (request.plan.kind === 'generated') {
      return prepareBuildContext(request.sourceDirectory, {
        ...common,
        addedFiles: [
          { path: GENERATED_DOCKERFILE, content: request.plan.dockerfile },
          // Replaces the source's own .dockerignore, which has been applied already.
          { path: '.dockerignore', content: `.dockerignore\n${GENERATED_DOCKERFILE}\n` },
        ],
      });
    }
    return prepareBuildContext(request.sourceDirectory, { ...common, alwaysSend: [request.plan.dockerfilePath, '.dockerignore'] });
  }
}

/** `berth-build/<service id>:<build id>`, lowercased and reduced to what a reference allows. */
export function buildTag(serviceId: string, buildId: string): string {
  const repository = serviceId.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'service';
  const tag = buildId.toLowerCase().replace(/[^a-z0-9_.-]+/g, '-').replace(/^[.-]+/, '').slice(0, 128) || 'build';
  return `berth-build/${repository}:${tag}`;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/**
 * @module
 * Which runtime runs instances and which builder builds source code, decided once at start:
 * the Docker engine when its socket answers (or when configured), else local processes, Berth's
 * embedded default for machines without a container engine. The two always go together: an
 * image built by Docker cannot run as a process, nor a process build in a container.
 */
import { DockerBuilder } from '../adapters/docker/docker-builder.ts';
import { DockerEngineClient } from '../adapters/docker/engine-client.ts';
import { DockerRuntime } from '../adapters/docker/docker-runtime.ts';
import { DockerImageDigests } from '../adapters/docker/image-digests.ts';
import { osPackagesImages } from '../adapters/docker/runtime-images.ts';
import { ProcessBuilder } from '../adapters/process/process-builder.ts';
import { ProcessRuntime } from '../adapters/process/process-runtime.ts';
import { PUBLIC_RUNTIME_IMAGES, runtimeImageMap, type RuntimeImageMap } from '../core/build/managed-runtimes.ts';
import type { Builder } from '../core/builder.ts';
import { berthPaths, type BerthConfig } from '../core/config.ts';
import type { ContainerRuntime, ImageDigests } from '../core/runtime.ts';
import { log } from './log.ts';

export interface Execution {
  runtime: ContainerRuntime;
  builder: Builder;
  runtimeImages: RuntimeImageMap;
  /** Digests behind image tags, for polling image services; only the Docker engine can tell them. */
  digests?: ImageDigests;
}

export async function chooseExecution(
  config: BerthConfig,
  installationId: string,
  given: { runtime?: ContainerRuntime; builder?: Builder; runtimeImages?: RuntimeImageMap },
): Promise<Execution> {
  const paths = berthPaths(config.home);
  const kind = given.runtime !== undefined ? given.runtime.name : await resolveKind(config);
  if (kind === 'process') {
    // The machine's own PATH: where its node, python3 and npm are (pyenv's python3 included).
    const searchPath = process.env.PATH;
    const runtime = given.runtime ?? processRuntime(paths.processRoot, installationId, searchPath);
    const builder = given.builder ?? new ProcessBuilder({ root: paths.processRoot, ...(searchPath !== undefined && { searchPath }) });
    // Processes run on the machine's own Node.js and Python: base images play no part.
    return { runtime, builder, runtimeImages: given.runtimeImages ?? PUBLIC_RUNTIME_IMAGES };
  }
  // One connection pool to the engine for the runtime, the builder and the digests.
  const client = new DockerEngineClient({ socketPath: config.docker.socket });
  const runtime = given.runtime ?? new DockerRuntime({ client, installationId });
  // A runtime given by a test under another name is not the engine: its images are not there.
  const digests = runtime.name === 'docker' ? { digests: new DockerImageDigests({ client }) } : {};
  if (given.builder !== undefined) {
    return { runtime, builder: given.builder, runtimeImages: given.runtimeImages ?? runtimeImageMap(config.build.runtimeImageOverrides), ...digests };
  }
  const mirror = config.build.debianMirror === '' ? undefined : config.build.debianMirror;
  const os = osPackagesImages({ client, lockDir: paths.runDir, mirror });
  // os-packages: Berth builds each language's base image from Debian's packages on first use;
  // public: the images are pulled (the provider pulls what it has no recipe for).
  const base = config.build.runtimeImages === 'os-packages' ? os.images : PUBLIC_RUNTIME_IMAGES;
  const images = runtimeImageMap(config.build.runtimeImageOverrides, base);
  const builder = new DockerBuilder({ client, installationId, baseImages: os.provider });
  return { runtime, builder, runtimeImages: given.runtimeImages ?? images, ...digests };
}

function processRuntime(root: string, installationId: string, searchPath: string | undefined): ProcessRuntime {
  const runtime = new ProcessRuntime({ root, installationId, ...(searchPath !== undefined && { searchPath }) });
  log(runtime.limits === 'none' ? 'warn' : 'info', 'control-plane', `process runtime: ${runtime.limitsReason}`);
  return runtime;
}

/** `auto`: Docker if its socket answers a ping within a second, else local processes. */
async function resolveKind(config: BerthConfig): Promise<'docker' | 'process'> {
  if (config.runtime.kind !== 'auto') return config.runtime.kind;
  const client = new DockerEngineClient({ socketPath: config.docker.socket });
  try {
    await client.ping({ signal: AbortSignal.timeout(1000) });
    return 'docker';
  } catch (error) {
    log('warn', 'control-plane', `no Docker engine answers at ${config.docker.socket} (${(error as Error).message}); running services as local processes, with weaker isolation than containers (see README)`);
    return 'process';
  } finally {
    await client.close();
  }
}

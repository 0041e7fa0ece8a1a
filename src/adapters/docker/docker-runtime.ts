/**
 * @module
 * The Docker Engine container runtime: each Berth instance is one container on a user-defined
 * bridge network of its installation, reached at its bridge address (no published ports).
 * Containers carry labels naming their installation, service, revision and instance, so that
 * several Berth installations can share one engine without seeing each other's containers, and
 * so that a restarted control plane finds what runs by asking the engine.
 */
import { RuntimeError, type ContainerRuntime, type Instance, type InstanceSpec } from '../../core/runtime.ts';
import {
  containerCreateBody,
  containerNameFor,
  installationFilter,
  instanceFromInspect,
  instanceFromSummary,
  LABEL,
  networkNameFor,
} from './container-mapping.ts';
import { DockerEngineClient } from './engine-client.ts';
import { DockerEngineError, isEngineStatus } from './engine-error.ts';
import type { ContainerCreateBody, ContainerSummary } from './engine-types.ts';
import { engineImageName, isImageId } from './image-name.ts';
import { lastLines } from './log-frames.ts';

export type DockerRuntimeOptions = (
  | { client: DockerEngineClient; socketPath?: never }
  | { socketPath?: string; client?: never }
) & {
  /** Which Berth installation owns the containers this runtime creates and lists. */
  installationId: string;
  /** The bridge network for instances; `berth-<first 12 characters of installationId>` by default. */
  networkName?: string;
};

export class DockerRuntime implements ContainerRuntime {
  readonly name = 'docker';
  readonly installationId: string;
  readonly networkName: string;
  readonly #client: DockerEngineClient;
  /** Whether this runtime made the client, and so closes it. */
  readonly #ownsClient: boolean;
  /** The network check under way, so starts check and create it one at a time. */
  #networkReady: Promise<void> | undefined;

  constructor(options: DockerRuntimeOptions) {
    if (options.installationId.trim() === '') throw new Error('DockerRuntime needs a non-empty installationId');
    this.installationId = options.installationId;
    this.networkName = options.networkName ?? networkNameFor(options.installationId);
    this.#ownsClient = options.client === undefined;
    this.#client = options.client ?? new DockerEngineClient(options.socketPath === undefined ? {} : { socketPath: options.socketPath });
  }

  async ensureImage(image: string, options: { refresh?: boolean } = {}): Promise<string> {
    const reference = imageReference(image, 'image-pull');
    try {
      // An image id or a reference by digest names one image forever: there is nothing newer to pull.
      const fixed = isImageId(reference) || reference.includes('@');
      if (options.refresh !== true || fixed) {
        const present = await this.#client.inspectImage(reference);
        if (present !== undefined) return present.Id;
      }
      if (isImageId(reference)) {
        throw new Error('no image has that id on this engine any more (removed, or pruned, once no container used it), and an id cannot be pulled; deploy the service again to pull its image');
      }
      await this.#client.pullImage(reference);
      // The id, not the tag: a later pull moving the tag must not change what this answer names.
      const pulled = await this.#client.inspectImage(reference);
      if (pulled === undefined) throw new Error('the engine reported the pull done but has no image under that reference (removed meanwhile?)');
      return pulled.Id;
    } catch (error) {
      throw asRuntimeError(error, 'image-pull', `Could not pull image '${image}'`);
    }
  }

  async list(): Promise<Instance[]> {
    try {
      // Only containers Berth made as instances carry an instance id; any other container with
      // the installation's label (a build step's, which inherits an image's labels) is not one.
      const summaries = await this.#client.listContainers({ all: true, labels: [installationFilter(this.installationId), LABEL.instanceId] });
      const instances = await Promise.all(summaries.map((summary) => this.#instanceOf(summary)));
      return instances.filter((instance) => instance !== undefined);
    } catch (error) {
      throw asRuntimeError(error, 'other', `Could not list the instances of installation '${this.installationId}'`);
    }
  }

  async start(spec: InstanceSpec): Promise<Instance> {
    const context = `Could not start instance '${spec.instanceId}' of service '${spec.serviceName}' from image '${spec.image}'`;
    const image = imageReference(spec.image, 'start');
    let body: ContainerCreateBody;
    try {
      body = containerCreateBody(spec, { installationId: this.installationId, networkName: this.networkName, image });
    } catch (error) {
      throw asRuntimeError(error, 'start', context);
    }
    const name = containerNameFor(spec.serviceName, spec.instanceId);
    let id: string | undefined;
    try {
      await this.#ensureNetwork();
      id = await this.#create(name, body);
      await this.#client.startContainer(id);
      const inspected = await this.#client.inspectContainer(id);
      if (inspected === undefined) throw new Error('the container was removed as it started');
      return instanceFromInspect(inspected, this.networkName);
    } catch (error) {
      // A container that failed to start would linger as 'created' with nothing to show for it.
      if (id !== undefined) await this.#client.removeContainer(id, { force: true, volumes: true }).catch(() => undefined);
      throw asRuntimeError(error, 'start', context);
    }
  }

  async remove(runtimeId: string, graceSeconds: number): Promise<void> {
    try {
      await this.#client.stopContainer(runtimeId, graceSeconds);
    } catch (error) {
      if (isEngineStatus(error, 404)) return;
      throw asRuntimeError(error, 'other', `Could not stop container '${runtimeId}'`);
    }
    try {
      await this.#client.removeContainer(runtimeId, { force: true, volumes: true });
    } catch (error) {
      if (isEngineStatus(error, 404)) return;
      // Another caller is already removing it: the outcome is the one asked for.
      if (isEngineStatus(error, 409) && /already in progress/i.test(error.engineMessage)) return;
      throw asRuntimeError(error, 'other', `Could not remove container '${runtimeId}'`);
    }
  }

  async logs(runtimeId: string, tailLines: number): Promise<string> {
    try {
      const frames = await this.#client.containerLogs(runtimeId, { tail: tailLines });
      const text = Buffer.concat(frames.filter((frame) => frame.stream !== 'stdin').map((frame) => frame.data)).toString('utf8');
      return lastLines(text, tailLines);
    } catch (error) {
      throw asRuntimeError(error, 'other', `Could not read the logs of container '${runtimeId}'`);
    }
  }

  async storageUsage(): Promise<Map<string, number>> {
    try {
      // Running ones only (`all` unset): the engine measures each listed container's writable layer.
      const summaries = await this.#client.listContainers({ labels: [installationFilter(this.installationId), LABEL.instanceId], size: true });
      return new Map(summaries.filter((summary) => summary.State === 'running').map((summary) => [summary.Id, summary.SizeRw ?? 0]));
    } catch (error) {
      throw asRuntimeError(error, 'other', `Could not measure the storage of the instances of installation '${this.installationId}'`);
    }
  }

  /** Closes the engine connections if this runtime opened them. */
  async close(): Promise<void> {
    if (this.#ownsClient) await this.#client.close();
  }

  /** Exited containers need an inspect for their exit code; undefined when one vanished meanwhile. */
  async #instanceOf(summary: ContainerSummary): Promise<Instance | undefined> {
    const instance = instanceFromSummary(summary, this.networkName);
    if (instance.state !== 'exited' || summary.State === 'paused') return instance;
    const inspected = await this.#client.inspectContainer(summary.Id);
    return inspected === undefined ? undefined : instanceFromInspect(inspected, this.networkName);
  }

  /**
   * Creates the network when absent. Checked on every start rather than once: one local inspect is
   * cheap next to a container start, and an operator may have pruned the network meanwhile.
   */
  /**
   * One check-and-create at a time: the engine's duplicate-name check is not atomic, so
   * instances starting together made two networks of the same name, and every later start
   * failed with "network ... is ambiguous".
   */
  #ensureNetwork(): Promise<void> {
    const run = (this.#networkReady ?? Promise.resolve()).then(() => this.#ensureNetworkOnce());
    // A failure is not remembered: the next start tries again.
    this.#networkReady = run.catch(() => undefined);
    return run;
  }

  async #ensureNetworkOnce(): Promise<void> {
    if ((await this.#client.inspectNetwork(this.networkName)) !== undefined) return;
    try {
      await this.#client.createNetwork({
        Name: this.networkName,
        Driver: 'bridge',
        Labels: { [LABEL.installation]: this.installationId },
        CheckDuplicate: true,
      });
    } catch (error) {
      // A concurrent start created it first.
      if (!isEngineStatus(error, 409)) throw error;
    }
  }

  /** Creates the container, first removing a leftover of the same name from an attempt that crashed. */
  async #create(name: string, body: ContainerCreateBody): Promise<string> {
    try {
      return (await this.#client.createContainer(name, body)).id;
    } catch (error) {
      if (!isEngineStatus(error, 409)) throw error;
    }
    const existing = await this.#client.inspectContainer(name);
    const owner = existing?.Config.Labels?.[LABEL.installation];
    if (existing !== undefined && owner !== this.installationId) {
      throw new Error(`the container name '${name}' is taken by a container of ${owner === undefined ? 'no Berth installation' : `installation '${owner}'`}`);
    }
    if (existing !== undefined) await this.#client.removeContainer(existing.Id, { force: true, volumes: true });
    return (await this.#client.createContainer(name, body)).id;
  }
}

/**
 * The reference with its implicit `:latest`, or an image id as it is (what `ensureImage` answers);
 * an invalid one is the caller's error, reported as `reason`.
 */
function imageReference(image: string, reason: 'image-pull' | 'start'): string {
  if (isImageId(image)) return image;
  try {
    return engineImageName(image).reference;
  } catch (error) {
    throw new RuntimeError(reason, error instanceof Error ? error.message : String(error));
  }
}

/** A RuntimeError that says what was attempted and what the engine answered. */
function asRuntimeError(error: unknown, reason: RuntimeError['reason'], context: string): RuntimeError {
  if (error instanceof RuntimeError) return error;
  if (error instanceof DockerEngineError) {
    if (error.code === 'DOCKER_ENGINE_UNREACHABLE') return new RuntimeError('engine-unavailable', `${context}: ${error.message}`);
    return new RuntimeError(reason, `${context}: ${error.engineMessage}`);
  }
  return new RuntimeError(reason, `${context}: ${error instanceof Error ? error.message : String(error)}`);
}

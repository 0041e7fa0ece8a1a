/**
 * An in-memory ContainerRuntime for tests of the API's rules, where no instance has to run.
 * Instances "start" at once at an address nothing listens on, or, with `listening`, at a TCP
 * listener of their own so they pass TCP health checks and services reach RUNNING. Tests that
 * need real instances use the Docker engine.
 *
 * Images behave as on one engine in front of a registry: every tag has a version, 1 until a test
 * calls `moveTag`; `ensureImage` pulls the tag's version when refreshing or when it has none yet,
 * and answers the version pulled as `fake-pinned:<image>@<version>`, a reference that names
 * itself. `crash` and `setStorageUsage` produce what the reconciler must react to.
 */
import { createServer, type Server } from 'node:net';
import { RuntimeError, type ContainerRuntime, type Instance, type InstanceSpec } from '../../src/core/runtime.ts';

export class FakeRuntime implements ContainerRuntime {
  readonly name = 'fake';
  readonly instances = new Map<string, Instance>();
  /** Images (tags or pinned references) whose pull fails. */
  readonly missingImages = new Set<string>();
  readonly #listening: boolean;
  readonly #servers = new Map<string, Server>();
  readonly #specs = new Map<string, InstanceSpec>();
  /** The version each tag names in the "registry", when moved; 1 otherwise. */
  readonly #tagVersions = new Map<string, number>();
  /** The version of each tag "pulled" so far. */
  readonly #pulled = new Map<string, number>();
  /** Bytes written outside the image, by runtime id; 0 when unset. */
  readonly #storage = new Map<string, number>();
  #next = 1;

  constructor(options: { listening?: boolean } = {}) {
    this.#listening = options.listening ?? false;
  }

  async ensureImage(image: string, options: { refresh?: boolean } = {}): Promise<string> {
    if (this.missingImages.has(image)) throw new RuntimeError('image-pull', `image ${image} not found`);
    if (image.startsWith(PINNED_PREFIX)) return image;
    let version = this.#pulled.get(image);
    if (version === undefined || options.refresh === true) {
      version = this.#tagVersions.get(image) ?? 1;
      this.#pulled.set(image, version);
    }
    return `${PINNED_PREFIX}${image}@${version}`;
  }

  /** Points `image` at a new version in the "registry"; the next refreshing `ensureImage` pulls it. Returns the new pinned reference. */
  moveTag(image: string): string {
    const version = (this.#tagVersions.get(image) ?? 1) + 1;
    this.#tagVersions.set(image, version);
    return `${PINNED_PREFIX}${image}@${version}`;
  }

  async storageUsage(): Promise<Map<string, number>> {
    const running = [...this.instances.values()].filter((instance) => instance.state === 'running');
    return new Map(running.map((instance) => [instance.runtimeId, this.#storage.get(instance.runtimeId) ?? 0]));
  }

  /** What `storageUsage` reports for an instance, named by its runtime id or its instance id. */
  setStorageUsage(runtimeIdOrInstanceId: string, bytes: number): void {
    this.#storage.set(this.#find(runtimeIdOrInstanceId).runtimeId, bytes);
  }

  /**
   * Makes an instance (by instance id or runtime id) exit as a crashed app would: listed as
   * exited with `exitCode` (1 by default) and, when asked, killed for its memory; its listener
   * closes. It stays listed until removed.
   */
  crash(instanceId: string, options: { outOfMemory?: boolean; exitCode?: number } = {}): Instance {
    const { address: _address, ...instance } = this.#find(instanceId);
    const crashed: Instance = {
      ...instance,
      state: 'exited',
      exitCode: options.exitCode ?? 1,
      ...(options.outOfMemory === true && { outOfMemory: true }),
    };
    this.instances.set(crashed.runtimeId, crashed);
    this.#servers.get(crashed.runtimeId)?.close();
    this.#servers.delete(crashed.runtimeId);
    return crashed;
  }

  async list(): Promise<Instance[]> {
    return [...this.instances.values()];
  }

  async start(spec: InstanceSpec): Promise<Instance> {
    const runtimeId = `fake-${this.#next++}`;
    let address = '127.0.0.1:9';
    if (this.#listening) {
      const server = createServer((socket) => socket.destroy());
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      this.#servers.set(runtimeId, server);
      address = `127.0.0.1:${(server.address() as { port: number }).port}`;
    }
    const instance: Instance = {
      runtimeId,
      instanceId: spec.instanceId,
      serviceId: spec.serviceId,
      revisionId: spec.revisionId,
      state: 'running',
      address,
      createdAt: Date.now(),
    };
    this.instances.set(instance.runtimeId, instance);
    this.#specs.set(runtimeId, spec);
    return instance;
  }

  /** What each instance still present was started with. */
  specs(): InstanceSpec[] {
    return [...this.instances.keys()].flatMap((id) => this.#specs.get(id) ?? []);
  }

  async remove(runtimeId: string): Promise<void> {
    this.instances.delete(runtimeId);
    this.#specs.delete(runtimeId);
    this.#storage.delete(runtimeId);
    this.#servers.get(runtimeId)?.close();
    this.#servers.delete(runtimeId);
  }

  /** Stops the listeners of instances still "running". */
  close(): void {
    for (const server of this.#servers.values()) server.close();
    this.#servers.clear();
  }

  async logs(): Promise<string> {
    return '';
  }

  #find(runtimeIdOrInstanceId: string): Instance {
    const instance = this.instances.get(runtimeIdOrInstanceId) ?? [...this.instances.values()].find((i) => i.instanceId === runtimeIdOrInstanceId);
    if (instance === undefined) {
      const known = [...this.instances.values()].map((i) => `${i.instanceId} (${i.runtimeId})`).join(', ') || 'none';
      throw new Error(`FakeRuntime has no instance '${runtimeIdOrInstanceId}'; it has: ${known}`);
    }
    return instance;
  }
}

const PINNED_PREFIX = 'fake-pinned:';

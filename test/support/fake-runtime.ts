/**
 * An in-memory ContainerRuntime for tests of the API's rules, where no instance has to run.
 * Instances "start" at once at an address nothing listens on, or, with `listening`, at a TCP
 * listener of their own so they pass TCP health checks and services reach RUNNING. Tests that
 * need real instances use the Docker engine.
 */
import { createServer, type Server } from 'node:net';
import { RuntimeError, type ContainerRuntime, type Instance, type InstanceSpec } from '../../src/core/runtime.ts';

export class FakeRuntime implements ContainerRuntime {
  readonly name = 'fake';
  readonly instances = new Map<string, Instance>();
  readonly missingImages = new Set<string>();
  readonly #listening: boolean;
  readonly #servers = new Map<string, Server>();
  readonly #specs = new Map<string, InstanceSpec>();
  #next = 1;

  constructor(options: { listening?: boolean } = {}) {
    this.#listening = options.listening ?? false;
  }

  async ensureImage(image: string): Promise<void> {
    if (this.missingImages.has(image)) throw new RuntimeError('image-pull', `image ${image} not found`);
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
}

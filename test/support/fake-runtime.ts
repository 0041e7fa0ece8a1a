/**
 * An in-memory ContainerRuntime for tests of the API's rules, where no instance has to run.
 * Instances "start" at once at an address nothing listens on; tests that need real instances
 * use the Docker engine.
 */
import { RuntimeError, type ContainerRuntime, type Instance, type InstanceSpec } from '../../src/core/runtime.ts';

export class FakeRuntime implements ContainerRuntime {
  readonly name = 'fake';
  readonly instances = new Map<string, Instance>();
  readonly missingImages = new Set<string>();
  #next = 1;

  async ensureImage(image: string): Promise<void> {
    if (this.missingImages.has(image)) throw new RuntimeError('image-pull', `image ${image} not found`);
  }

  async list(): Promise<Instance[]> {
    return [...this.instances.values()];
  }

  async start(spec: InstanceSpec): Promise<Instance> {
    const instance: Instance = {
      runtimeId: `fake-${this.#next++}`,
      instanceId: spec.instanceId,
      serviceId: spec.serviceId,
      revisionId: spec.revisionId,
      state: 'running',
      address: '127.0.0.1:9',
      createdAt: Date.now(),
    };
    this.instances.set(instance.runtimeId, instance);
    return instance;
  }

  async remove(runtimeId: string): Promise<void> {
    this.instances.delete(runtimeId);
  }

  async logs(): Promise<string> {
    return '';
  }
}

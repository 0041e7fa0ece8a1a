/**
 * @module
 * The seam between the control plane and whatever runs instances: the Docker Engine (default),
 * local processes, Docker Swarm. The reconciler reads actual state with `list()` and converges
 * it towards the store's desired state with the other calls; nothing here keeps state that the
 * runtime itself does not keep, so a restarted control plane sees exactly what runs.
 */

/** What the reconciler asks a runtime to run: one instance of one revision of a service. */
export interface InstanceSpec {
  /** Berth's id for this instance, unique, used in the runtime's name for it. */
  instanceId: string;
  serviceId: string;
  serviceName: string;
  revisionId: string;
  /** An OCI image reference, from any registry (plain-HTTP registries on loopback included). */
  image: string;
  /** The port the application listens on; also given to it as the PORT variable. */
  port: number;
  /** Environment variables for the application (PORT is added by the runtime). */
  env: Record<string, string>;
  /** Overrides the image's command, run by a shell (App Runner's StartCommand). */
  startCommand?: string;
  /** CPU in App Runner units: 1024 is one vCPU. */
  cpuUnits: number;
  /** Memory limit in MiB. */
  memoryMb: number;
}

export type InstanceState = 'created' | 'running' | 'exited' | 'missing';

/** An instance as the runtime reports it. */
export interface Instance {
  /** The runtime's own id for it (a container id for Docker). */
  runtimeId: string;
  instanceId: string;
  serviceId: string;
  revisionId: string;
  state: InstanceState;
  /** Where the application can be reached from this machine, `host:port`, once running. */
  address?: string;
  /** Set when the instance has exited. */
  exitCode?: number;
  /** Set when the runtime killed it for going over its memory limit (Docker's OOMKilled). */
  outOfMemory?: boolean;
  /** Epoch milliseconds at which the runtime created it. */
  createdAt: number;
}

export interface ContainerRuntime {
  /** A short name for messages and logs: `docker`, `process`, ... */
  readonly name: string;
  /**
   * Makes the image available locally, pulling it when absent, or always with `refresh` (a
   * deployment takes whatever the tag names now). Resolves with a reference that names exactly
   * what is there now (Docker: the image id, `sha256:…`), so instances started later for the
   * same revision run the same bits even after the tag moves; runtimes that cannot pin resolve
   * with `image` itself. Throws RuntimeError on failure.
   */
  ensureImage(image: string, options?: { refresh?: boolean }): Promise<string>;
  /** Every instance this installation of Berth owns, in any state. */
  list(): Promise<Instance[]>;
  /** Creates and starts an instance; resolves once it runs, with its address. */
  start(spec: InstanceSpec): Promise<Instance>;
  /** Stops (after `graceSeconds` of SIGTERM) and removes an instance; missing ones are fine. */
  remove(runtimeId: string, graceSeconds: number): Promise<void>;
  /** The last lines an instance wrote, to explain why it failed. */
  logs(runtimeId: string, tailLines: number): Promise<string>;
  /**
   * Bytes each running instance has written outside its image (Docker: the container's writable
   * layer; processes: the instance's working directory), by runtime id, for the ephemeral storage
   * limit. Costs a walk of those files: call it every few seconds at most.
   */
  storageUsage(): Promise<Map<string, number>>;
}

/**
 * Digests behind image tags, for automatic deployments of image services: a tag whose registry
 * digest differs from the one pulled has a new image behind it.
 */
export interface ImageDigests {
  /** The manifest digest the registry serves for `image` now; undefined when it cannot be told. */
  remote(image: string): Promise<string | undefined>;
  /** The manifest digest of the image pulled locally under that reference; undefined if none. */
  local(image: string): Promise<string | undefined>;
}

/** The store's meta key holding the digest an image revision was pulled at. */
export function revisionDigestKey(revisionId: string): string {
  return `image-digest:${revisionId}`;
}

/** The store's meta key holding the exact image (`ensureImage`'s answer) a revision runs. */
export function revisionImageKey(revisionId: string): string {
  return `image-pinned:${revisionId}`;
}

/** A runtime failure with a message fit to show a user (why a pull or a start failed). */
export class RuntimeError extends Error {
  readonly reason: 'image-pull' | 'start' | 'engine-unavailable' | 'other';
  constructor(reason: RuntimeError['reason'], message: string) {
    super(message);
    this.name = 'RuntimeError';
    this.reason = reason;
  }
}

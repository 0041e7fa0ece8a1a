/**
 * @module
 * How a Berth instance maps onto a Docker container and back, as pure functions: names, labels,
 * the create request, and the `Instance` read from a listed or inspected container. Everything
 * the runtime needs to recognise its containers after a restart is in their labels, so the
 * engine stays the only record of what runs.
 */
import type { Instance, InstanceSpec, InstanceState } from '../../core/runtime.ts';
import type { ContainerCreateBody, ContainerInspect, ContainerSummary, EndpointSettings } from './engine-types.ts';

export const LABEL = {
  installation: 'berth.installation',
  serviceId: 'berth.service-id',
  serviceName: 'berth.service-name',
  revisionId: 'berth.revision-id',
  instanceId: 'berth.instance-id',
  /** The application port, so that `list()` can give addresses without inspecting each container. */
  port: 'berth.port',
} as const;

/** Docker's rule for container and network names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`. */
function dockerName(value: string): string {
  return value.replace(/[^a-zA-Z0-9_.-]/g, '-');
}

/** `berth-<first 12 characters of the installation id>`: one bridge network per installation. */
export function networkNameFor(installationId: string): string {
  return dockerName(`berth-${installationId.slice(0, 12)}`);
}

export function containerNameFor(serviceName: string, instanceId: string): string {
  return dockerName(`berth-${serviceName}-${instanceId}`);
}

export interface ContainerPlacement {
  installationId: string;
  networkName: string;
  /** The image to run: a reference with its implicit tag spelled out, or an image id (`sha256:…`). */
  image: string;
}

export function containerCreateBody(spec: InstanceSpec, placement: ContainerPlacement): ContainerCreateBody {
  // PORT last and from the spec: the runtime promises the app this port, whatever `env` says.
  const env = { ...spec.env, PORT: String(spec.port) };
  for (const name of Object.keys(env)) {
    if (name === '' || name.includes('=') || name.includes('\0')) {
      throw new Error(`Environment variable name ${JSON.stringify(name)} is not valid: it must be non-empty without '=' or NUL`);
    }
  }
  return {
    Image: placement.image,
    Env: Object.entries(env).map(([name, value]) => `${name}=${value}`),
    ...(spec.startCommand !== undefined && { Entrypoint: ['/bin/sh', '-c'], Cmd: [spec.startCommand] }),
    Labels: {
      [LABEL.installation]: placement.installationId,
      [LABEL.serviceId]: spec.serviceId,
      [LABEL.serviceName]: spec.serviceName,
      [LABEL.revisionId]: spec.revisionId,
      [LABEL.instanceId]: spec.instanceId,
      [LABEL.port]: String(spec.port),
    },
    // Without a TTY the logs stay split into stdout and stderr.
    Tty: false,
    HostConfig: {
      NetworkMode: placement.networkName,
      // App Runner's units: 1024 is one vCPU.
      NanoCpus: Math.round((spec.cpuUnits / 1024) * 1e9),
      Memory: spec.memoryMb * 1024 * 1024,
      // Equal to Memory: no swap beyond the limit (ignored, with a warning, where the kernel lacks swap accounting).
      MemorySwap: spec.memoryMb * 1024 * 1024,
      // The reconciler replaces dead instances; the engine restarting them would hide the failure.
      RestartPolicy: { Name: 'no' },
      // A minimal init as PID 1 forwards SIGTERM and reaps zombies, so apps that never expected to
      // be PID 1 still stop within the grace period.
      Init: true,
      // No published ports: the host reaches the container's bridge address directly, and
      // docker-proxy would accept TCP connections before the app listens, fooling health checks.
    },
    NetworkingConfig: { EndpointsConfig: { [placement.networkName]: {} } },
  };
}

/** The label filter that selects exactly one installation's containers. */
export function installationFilter(installationId: string): string {
  return `${LABEL.installation}=${installationId}`;
}

/** What a listed and an inspected container both tell, in one shape. */
interface ContainerFacts {
  id: string;
  status: ContainerSummary['State'];
  labels: Record<string, string>;
  networks: Record<string, EndpointSettings>;
  createdAt: number;
  exitCode: number | undefined;
  outOfMemory: boolean;
}

/** A listed container; the list carries no exit code nor OOM flag, so an exited one needs `instanceFromInspect` for them. */
export function instanceFromSummary(summary: ContainerSummary, networkName: string): Instance {
  return toInstance(
    {
      id: summary.Id,
      status: summary.State,
      labels: summary.Labels,
      networks: summary.NetworkSettings?.Networks ?? {},
      createdAt: summary.Created * 1000,
      exitCode: undefined,
      outOfMemory: false,
    },
    networkName,
  );
}

export function instanceFromInspect(inspect: ContainerInspect, networkName: string): Instance {
  return toInstance(
    {
      id: inspect.Id,
      status: inspect.State.Status,
      labels: inspect.Config.Labels ?? {},
      networks: inspect.NetworkSettings.Networks,
      createdAt: Date.parse(inspect.Created),
      exitCode: inspect.State.ExitCode,
      outOfMemory: inspect.State.OOMKilled,
    },
    networkName,
  );
}

/** created → created, running → running; every state in which the app does not run → exited. */
export function instanceState(status: ContainerSummary['State']): InstanceState {
  switch (status) {
    case 'created':
      return 'created';
    case 'running':
      return 'running';
    case 'restarting':
    case 'removing':
    case 'paused':
    case 'exited':
    case 'dead':
      return 'exited';
  }
}

function toInstance(facts: ContainerFacts, networkName: string): Instance {
  const state = instanceState(facts.status);
  const ip = facts.networks[networkName]?.IPAddress;
  const port = facts.labels[LABEL.port];
  return {
    runtimeId: facts.id,
    instanceId: facts.labels[LABEL.instanceId] ?? '',
    serviceId: facts.labels[LABEL.serviceId] ?? '',
    revisionId: facts.labels[LABEL.revisionId] ?? '',
    state,
    ...(state === 'running' && ip && port !== undefined && { address: `${ip}:${port}` }),
    // A paused container has not exited and has no exit code to report.
    ...(state === 'exited' && facts.status !== 'paused' && facts.exitCode !== undefined && { exitCode: facts.exitCode }),
    // The engine also flags a container whose app survived the kill of one of its processes; only
    // an instance that is gone was killed for its memory.
    ...(state === 'exited' && facts.status !== 'paused' && facts.outOfMemory && { outOfMemory: true }),
    createdAt: facts.createdAt,
  };
}

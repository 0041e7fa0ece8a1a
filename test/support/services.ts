/**
 * Services of a real `berth up` in end-to-end tests. Cleaning up: instances (containers,
 * processes) outlive a stopped control plane by design, so a test deletes its services and waits
 * until they are gone before it stops Berth, or it leaves them running. Watching: a service's
 * containers as the engine lists them, its operations, and the members the SDK drops (Berth's
 * extensions: settings, scaling, the event log).
 */
import { DeleteServiceCommand, DescribeServiceCommand, ListOperationsCommand, type AppRunnerClient, type OperationSummary } from '@aws-sdk/client-apprunner';
import type { DockerEngineClient } from '../../src/adapters/docker/engine-client.ts';
import { waitFor } from './berth-process.ts';
import { signedFetch, type Endpoint } from './signed-request.ts';

export async function deleteServicesAndWait(client: AppRunnerClient | undefined, arns: readonly string[], timeoutMs = 60_000): Promise<void> {
  if (client === undefined) return;
  for (const arn of arns) await client.send(new DeleteServiceCommand({ ServiceArn: arn })).catch(() => undefined);
  const status = async (arn: string): Promise<string | undefined> =>
    (await client.send(new DescribeServiceCommand({ ServiceArn: arn })).catch(() => undefined))?.Service?.Status;
  await waitFor(async () => (await Promise.all(arns.map(status))).every((s) => s === undefined || s === 'DELETED'), timeoutMs, () => 'services were not deleted').catch(() => undefined);
}

/** A container of a service, as the engine lists it (by Berth's labels). */
export interface ServiceContainer {
  id: string;
  instanceId: string;
  revisionId: string;
  state: string;
}

/** Every container (any state) labelled with the service's id: what compute the service holds. */
export async function serviceContainers(docker: DockerEngineClient, serviceId: string): Promise<ServiceContainer[]> {
  const listed = await docker.listContainers({ all: true, labels: [`berth.service-id=${serviceId}`] });
  return listed.map((c) => ({ id: c.Id, instanceId: c.Labels['berth.instance-id'] ?? '', revisionId: c.Labels['berth.revision-id'] ?? '', state: c.State }));
}

/**
 * Polls ListOperations (every `intervalMs`) until the operation `operationId` has a status
 * `done` accepts; resolves with its summary and when that status was first seen.
 */
export async function waitForOperation(
  client: AppRunnerClient,
  serviceArn: string,
  operationId: string,
  done: (status: string) => boolean,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<{ operation: OperationSummary; seenAt: number }> {
  const deadline = performance.now() + (options.timeoutMs ?? 60_000);
  let last: OperationSummary | undefined;
  for (;;) {
    const listed = await client.send(new ListOperationsCommand({ ServiceArn: serviceArn }));
    last = listed.OperationSummaryList?.find((o) => o.Id === operationId);
    if (last?.Status !== undefined && done(last.Status)) return { operation: last, seenAt: performance.now() };
    if (performance.now() > deadline) throw new Error(`operation ${operationId} did not reach the wanted status in time; last seen ${last?.Status ?? 'nothing'}`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
}

/**
 * DescribeService as raw JSON, for Berth's extension members the SDK drops (`LastDeployment`,
 * `Settings`, `CrashLoop` on the Service).
 */
export async function describeServiceRaw(endpoint: Endpoint, serviceArn: string): Promise<Record<string, unknown>> {
  const reply = await signedFetch(endpoint, 'AppRunner.DescribeService', JSON.stringify({ ServiceArn: serviceArn }));
  if (reply.status !== 200) throw new Error(`DescribeService answered ${reply.status}: ${reply.body}`);
  return reply.json();
}

/** Sets a service's Berth settings (`Berth.UpdateServiceSettings`); throws unless the API answers 200. */
export async function updateServiceSettings(endpoint: Endpoint, settings: { ServiceArn: string; RequestTimeoutSeconds?: number; IdleTimeoutSeconds?: number; StartupTimeoutSeconds?: number; EphemeralStorageMb?: number; ScaleToZeroIdleSeconds?: number }): Promise<Record<string, unknown>> {
  const reply = await signedFetch(endpoint, 'Berth.UpdateServiceSettings', JSON.stringify(settings));
  if (reply.status !== 200) throw new Error(`Berth.UpdateServiceSettings answered ${reply.status}: ${reply.body}`);
  return reply.json();
}

/** DescribeService's `Scaling` extension member: what the autoscaler wants and what runs. */
export interface ServiceScaling {
  DesiredInstances: number;
  Revisions: { RevisionId: string; CurrentInstances: number; ReadyInstances: number }[];
  /** The autoscaler's latest decision, as the API words it; absent before the first one. */
  LastDecision?: Record<string, unknown>;
}

/** The service's `Scaling` member; throws when DescribeService has none. */
export async function serviceScaling(endpoint: Endpoint, serviceArn: string): Promise<ServiceScaling> {
  const service = (await describeServiceRaw(endpoint, serviceArn)).Service as Record<string, unknown> | undefined;
  const scaling = service?.Scaling as ServiceScaling | undefined;
  if (scaling === undefined) throw new Error(`DescribeService of ${serviceArn} has no Scaling member: ${JSON.stringify(service)}`);
  return scaling;
}

/** One entry of `Berth.ListServiceEvents`. */
export interface ServiceEventOutput {
  /** Epoch seconds. */
  At: number;
  /** `SCALED`, `DEPLOYMENT_STARTED`, ... */
  Type: string;
  Message: string;
  OperationId?: string;
  InstanceId?: string;
  RevisionId?: string;
}

/** The service's event log, newest first, every page of it. */
export async function listServiceEvents(endpoint: Endpoint, serviceArn: string): Promise<ServiceEventOutput[]> {
  const events: ServiceEventOutput[] = [];
  let token: string | undefined;
  do {
    const reply = await signedFetch(endpoint, 'Berth.ListServiceEvents', JSON.stringify({ ServiceArn: serviceArn, MaxResults: 100, ...(token !== undefined && { NextToken: token }) }));
    if (reply.status !== 200) throw new Error(`Berth.ListServiceEvents answered ${reply.status}: ${reply.body}`);
    const page = reply.json() as { Events?: ServiceEventOutput[]; NextToken?: string };
    events.push(...(page.Events ?? []));
    token = page.NextToken;
  } while (token !== undefined);
  return events;
}

/** One look at a service's scale: its containers as the engine lists them, and `Scaling`. */
export interface ScalingSample {
  /** `performance.now()` when the look began. */
  at: number;
  /** Containers that hold compute: any state but exited or dead (a draining one counts). */
  live: number;
  /** Containers running. */
  running: number;
  /** DescribeService's `Scaling`; absent when the call failed or had none (see `scalingError`). */
  scaling?: ServiceScaling;
  scalingError?: string;
}

/** Instances ready across the service's revisions, as `Scaling` says; undefined without it. */
export function readyInstances(sample: ScalingSample): number | undefined {
  return sample.scaling?.Revisions.reduce((sum, r) => sum + r.ReadyInstances, 0);
}

/** Instances of the service's revisions, as `Scaling` says; undefined without it. */
export function currentInstances(sample: ScalingSample): number | undefined {
  return sample.scaling?.Revisions.reduce((sum, r) => sum + r.CurrentInstances, 0);
}

/**
 * Looks at a service's scale every `intervalMs` (the engine's containers and DescribeService's
 * `Scaling`, side by side) until stopped, keeping every sample: for assertions over a whole
 * period ("never above MaxSize"), times ("ready instances reached 3 after ..."), and the
 * instance-seconds a period used.
 */
export class ScalingWatcher {
  readonly samples: ScalingSample[] = [];
  readonly #loop: Promise<void>;
  #stopped = false;

  constructor(docker: DockerEngineClient, endpoint: Endpoint, serviceArn: string, serviceId: string, intervalMs = 250) {
    this.#loop = (async () => {
      while (!this.#stopped) {
        const at = performance.now();
        const [containers, scaling] = await Promise.all([
          serviceContainers(docker, serviceId).catch(() => undefined),
          serviceScaling(endpoint, serviceArn).catch((error: unknown) => error as Error),
        ]);
        if (containers !== undefined) {
          const sample: ScalingSample = {
            at,
            live: containers.filter((c) => c.state !== 'exited' && c.state !== 'dead').length,
            running: containers.filter((c) => c.state === 'running').length,
          };
          if (scaling instanceof Error) sample.scalingError = scaling.message;
          else sample.scaling = scaling;
          this.samples.push(sample);
        }
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, intervalMs - (performance.now() - at))));
      }
    })();
  }

  latest(): ScalingSample | undefined {
    return this.samples.at(-1);
  }

  /** The samples taken from `from` until `to` (`performance.now()` times). */
  between(from = 0, to = Infinity): ScalingSample[] {
    return this.samples.filter((s) => s.at >= from && s.at < to);
  }

  /** Resolves with the first sample, taken from now on, that `check` accepts. */
  async until(check: (sample: ScalingSample) => boolean, timeoutMs: number, what: string): Promise<ScalingSample> {
    const from = performance.now();
    const deadline = from + timeoutMs;
    for (;;) {
      const found = this.samples.find((s) => s.at >= from && check(s));
      if (found !== undefined) return found;
      if (performance.now() > deadline) throw new Error(`${what}: not seen within ${timeoutMs} ms; last sample ${JSON.stringify(this.latest())}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /**
   * The integral of live containers over [from, to], in instance-seconds: each sample's count
   * holds until the next sample.
   */
  instanceSeconds(from: number, to: number): number {
    let total = 0;
    for (const [i, sample] of this.samples.entries()) {
      const start = Math.max(from, sample.at);
      const end = Math.min(to, this.samples[i + 1]?.at ?? to);
      if (end > start) total += (sample.live * (end - start)) / 1000;
    }
    return total;
  }

  /** One line per change of what is sampled, times from `origin`: `+2.3s live=2 running=2 desired=3 ready=2`. */
  timeline(origin: number, from = origin, to = Infinity): string {
    const lines: string[] = [];
    let previous = '';
    for (const sample of this.between(from, to)) {
      const scaling = sample.scaling === undefined
        ? ` scaling=(${sample.scalingError ?? 'none'})`.slice(0, 120)
        : ` desired=${sample.scaling.DesiredInstances} current=${currentInstances(sample)} ready=${readyInstances(sample)}`;
      const state = `live=${sample.live} running=${sample.running}${scaling}`;
      if (state !== previous) lines.push(`+${((sample.at - origin) / 1000).toFixed(1)}s ${state}`);
      previous = state;
    }
    return lines.join('\n');
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }
}

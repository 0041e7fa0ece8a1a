/**
 * Services of a real `berth up` in end-to-end tests. Cleaning up: instances (containers,
 * processes) outlive a stopped control plane by design, so a test deletes its services and waits
 * until they are gone before it stops Berth, or it leaves them running. Watching: a service's
 * containers as the engine lists them, its operations, and the members the SDK drops.
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
export async function updateServiceSettings(endpoint: Endpoint, settings: { ServiceArn: string; RequestTimeoutSeconds?: number; IdleTimeoutSeconds?: number; StartupTimeoutSeconds?: number; EphemeralStorageMb?: number }): Promise<Record<string, unknown>> {
  const reply = await signedFetch(endpoint, 'Berth.UpdateServiceSettings', JSON.stringify(settings));
  if (reply.status !== 200) throw new Error(`Berth.UpdateServiceSettings answered ${reply.status}: ${reply.body}`);
  return reply.json();
}

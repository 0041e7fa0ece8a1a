/**
 * Cleaning up services at the end of a test that drives a real `berth up`: instances (containers,
 * processes) outlive a stopped control plane by design, so a test deletes its services and waits
 * until they are gone before it stops Berth, or it leaves them running.
 */
import { DeleteServiceCommand, DescribeServiceCommand, type AppRunnerClient } from '@aws-sdk/client-apprunner';
import { waitFor } from './berth-process.ts';

export async function deleteServicesAndWait(client: AppRunnerClient | undefined, arns: readonly string[], timeoutMs = 60_000): Promise<void> {
  if (client === undefined) return;
  for (const arn of arns) await client.send(new DeleteServiceCommand({ ServiceArn: arn })).catch(() => undefined);
  const status = async (arn: string): Promise<string | undefined> =>
    (await client.send(new DescribeServiceCommand({ ServiceArn: arn })).catch(() => undefined))?.Service?.Status;
  await waitFor(async () => (await Promise.all(arns.map(status))).every((s) => s === undefined || s === 'DELETED'), timeoutMs, () => 'services were not deleted').catch(() => undefined);
}

/**
 * @module
 * `berth operations SERVICE` and `berth build-log SERVICE [OPERATION] [--follow]`: what a
 * service's deployments did, including what the AWS CLI cannot show (App Runner's operation
 * summaries have no message and no build output): why an operation failed, the commit it
 * built, and the build's output, followed while it runs. SERVICE is a name or an ARN.
 */
import type { BerthConfig } from '../core/config.ts';
import { allPages, ApiUsageError, callApi, credentialsOf, endpointOf, type ApiClient } from './api-client.ts';

export const SERVICE_COMMANDS_HELP = `berth operations SERVICE                   A service's operations, newest first, with why each ended as it did
berth build-log SERVICE [OPERATION] [--follow]
                                           The build output of an operation (default the newest); --follow
                                           prints it as it comes until the build ends`;

export interface ServiceCommandIo {
  env: NodeJS.ProcessEnv;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** How long to wait between polls with --follow. */
  pollMs?: number;
}

type Json = Record<string, unknown>;

/** Runs `berth operations …` or `berth build-log …`; returns the exit status. */
export async function runServiceCommand(
  command: 'operations' | 'build-log',
  args: readonly string[],
  flags: { endpoint?: string | undefined; follow?: boolean | undefined },
  config: Readonly<BerthConfig>,
  io: ServiceCommandIo,
): Promise<number> {
  try {
    const max = command === 'operations' ? 1 : 2;
    if (args.length < 1 || args.length > max) {
      throw new ApiUsageError(command === 'operations' ? 'operations takes SERVICE (a name or an ARN)' : 'build-log takes SERVICE [OPERATION]');
    }
    const client: ApiClient = { endpoint: endpointOf(flags.endpoint, config), region: config.region, credentials: credentialsOf(io.env, config) };
    const serviceArn = await resolveService(client, args[0] as string);
    const operations = (await allPages(client, 'AppRunner.ListOperations', { ServiceArn: serviceArn }, 'OperationSummaryList')) as Json[];
    if (command === 'operations') {
      for (const op of operations) io.stdout(`${formatOperation(op)}\n`);
      return 0;
    }
    const operationId = args[1] ?? (operations[0]?.Id as string | undefined);
    if (operationId === undefined) throw new Error(`service ${args[0]} has no operations`);
    return await printBuildLog(client, serviceArn, operationId, flags.follow === true, io);
  } catch (error) {
    if (error instanceof ApiUsageError) {
      io.stderr(`berth ${command}: ${error.message}\n\nUsage:\n${SERVICE_COMMANDS_HELP}\n`);
      return 2;
    }
    io.stderr(`berth ${command}: ${(error as Error).message}\n`);
    return 1;
  }
}

async function resolveService(client: ApiClient, nameOrArn: string): Promise<string> {
  if (nameOrArn.startsWith('arn:')) return nameOrArn;
  const services = (await allPages(client, 'AppRunner.ListServices', {}, 'ServiceSummaryList')) as Json[];
  const found = services.find((s) => s.ServiceName === nameOrArn);
  if (found === undefined) throw new Error(`no service named ${nameOrArn}; berth lists services with: aws apprunner list-services`);
  return found.ServiceArn as string;
}

function formatOperation(op: Json): string {
  const started = new Date(Number(op.StartedAt) * 1000).toISOString();
  const message = op.StatusMessage === undefined ? '' : `\n    ${String(op.StatusMessage).replaceAll('\n', '\n    ')}`;
  return `${String(op.Id)}  ${String(op.Type).padEnd(16)}  ${String(op.Status).padEnd(18)}  ${started}${message}`;
}

/** Prints each build's output (oldest attempt first), and with `follow` the rest as it comes. */
async function printBuildLog(client: ApiClient, serviceArn: string, operationId: string, follow: boolean, io: ServiceCommandIo): Promise<number> {
  const printed = new Map<string, number>();
  for (;;) {
    const { Operation } = (await callApi(client, 'Berth.DescribeOperation', { ServiceArn: serviceArn, OperationId: operationId })) as { Operation: Json };
    const builds = [...((Operation.Builds as Json[] | undefined) ?? [])].reverse();
    const ended = !['PENDING', 'IN_PROGRESS'].includes(String(Operation.Status));
    if (builds.length === 0 && (!follow || ended)) {
      io.stdout(`operation ${operationId} (${String(Operation.Type)}) built nothing: it is not a deployment of source code, or its build has not started\n`);
      return 0;
    }
    for (const build of builds) {
      const id = String(build.BuildId);
      const log = String(build.Log ?? '');
      if (!printed.has(id)) io.stdout(`== build ${id}${build.Commit === undefined ? '' : ` of commit ${String(build.Commit)}`} ==\n`);
      const from = printed.get(id) ?? 0;
      // The log keeps only its newest part: when it was trimmed under us, print what is there.
      io.stdout(log.length >= from ? log.slice(from) : log);
      printed.set(id, log.length);
    }
    const running = builds.some((b) => b.Status === 'IN_PROGRESS');
    const latest = builds.at(-1);
    if (!follow || (!running && latest !== undefined)) {
      if (latest?.Status === 'FAILED') {
        const failure = latest.Failure as Json | undefined;
        io.stdout(`== build failed${failure?.Command === undefined ? '' : ` at: ${String(failure.Command)}`} ==\n`);
        return 1;
      }
      return 0;
    }
    await new Promise((resolve) => setTimeout(resolve, io.pollMs ?? 500));
  }
}

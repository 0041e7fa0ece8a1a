/**
 * @module
 * `berth status SERVICE`, `berth operations SERVICE`, `berth build-log SERVICE [OPERATION]
 * [--follow]`, `berth events SERVICE` and `berth settings SERVICE`: what a service runs and
 * what its deployments and instances did, including what the AWS CLI cannot show (App Runner's
 * operation summaries have no message and no build output, and it has no event log or
 * autoscaler to ask): its instances and the autoscaler's last decision, why an operation
 * failed, the commit it built, the build's output, followed while it runs, and Berth's own
 * per-service settings. SERVICE is a name or an ARN.
 */
import type { BerthConfig } from '../core/config.ts';
import { SERVICE_EVENTS_KEPT } from '../core/service-events.ts';
import { SETTING_LIMITS, SETTING_MEMBERS, SETTING_NAMES, type ServiceSettings } from '../core/service-settings.ts';
import { allPages, ApiUsageError, callApi, credentialsOf, endpointOf, type ApiClient } from './api-client.ts';

export const SERVICE_COMMANDS_HELP = `berth status SERVICE                       The service's status, the instances it should have, what runs of each
                                           revision (current and ready), and the autoscaler's last decision
berth operations SERVICE                   A service's operations, newest first, with why each ended as it did
berth build-log SERVICE [OPERATION] [--follow]
                                           The build output of an operation (default the newest); --follow
                                           prints it as it comes until the build ends
berth events SERVICE [--limit N]           The service's newest N events (default 50, at most ${SERVICE_EVENTS_KEPT}), oldest
                                           first like a log: deployments, instances started and stopped and why
berth settings SERVICE [--request-timeout S] [--idle-timeout S] [--startup-timeout S]
                       [--ephemeral-storage MB] [--scale-to-zero-idle S] [--default NAME]...
                                           Without flags, the service's settings; with flags, changes them (no
                                           deployment needed). --scale-to-zero-idle: with MinSize 0, how long
                                           without a request before the service scales to zero. --default
                                           request-timeout (idle-timeout, startup-timeout, ephemeral-storage,
                                           scale-to-zero-idle) returns one to the installation's default;
                                           repeat it or separate names with commas`;

/** The settings' flags, by setting. */
const SETTING_FLAGS: Readonly<Record<keyof ServiceSettings, SettingFlag>> = {
  requestTimeoutSeconds: 'request-timeout',
  idleTimeoutSeconds: 'idle-timeout',
  startupTimeoutSeconds: 'startup-timeout',
  ephemeralStorageMb: 'ephemeral-storage',
  scaleToZeroIdleSeconds: 'scale-to-zero-idle',
};
type SettingFlag = 'request-timeout' | 'idle-timeout' | 'startup-timeout' | 'ephemeral-storage' | 'scale-to-zero-idle';

export type ServiceCommand = 'status' | 'operations' | 'build-log' | 'events' | 'settings';

export interface ServiceCommandFlags {
  endpoint?: string | undefined;
  follow?: boolean | undefined;
  limit?: string | undefined;
  'request-timeout'?: string | undefined;
  'idle-timeout'?: string | undefined;
  'startup-timeout'?: string | undefined;
  'ephemeral-storage'?: string | undefined;
  'scale-to-zero-idle'?: string | undefined;
  default?: readonly string[] | undefined;
}

export interface ServiceCommandIo {
  env: NodeJS.ProcessEnv;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** How long to wait between polls with --follow. */
  pollMs?: number;
}

type Json = Record<string, unknown>;

/** Runs `berth status …`, `berth operations …`, `berth build-log …`, `berth events …` or `berth settings …`; returns the exit status. */
export async function runServiceCommand(
  command: ServiceCommand,
  args: readonly string[],
  flags: ServiceCommandFlags,
  config: Readonly<BerthConfig>,
  io: ServiceCommandIo,
): Promise<number> {
  try {
    const max = command === 'build-log' ? 2 : 1;
    if (args.length < 1 || args.length > max) {
      throw new ApiUsageError(command === 'build-log' ? 'build-log takes SERVICE [OPERATION]' : `${command} takes SERVICE (a name or an ARN)`);
    }
    checkFlagsApply(command, flags);
    // Flags are checked before anything is asked of the API.
    const limit = command === 'events' ? eventLimitOf(flags.limit) : 0;
    const update = command === 'settings' ? settingsUpdateOf(flags) : undefined;
    const client: ApiClient = { endpoint: endpointOf(flags.endpoint, config), region: config.region, credentials: credentialsOf(io.env, config) };
    const serviceArn = await resolveService(client, args[0] as string);
    if (command === 'status') {
      const { Service } = (await callApi(client, 'AppRunner.DescribeService', { ServiceArn: serviceArn })) as { Service: Json };
      io.stdout(formatStatus(Service));
      return 0;
    }
    if (command === 'events') {
      for (const event of (await newestEvents(client, serviceArn, limit)).reverse()) io.stdout(`${formatEvent(event)}\n`);
      return 0;
    }
    if (command === 'settings') {
      const reply = update === undefined
        ? await callApi(client, 'Berth.DescribeServiceSettings', { ServiceArn: serviceArn })
        : await callApi(client, 'Berth.UpdateServiceSettings', { ServiceArn: serviceArn, ...update });
      io.stdout(formatSettings(reply.Settings as Json));
      return 0;
    }
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

/** A flag another command takes is a mistake here, not something to ignore. */
function checkFlagsApply(command: ServiceCommand, flags: ServiceCommandFlags): void {
  const given = (names: readonly string[]): string[] => names.filter((n) => flags[n as keyof ServiceCommandFlags] !== undefined);
  const own: Record<ServiceCommand, readonly string[]> = {
    status: [],
    operations: [],
    'build-log': ['follow'],
    events: ['limit'],
    settings: [...Object.values(SETTING_FLAGS), 'default'],
  };
  const foreign = given(['follow', 'limit', ...Object.values(SETTING_FLAGS), 'default']).filter((n) => !own[command].includes(n));
  if (foreign.length > 0) throw new ApiUsageError(`${command} does not take ${foreign.map((n) => `--${n}`).join(', ')}`);
}

function eventLimitOf(value: string | undefined): number {
  if (value === undefined) return 50;
  const limit = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(limit >= 1 && limit <= SERVICE_EVENTS_KEPT)) throw new ApiUsageError(`--limit is '${value}'; expected a whole number from 1 to ${SERVICE_EVENTS_KEPT}`);
  return limit;
}

/**
 * The UpdateServiceSettings members the flags ask for (a number, or null for --default), or
 * undefined when no flag is given (describe). Values are checked here against the same limits
 * the API applies, so a mistake is told with the flag's name.
 */
function settingsUpdateOf(flags: ServiceCommandFlags): Record<string, number | null> | undefined {
  const update: Record<string, number | null> = {};
  for (const name of SETTING_NAMES) {
    const flag = SETTING_FLAGS[name];
    const value = flags[flag];
    if (value === undefined) continue;
    const { min, max } = SETTING_LIMITS[name];
    const number = /^\d+$/.test(value) ? Number(value) : Number.NaN;
    if (!(number >= min && number <= max)) {
      throw new ApiUsageError(`--${flag} is '${value}'; expected a whole number from ${min} to ${max} (${name === 'ephemeralStorageMb' ? 'MiB' : 'seconds'})`);
    }
    update[SETTING_MEMBERS[name]] = number;
  }
  const byFlag = new Map(SETTING_NAMES.map((name) => [SETTING_FLAGS[name] as string, name]));
  for (const flag of (flags.default ?? []).flatMap((d) => d.split(',')).map((d) => d.trim())) {
    const name = byFlag.get(flag);
    if (name === undefined) throw new ApiUsageError(`--default '${flag}' names no setting; expected one of ${[...byFlag.keys()].join(', ')}`);
    if (typeof update[SETTING_MEMBERS[name]] === 'number') throw new ApiUsageError(`--${flag} and --default ${flag} contradict each other; give one`);
    update[SETTING_MEMBERS[name]] = null;
  }
  return Object.keys(update).length === 0 ? undefined : update;
}

/** The newest `limit` events, newest first, over as many pages as that takes. */
async function newestEvents(client: ApiClient, serviceArn: string, limit: number): Promise<Json[]> {
  const events: Json[] = [];
  let token: string | undefined;
  do {
    const page = await callApi(client, 'Berth.ListServiceEvents', { ServiceArn: serviceArn, MaxResults: Math.min(100, limit - events.length), ...(token !== undefined && { NextToken: token }) });
    events.push(...((page.Events as Json[] | undefined) ?? []));
    token = typeof page.NextToken === 'string' ? page.NextToken : undefined;
  } while (token !== undefined && events.length < limit);
  return events;
}

function formatEvent(event: Json): string {
  const at = new Date(Number(event.At) * 1000).toISOString();
  return `${at}  ${String(event.Type).padEnd(20)}  ${String(event.Message).replaceAll('\n', '\n    ')}`;
}

/**
 * `berth status`: one short block.
 *
 *     service     web (RUNNING)
 *     instances   desired 3
 *     revision    4f0c…  current 3, ready 2
 *     last scaled 2025-06-01T10:00:00.000Z  from 1 to 3 (LOAD): stable concurrency 2.1, panic 19.5, 1 ready, target 7 per instance, panicking yes
 */
function formatStatus(service: Json): string {
  const scaling = (service.Scaling as Json | undefined) ?? {};
  const lines = [`service     ${String(service.ServiceName)} (${String(service.Status)})`];
  if (scaling.DesiredInstances !== undefined) lines.push(`instances   desired ${String(scaling.DesiredInstances)}`);
  const revisions = (scaling.Revisions as Json[] | undefined) ?? [];
  if (scaling.Revisions !== undefined && revisions.length === 0) lines.push('revision    none running');
  for (const r of revisions) lines.push(`revision    ${String(r.RevisionId)}  current ${String(r.CurrentInstances)}, ready ${String(r.ReadyInstances)}`);
  const last = scaling.LastDecision as Json | undefined;
  if (last !== undefined) {
    const at = new Date(Number(last.At) * 1000).toISOString();
    const inputs = last.Reason === 'LOAD'
      ? `: stable concurrency ${String(last.StableConcurrency)}, panic ${String(last.PanicConcurrency)}, ${String(last.ReadyInstances)} ready, target ${String(last.TargetPerInstance)} per instance, panicking ${last.Panicking === true ? 'yes' : 'no'}`
      : '';
    lines.push(`last scaled ${at}  from ${String(last.From)} to ${String(last.To)} (${String(last.Reason)})${inputs}`);
  }
  return `${lines.join('\n')}\n`;
}

function formatSettings(settings: Json): string {
  return SETTING_NAMES.map((name) => `${SETTING_FLAGS[name].padEnd(18)} ${String(settings[SETTING_MEMBERS[name]])} ${name === 'ephemeralStorageMb' ? 'MiB' : 's'}\n`).join('');
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

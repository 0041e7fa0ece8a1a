/**
 * @module
 * VPC connectors (app-runner-api.md §2.6, §3.14) and VPC ingress connections (§2.7, §3.15) as
 * Berth stores them: their records, the checks on the AWS resource ids they carry, the rules
 * of the ingress connection lifecycle, and their output shapes.
 *
 * For now these are records with their lifecycles and nothing more: Berth checks that subnet,
 * security group, VPC and endpoint ids have AWS's form, but no VPC exists behind them yet, so a
 * connector changes nothing about a service's egress and an ingress connection opens no private
 * endpoint. What they mean on Berth's own networks comes later. For the same reason App
 * Runner's rule that a connector's subnets belong to one VPC cannot be checked.
 */
import { invalidRequest, invalidState, notFound, showValue } from './errors.ts';
import type { ArnContext } from './ids.ts';
import { validationMessage } from './model/shape.ts';
import { parseResourceArn, type ResourceRecord } from './resources.ts';
import type { ServiceRecord, Tag } from './service.ts';
import type { Store } from './store.ts';
import { epochSeconds } from './time.ts';

export interface VpcConnectorData {
  arn: string;
  subnets: string[];
  securityGroups: string[];
  status: 'ACTIVE' | 'INACTIVE';
  deletedAt?: number;
}

export type VpcConnectorRecord = ResourceRecord<VpcConnectorData>;

export type VpcIngressConnectionStatus =
  | 'AVAILABLE'
  | 'PENDING_CREATION'
  | 'PENDING_UPDATE'
  | 'PENDING_DELETION'
  | 'FAILED_CREATION'
  | 'FAILED_UPDATE'
  | 'FAILED_DELETION'
  | 'DELETED';

export interface VpcIngressConnectionData {
  arn: string;
  /** The service it leads to. DeleteService looks for live connections by this member. */
  serviceArn: string;
  serviceId: string;
  status: VpcIngressConnectionStatus;
  accountId: string;
  domainName: string;
  vpcId: string;
  vpcEndpointId: string;
  updatedAt: number;
  deletedAt?: number;
}

export type VpcIngressConnectionRecord = ResourceRecord<VpcIngressConnectionData>;

/** App Runner's only connector revision: a name has exactly one (§2.6). */
export const VPC_CONNECTOR_REVISION = 1;

/**
 * AWS's resource id forms: a type prefix, a dash and 8 hex digits (ids made before 2018) or 17
 * (newer ones), always lower case.
 */
export const AWS_ID_KINDS = {
  subnet: { prefix: 'subnet', noun: 'subnet ID', example: 'subnet-0a1b2c3d4e5f67890' },
  securityGroup: { prefix: 'sg', noun: 'security group ID', example: 'sg-0a1b2c3d4e5f67890' },
  vpc: { prefix: 'vpc', noun: 'VPC ID', example: 'vpc-0a1b2c3d4e5f67890' },
  vpcEndpoint: { prefix: 'vpce', noun: 'VPC endpoint ID', example: 'vpce-0a1b2c3d4e5f67890' },
} as const;

export type AwsIdKind = keyof typeof AWS_ID_KINDS;

/** Whether `value` is an AWS resource id of `kind`. */
export function isAwsId(kind: AwsIdKind, value: string): boolean {
  return new RegExp(`^${AWS_ID_KINDS[kind].prefix}-([0-9a-f]{8}|[0-9a-f]{17})$`).test(value);
}

/** The message for an id of the wrong form at `path`, in the validator's style. */
export function awsIdError(kind: AwsIdKind, value: string, path: string): string {
  const { prefix, noun, example } = AWS_ID_KINDS[kind];
  return `Value ${showValue(value)} at '${path}' failed to satisfy constraint: Member must be a ${noun}: '${prefix}-' followed by 8 or 17 lowercase hexadecimal digits, e.g. ${example}`;
}

/**
 * The messages for a list of ids (`path` is the list's member path, e.g. `subnets`): each must
 * have the form of `kind`, and none may repeat, since a repeated id would be the same resource.
 */
export function awsIdListErrors(kind: AwsIdKind, values: readonly string[], path: string): string[] {
  const errors: string[] = [];
  const firstAt = new Map<string, number>();
  values.forEach((value, i) => {
    const at = `${path}.${i + 1}.member`;
    if (!isAwsId(kind, value)) {
      errors.push(awsIdError(kind, value, at));
      return;
    }
    const first = firstAt.get(value);
    if (first === undefined) firstAt.set(value, i + 1);
    else errors.push(`Value ${showValue(value)} at '${at}' repeats '${path}.${first}.member'; list each ${AWS_ID_KINDS[kind].noun} once`);
  });
  return errors;
}

/**
 * The tags a Create request gives (already of the right shape), upserted by key as TagResource
 * does; a null list or a null Value counts as absent.
 */
export function tagsOf(given: unknown): Tag[] {
  const byKey = new Map<string, Tag>();
  for (const { Key, Value } of (given as { Key: string; Value?: string | null }[] | null | undefined) ?? []) {
    byKey.set(Key, Value === null || Value === undefined ? { Key } : { Key, Value });
  }
  return [...byKey.values()];
}

/** Throws InvalidRequestException listing every message, as shape validation does. */
export function assertNoErrors(errors: readonly string[]): void {
  if (errors.length > 0) throw invalidRequest(validationMessage(errors));
}

/**
 * The messages for an `IngressVpcConfiguration` (already of the right shape): the model makes
 * both members optional, but a connection needs both, so they are required here.
 */
export function ingressVpcConfigurationErrors(config: { VpcId?: unknown; VpcEndpointId?: unknown }, path = 'ingressVpcConfiguration'): string[] {
  const errors: string[] = [];
  const check = (member: 'VpcId' | 'VpcEndpointId', kind: AwsIdKind): void => {
    const at = `${path}.${member === 'VpcId' ? 'vpcId' : 'vpcEndpointId'}`;
    const value = config[member];
    if (value === undefined || value === null) errors.push(`Value null at '${at}' failed to satisfy constraint: Member must not be null`);
    else if (typeof value === 'string' && !isAwsId(kind, value)) errors.push(awsIdError(kind, value, at));
  };
  check('VpcId', 'vpc');
  check('VpcEndpointId', 'vpcEndpoint');
  return errors;
}

const CONNECTOR_FORM = 'a full VPC connector ARN: arn:aws:apprunner:<region>:<account>:vpcconnector/<name>/<revision>/<id>';
const INGRESS_FORM = 'a full VPC ingress connection ARN: arn:aws:apprunner:<region>:<account>:vpcingressconnection/<name>/<id>';
const NAME = /^[A-Za-z0-9][A-Za-z0-9\-_]{3,39}$/;
const HEX_ID = /^[0-9a-f]{32}$/;

/**
 * The connector a full ARN names, live or not. A partial ARN (`.../<name>` or
 * `.../<name>/<revision>`) is refused: unlike configurations, connectors take only full ARNs.
 */
export function findVpcConnector(store: Store, ctx: ArnContext, arn: string, path = 'vpcConnectorArn'): VpcConnectorRecord {
  const parts = parseResourceArn(ctx, arn, 'vpcconnector', path, CONNECTOR_FORM);
  const [name = '', revision = '', id = ''] = parts;
  if (parts.length < 3) {
    throw invalidRequest(`Value ${showValue(arn)} at '${path}' is a partial ARN; VPC connectors take ${CONNECTOR_FORM} (as CreateVpcConnector and ListVpcConnectors return it)`);
  }
  if (parts.length > 3 || !NAME.test(name) || !/^[1-9][0-9]{0,8}$/.test(revision) || !HEX_ID.test(id)) {
    throw invalidRequest(`Value ${showValue(arn)} at '${path}' is not ${CONNECTOR_FORM}`);
  }
  const found = store.getResource('vpcconnector', arn) as VpcConnectorRecord | undefined;
  if (found === undefined) throw notFound(`No VPC connector with ARN ${showValue(arn)} exists in account ${ctx.accountId}, region ${ctx.region}`);
  return found;
}

/** The ingress connection a full ARN names, live or DELETED. */
export function findVpcIngressConnection(store: Store, ctx: ArnContext, arn: string, path = 'vpcIngressConnectionArn'): VpcIngressConnectionRecord {
  const parts = parseResourceArn(ctx, arn, 'vpcingressconnection', path, INGRESS_FORM);
  const [name = '', id = ''] = parts;
  if (parts.length < 2) {
    throw invalidRequest(`Value ${showValue(arn)} at '${path}' is a partial ARN; VPC ingress connections take ${INGRESS_FORM}`);
  }
  if (parts.length > 2 || !NAME.test(name) || !HEX_ID.test(id)) throw invalidRequest(`Value ${showValue(arn)} at '${path}' is not ${INGRESS_FORM}`);
  const found = store.getResource('vpcingressconnection', arn) as VpcIngressConnectionRecord | undefined;
  if (found === undefined) {
    throw notFound(`No VPC ingress connection with ARN ${showValue(arn)} exists in account ${ctx.accountId}, region ${ctx.region}`);
  }
  return found;
}

/** Every connector, live or not, oldest first. */
export function allVpcConnectors(store: Store): VpcConnectorRecord[] {
  return store.listResources('vpcconnector') as VpcConnectorRecord[];
}

/** Every ingress connection, DELETED ones too, oldest first. */
export function allVpcIngressConnections(store: Store): VpcIngressConnectionRecord[] {
  return store.listResources('vpcingressconnection') as VpcIngressConnectionRecord[];
}

/** The live services whose egress goes through the connector. */
export function servicesUsingVpcConnector(store: Store, arn: string): ServiceRecord[] {
  return store.listLiveServices().filter((s) => s.config.NetworkConfiguration.EgressConfiguration.VpcConnectorArn === arn);
}

/**
 * The private DNS name a service is reached at through an ingress connection: the first label
 * of its public host under `private.<domain>`, so `web-1a2b3c4d.berth.example` is privately
 * `web-1a2b3c4d.private.berth.example`. One name per service, whichever connection leads there.
 */
export function privateDomainName(service: ServiceRecord, domain: string): string {
  const label = service.urlHost.split('.')[0] ?? service.urlHost;
  return `${label}.private.${domain}`;
}

export type VpcIngressAction = 'UpdateVpcIngressConnection' | 'DeleteVpcIngressConnection';

const INGRESS_ALLOWED_IN: Readonly<Record<VpcIngressAction, readonly VpcIngressConnectionStatus[]>> = {
  UpdateVpcIngressConnection: ['AVAILABLE', 'FAILED_CREATION', 'FAILED_UPDATE'],
  DeleteVpcIngressConnection: ['AVAILABLE', 'FAILED_CREATION', 'FAILED_UPDATE', 'FAILED_DELETION'],
};

/** Throws InvalidStateException unless the connection's status allows `action` (§2.7). */
export function assertVpcIngressAllows(record: VpcIngressConnectionRecord, action: VpcIngressAction): void {
  const allowed = INGRESS_ALLOWED_IN[action];
  const { status } = record.data;
  if (allowed.includes(status)) return;
  const hint = status.startsWith('PENDING_')
    ? 'a change is in progress; retry once it has finished (DescribeVpcIngressConnection shows its status)'
    : `it is allowed only when the connection is ${allowed.join(', ')}`;
  throw invalidState(`Cannot ${action} on VPC ingress connection ${showValue(record.name)} while its status is ${status}: ${hint}`);
}

/**
 * Where a connection in a PENDING_* state goes next; undefined for settled states. Creating
 * and updating fail when the service the connection leads to is gone.
 */
export function settledIngressStatus(status: VpcIngressConnectionStatus, serviceLive: boolean): VpcIngressConnectionStatus | undefined {
  switch (status) {
    case 'PENDING_CREATION':
      return serviceLive ? 'AVAILABLE' : 'FAILED_CREATION';
    case 'PENDING_UPDATE':
      return serviceLive ? 'AVAILABLE' : 'FAILED_UPDATE';
    case 'PENDING_DELETION':
      return 'DELETED';
    default:
      return undefined;
  }
}

/** `VpcConnector` (§3.14). */
export function vpcConnectorOutput(record: VpcConnectorRecord): Record<string, unknown> {
  const d = record.data;
  return {
    VpcConnectorName: record.name,
    VpcConnectorArn: d.arn,
    VpcConnectorRevision: VPC_CONNECTOR_REVISION,
    Subnets: d.subnets,
    SecurityGroups: d.securityGroups,
    Status: d.status,
    CreatedAt: epochSeconds(record.createdAt),
    ...(d.deletedAt !== undefined && { DeletedAt: epochSeconds(d.deletedAt) }),
  };
}

/** `VpcIngressConnection` (§3.15). */
export function vpcIngressConnectionOutput(record: VpcIngressConnectionRecord): Record<string, unknown> {
  const d = record.data;
  return {
    VpcIngressConnectionArn: d.arn,
    VpcIngressConnectionName: record.name,
    ServiceArn: d.serviceArn,
    Status: d.status,
    AccountId: d.accountId,
    DomainName: d.domainName,
    IngressVpcConfiguration: { VpcId: d.vpcId, VpcEndpointId: d.vpcEndpointId },
    CreatedAt: epochSeconds(record.createdAt),
    ...(d.deletedAt !== undefined && { DeletedAt: epochSeconds(d.deletedAt) }),
  };
}

/** `VpcIngressConnectionSummary` (§3.15). */
export function vpcIngressConnectionSummary(record: VpcIngressConnectionRecord): Record<string, unknown> {
  return { VpcIngressConnectionArn: record.data.arn, ServiceArn: record.data.serviceArn };
}

/**
 * @module
 * The App Runner resources other than services (auto scaling and observability configurations,
 * connections, VPC connectors and ingress connections, custom domains), as the store keeps
 * them: one generic record per resource, its kind-specific data as JSON. Their counts are
 * tiny (App Runner's quotas are 10 or fewer per kind), so listings filter in memory.
 */
import { invalidRequest, notFound, showValue } from './errors.ts';
import { parseArn, type ArnContext } from './ids.ts';

export type ResourceKind =
  | 'autoscalingconfiguration'
  | 'observabilityconfiguration'
  | 'connection'
  | 'vpcconnector'
  | 'vpcingressconnection'
  | 'customdomain';

export interface ResourceRecord<T = unknown> {
  kind: ResourceKind;
  /** Unique within the kind: the resource's full ARN, or for custom domains `<service arn>#<domain>`. */
  key: string;
  /** The resource's name (shared by all revisions of a configuration). */
  name: string;
  /** False once deleted (INACTIVE, DELETED): kept to be described, not counted or listed. */
  live: boolean;
  createdAt: number;
  data: T;
}

/** `arn:aws:apprunner:<region>:<account>:<kind>/<parts...>`. */
export function resourceArn(ctx: ArnContext, kind: ResourceKind | 'service', ...parts: (string | number)[]): string {
  return `arn:aws:apprunner:${ctx.region}:${ctx.accountId}:${kind}/${parts.join('/')}`;
}

/**
 * Parses an ARN naming a resource of `kind` in this account and region; the member path is for
 * messages. A malformed ARN or one of another kind is InvalidRequestException; one of another
 * account or region can name nothing here, so ResourceNotFoundException.
 */
export function parseResourceArn(ctx: ArnContext, arn: string, kind: ResourceKind | 'service', path: string, form: string): string[] {
  const parsed = parseArn(arn);
  if (parsed === undefined || parsed.service !== 'apprunner' || parsed.resourceType !== kind || parsed.resourceParts.some((p) => p === '')) {
    throw invalidRequest(`Value ${showValue(arn)} at '${path}' is not ${form}`);
  }
  if (parsed.region !== ctx.region || parsed.accountId !== ctx.accountId) {
    throw notFound(`No ${kind} with ARN ${showValue(arn)} exists in account ${ctx.accountId}, region ${ctx.region}`);
  }
  return parsed.resourceParts;
}

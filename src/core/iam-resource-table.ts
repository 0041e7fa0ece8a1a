/**
 * @module
 * What each operation is authorized as: its action (`apprunner:<Operation>` or
 * `berth:<Operation>`) and the ARN of the resource it acts on, named the way IAM authorizes App
 * Runner ("Actions, resources, and condition keys for AWS App Runner"): the ARN the request
 * gives, a pattern for what a Create* will make, `*` for listings. Pure: the request's input
 * is read as sent, before validation, so a malformed member (a number where an ARN belongs)
 * names a `*` pattern instead of crashing, and validation refuses it afterwards.
 */
import type { ArnContext } from './ids.ts';
import { userArn } from './iam.ts';

export interface ResourceContext {
  arn: ArnContext;
  /** The caller's ARN: IAM operations without a UserName act on the caller. */
  callerArn: string;
}

export interface ActionRule {
  /** The resource a request acts on. */
  resource: (input: Readonly<Record<string, unknown>>, ctx: ResourceContext) => string;
  /**
   * Allowed to every signed-in caller whatever the policies say, as AWS does for
   * sts:GetCallerIdentity: asking who you are can never be denied.
   */
  alwaysAllowed?: boolean;
}

export interface AuthorizationRequest {
  action: string;
  resource: string;
  alwaysAllowed: boolean;
}

/** `arn:aws:apprunner:<region>:<account>:<kind>/<rest>`. */
const appRunnerArn = (ctx: ResourceContext, kind: string, rest: string): string => `arn:aws:apprunner:${ctx.arn.region}:${ctx.arn.accountId}:${kind}/${rest}`;

/**
 * The ARN a member gives, as given; when it is missing or not a string, every resource of the
 * kind (every App Runner resource for the tag operations, which take any kind).
 */
const givenArn = (member: string, kind: string | undefined): ActionRule => ({
  resource: (input, ctx) => {
    const given = input[member];
    if (typeof given === 'string') return given;
    return kind === undefined ? `arn:aws:apprunner:${ctx.arn.region}:${ctx.arn.accountId}:*` : appRunnerArn(ctx, kind, '*');
  },
});

/** What a Create* will make: `<kind>/<name>/*` (its revision and id are not known yet). */
const toBeCreated = (nameMember: string, kind: string): ActionRule => ({
  resource: (input, ctx) => {
    const name = input[nameMember];
    return appRunnerArn(ctx, kind, `${typeof name === 'string' ? name : '*'}/*`);
  },
});

const anyResource: ActionRule = { resource: () => '*' };

/** The user an IAM operation names; `caller` when the member is optional and absent. */
const namedUser = (absent: 'caller' | 'any'): ActionRule => ({
  resource: (input, ctx) => {
    const name = input.UserName;
    if (typeof name === 'string') return userArn(ctx.arn, name);
    // JSON null counts as absent, as everywhere in the API.
    return absent === 'caller' && (name === undefined || name === null) ? ctx.callerArn : userArn(ctx.arn, '*');
  },
});

const SERVICE = givenArn('ServiceArn', 'service');
const ASC = givenArn('AutoScalingConfigurationArn', 'autoscalingconfiguration');
const OBSERVABILITY = givenArn('ObservabilityConfigurationArn', 'observabilityconfiguration');
const INGRESS = givenArn('VpcIngressConnectionArn', 'vpcingressconnection');
const TAGGED = givenArn('ResourceArn', undefined);

/** Every operation's rule, by action. */
export const ACTION_RULES: Readonly<Record<string, ActionRule>> = {
  // App Runner: services (app-runner-api.md §2.1).
  'apprunner:CreateService': toBeCreated('ServiceName', 'service'),
  'apprunner:UpdateService': SERVICE,
  'apprunner:DeleteService': SERVICE,
  'apprunner:DescribeService': SERVICE,
  'apprunner:ListServices': anyResource,
  'apprunner:PauseService': SERVICE,
  'apprunner:ResumeService': SERVICE,
  'apprunner:StartDeployment': SERVICE,
  'apprunner:ListOperations': SERVICE,
  // Auto scaling configurations (§2.2): partial ARNs are authorized as given.
  'apprunner:CreateAutoScalingConfiguration': toBeCreated('AutoScalingConfigurationName', 'autoscalingconfiguration'),
  'apprunner:DescribeAutoScalingConfiguration': ASC,
  'apprunner:DeleteAutoScalingConfiguration': ASC,
  'apprunner:ListAutoScalingConfigurations': anyResource,
  'apprunner:ListServicesForAutoScalingConfiguration': ASC,
  'apprunner:UpdateDefaultAutoScalingConfiguration': ASC,
  // Connections (§2.3).
  'apprunner:CreateConnection': toBeCreated('ConnectionName', 'connection'),
  'apprunner:DeleteConnection': givenArn('ConnectionArn', 'connection'),
  'apprunner:ListConnections': anyResource,
  // Observability configurations (§2.4).
  'apprunner:CreateObservabilityConfiguration': toBeCreated('ObservabilityConfigurationName', 'observabilityconfiguration'),
  'apprunner:DescribeObservabilityConfiguration': OBSERVABILITY,
  'apprunner:DeleteObservabilityConfiguration': OBSERVABILITY,
  'apprunner:ListObservabilityConfigurations': anyResource,
  // Custom domains (§2.5): a domain is part of its service.
  'apprunner:AssociateCustomDomain': SERVICE,
  'apprunner:DescribeCustomDomains': SERVICE,
  'apprunner:DisassociateCustomDomain': SERVICE,
  // VPC connectors (§2.6).
  'apprunner:CreateVpcConnector': toBeCreated('VpcConnectorName', 'vpcconnector'),
  'apprunner:DescribeVpcConnector': givenArn('VpcConnectorArn', 'vpcconnector'),
  'apprunner:DeleteVpcConnector': givenArn('VpcConnectorArn', 'vpcconnector'),
  'apprunner:ListVpcConnectors': anyResource,
  // VPC ingress connections (§2.7): what is created is the connection, not the service it fronts.
  'apprunner:CreateVpcIngressConnection': toBeCreated('VpcIngressConnectionName', 'vpcingressconnection'),
  'apprunner:DescribeVpcIngressConnection': INGRESS,
  'apprunner:UpdateVpcIngressConnection': INGRESS,
  'apprunner:DeleteVpcIngressConnection': INGRESS,
  'apprunner:ListVpcIngressConnections': anyResource,
  // Tags (§2.8): the tagged resource.
  'apprunner:TagResource': TAGGED,
  'apprunner:UntagResource': TAGGED,
  'apprunner:ListTagsForResource': TAGGED,

  // Berth's access control: the user acted on.
  'berth:CreateUser': namedUser('any'),
  'berth:GetUser': namedUser('caller'),
  'berth:ListUsers': anyResource,
  'berth:DeleteUser': namedUser('any'),
  'berth:CreateAccessKey': namedUser('caller'),
  'berth:ListAccessKeys': namedUser('caller'),
  'berth:UpdateAccessKey': namedUser('caller'),
  'berth:DeleteAccessKey': namedUser('caller'),
  'berth:PutUserPolicy': namedUser('any'),
  'berth:GetUserPolicy': namedUser('any'),
  'berth:ListUserPolicies': namedUser('any'),
  'berth:DeleteUserPolicy': namedUser('any'),
  'berth:GetSessionToken': anyResource,
  'berth:GetCallerIdentity': { resource: () => '*', alwaysAllowed: true },

  // Berth's extensions of App Runner: the resource they act on, as its App Runner operations.
  'berth:CompleteConnectionHandshake': givenArn('ConnectionArn', 'connection'),
  // The webhook secret lets its holder trigger deployments: allowed per connection, like the credential.
  'berth:GetConnectionWebhook': givenArn('ConnectionArn', 'connection'),
  'berth:RotateConnectionWebhookSecret': givenArn('ConnectionArn', 'connection'),
  'berth:DescribeOperation': SERVICE,
  'berth:UpdateServiceSettings': SERVICE,
  'berth:DescribeServiceSettings': SERVICE,
  'berth:ListServiceEvents': SERVICE,
};

/** `AppRunner.DescribeService` → `apprunner:DescribeService`, `Berth.CreateUser` → `berth:CreateUser`. */
export function actionOf(target: string): string {
  const dot = target.indexOf('.');
  return `${target.slice(0, dot).toLowerCase()}:${target.slice(dot + 1)}`;
}

/**
 * The action and resource a request is authorized as. An operation the table does not list
 * (an extension added later) acts on `*`: only a policy allowing it on every resource lets it
 * through, never a narrower one by accident.
 */
export function authorizationRequest(target: string, input: Readonly<Record<string, unknown>>, ctx: ResourceContext): AuthorizationRequest {
  const action = actionOf(target);
  const rule = Object.hasOwn(ACTION_RULES, action) ? ACTION_RULES[action] : undefined;
  return { action, resource: rule === undefined ? '*' : rule.resource(input, ctx), alwaysAllowed: rule?.alwaysAllowed === true };
}

// The policy language (validation and evaluation) and the table of what each operation is
// authorized as: pure core code, tested directly.
import assert from 'node:assert/strict';
import { CONNECTION_EXTENSION_SHAPES } from '../../src/core/connection.ts';
import { OPERATION_EXTENSION_SHAPES } from '../../src/core/operation.ts';
import { describe, it } from 'node:test';
import { BerthError } from '../../src/core/errors.ts';
import { ACTION_RULES, actionOf, authorizationRequest, type ResourceContext } from '../../src/core/iam-resource-table.ts';
import { APP_RUNNER_OPERATIONS, INPUT_SHAPES } from '../../src/core/model/app-runner-shapes.ts';
import { IAM_OPERATIONS } from '../../src/core/model/iam-shapes.ts';
import {
  actionMatch,
  checkPolicyDocument,
  evaluatePolicies,
  MAX_POLICY_CHARACTERS,
  parsePolicyDocument,
  resourceMatch,
  wildcardMatch,
  type PolicyDocument,
} from '../../src/core/policy.ts';

const ACCOUNT = '000000000000';
const SVC_A = `arn:aws:apprunner:us-east-1:${ACCOUNT}:service/alpha/0123456789abcdef0123456789abcdef`;
const SVC_B = `arn:aws:apprunner:us-east-1:${ACCOUNT}:service/beta/fedcba9876543210fedcba9876543210`;

/** A document from statements, through the real validator. */
function policy(...statements: Record<string, unknown>[]): PolicyDocument {
  return parsePolicyDocument(JSON.stringify({ Version: '2012-10-17', Statement: statements }));
}

/** The problems the validator reports for a document (an object is serialised first). */
function problems(document: unknown): string[] {
  return checkPolicyDocument(typeof document === 'string' ? document : JSON.stringify(document)).problems;
}

const doc = (statement: Record<string, unknown>): Record<string, unknown> => ({ Version: '2012-10-17', Statement: statement });
const ALLOW_ALL = { Effect: 'Allow', Action: '*', Resource: '*' };

describe('wildcard matching', () => {
  it('* matches any run of characters, also none and also across / and :', () => {
    assert.ok(wildcardMatch('*', '', false));
    assert.ok(wildcardMatch('a*', 'a', false));
    assert.ok(wildcardMatch('a*c', 'abbbc', false));
    assert.ok(wildcardMatch('service/*', 'service/a/b', false));
    assert.ok(wildcardMatch('*:*', 'x:y:z', false));
    assert.ok(!wildcardMatch('a*c', 'abcd', false));
    assert.ok(!wildcardMatch('a*b*c', 'acb', false));
  });

  it('? matches exactly one character', () => {
    assert.ok(wildcardMatch('svc-?', 'svc-1', false));
    assert.ok(!wildcardMatch('svc-?', 'svc-', false));
    assert.ok(!wildcardMatch('svc-?', 'svc-12', false));
    assert.ok(wildcardMatch('??', 'ab', false));
    assert.ok(wildcardMatch('a?*', 'ab', false));
    assert.ok(!wildcardMatch('a?*', 'a', false));
  });

  it('without wildcards, the whole text must be equal', () => {
    assert.ok(wildcardMatch('abc', 'abc', false));
    assert.ok(!wildcardMatch('abc', 'abcd', false));
    assert.ok(!wildcardMatch('abc', 'ab', false));
    assert.ok(!wildcardMatch('abc', 'ABC', false));
    assert.ok(wildcardMatch('abc', 'ABC', true));
  });

  it('stays fast on patterns that make regular expressions backtrack', () => {
    const started = performance.now();
    assert.ok(!wildcardMatch(`${'*a'.repeat(500)}b`, 'a'.repeat(2000), false));
    assert.ok(performance.now() - started < 2000);
  });

  it('actions ignore case; resources do not', () => {
    assert.ok(actionMatch('AppRunner:describeservice', 'apprunner:DescribeService'));
    assert.ok(actionMatch('apprunner:describe*', 'apprunner:DescribeService'));
    assert.ok(!resourceMatch(SVC_A.toUpperCase().replace('ARN:AWS:APPRUNNER', 'arn:aws:apprunner'), SVC_A));
    assert.ok(!resourceMatch('arn:aws:apprunner:us-east-1:000000000000:service/Alpha/*', SVC_A));
    assert.ok(resourceMatch('arn:aws:apprunner:us-east-1:000000000000:service/alpha/*', SVC_A));
  });

  it('resources match segment by segment: a wildcard in one ARN segment does not reach into the next', () => {
    assert.ok(resourceMatch('arn:aws:apprunner:*:*:service/*', SVC_A));
    assert.ok(resourceMatch('arn:aws:apprunner:us-east-?:000000000000:*', SVC_A));
    // `us-*` would swallow ':000000000000' if matched as one string.
    assert.ok(!resourceMatch('arn:aws:apprunner:us-*:service/*', SVC_A));
    assert.ok(resourceMatch('*', SVC_A));
    assert.ok(resourceMatch('*', '*'));
    assert.ok(!resourceMatch('arn:aws:apprunner:*:*:*', '*'), 'an ARN pattern never matches the "every resource" of a listing');
    assert.ok(!resourceMatch('arn:aws:apprunner:*:*:*', 'not-an-arn'));
  });
});

describe('policy evaluation', () => {
  it('denies by default: no policy, or no statement that applies', () => {
    assert.equal(evaluatePolicies([], 'apprunner:ListServices', '*'), 'implicit-deny');
    assert.equal(evaluatePolicies([policy({ Effect: 'Allow', Action: 'apprunner:DescribeService', Resource: '*' })], 'apprunner:ListServices', '*'), 'implicit-deny');
  });

  it('allows by action, exact or with wildcards', () => {
    const p = policy({ Effect: 'Allow', Action: ['apprunner:Describe*', 'apprunner:List?ervices'], Resource: '*' });
    assert.equal(evaluatePolicies([p], 'apprunner:DescribeService', SVC_A), 'allow');
    assert.equal(evaluatePolicies([p], 'apprunner:ListServices', '*'), 'allow');
    assert.equal(evaluatePolicies([p], 'apprunner:DeleteService', SVC_A), 'implicit-deny');
    assert.equal(evaluatePolicies([p], 'berth:DescribeService', SVC_A), 'implicit-deny');
  });

  it('allows by resource: a service ARN, or a name pattern', () => {
    const one = policy({ Effect: 'Allow', Action: 'apprunner:DescribeService', Resource: SVC_A });
    assert.equal(evaluatePolicies([one], 'apprunner:DescribeService', SVC_A), 'allow');
    assert.equal(evaluatePolicies([one], 'apprunner:DescribeService', SVC_B), 'implicit-deny');
    const named = policy({ Effect: 'Allow', Action: 'apprunner:*', Resource: 'arn:aws:apprunner:us-east-1:000000000000:service/alpha/*' });
    assert.equal(evaluatePolicies([named], 'apprunner:DeleteService', SVC_A), 'allow');
    assert.equal(evaluatePolicies([named], 'apprunner:CreateService', 'arn:aws:apprunner:us-east-1:000000000000:service/alpha/*'), 'allow');
    assert.equal(evaluatePolicies([named], 'apprunner:CreateService', 'arn:aws:apprunner:us-east-1:000000000000:service/alphabet/*'), 'implicit-deny');
  });

  it('an explicit Deny wins over any Allow, in the same policy or another', () => {
    const allow = policy(ALLOW_ALL);
    const deny = policy({ Effect: 'Deny', Action: 'apprunner:DeleteService', Resource: SVC_A });
    assert.equal(evaluatePolicies([allow, deny], 'apprunner:DeleteService', SVC_A), 'explicit-deny');
    assert.equal(evaluatePolicies([deny, allow], 'apprunner:DeleteService', SVC_A), 'explicit-deny');
    assert.equal(evaluatePolicies([policy(ALLOW_ALL, { Effect: 'Deny', Action: 'apprunner:Delete*', Resource: '*' })], 'apprunner:DeleteService', SVC_B), 'explicit-deny');
    assert.equal(evaluatePolicies([allow, deny], 'apprunner:DeleteService', SVC_B), 'allow');
    assert.equal(evaluatePolicies([allow, deny], 'apprunner:DescribeService', SVC_A), 'allow');
  });

  it('NotAction applies to every action but those listed', () => {
    const p = policy({ Effect: 'Allow', NotAction: ['berth:*', 'apprunner:Delete*'], Resource: '*' });
    assert.equal(evaluatePolicies([p], 'apprunner:DescribeService', SVC_A), 'allow');
    assert.equal(evaluatePolicies([p], 'apprunner:DeleteService', SVC_A), 'implicit-deny');
    assert.equal(evaluatePolicies([p], 'berth:CreateUser', '*'), 'implicit-deny');
    const denyAllBut = policy(ALLOW_ALL, { Effect: 'Deny', NotAction: 'apprunner:List*', Resource: '*' });
    assert.equal(evaluatePolicies([denyAllBut], 'apprunner:ListServices', '*'), 'allow');
    assert.equal(evaluatePolicies([denyAllBut], 'apprunner:DescribeService', SVC_A), 'explicit-deny');
  });

  it('NotResource applies to every resource but those listed', () => {
    const p = policy({ Effect: 'Allow', Action: 'apprunner:*', NotResource: SVC_B });
    assert.equal(evaluatePolicies([p], 'apprunner:DescribeService', SVC_A), 'allow');
    assert.equal(evaluatePolicies([p], 'apprunner:DescribeService', SVC_B), 'implicit-deny');
    const fence = policy(ALLOW_ALL, { Effect: 'Deny', Action: 'apprunner:*', NotResource: 'arn:aws:apprunner:*:*:service/alpha/*' });
    assert.equal(evaluatePolicies([fence], 'apprunner:DescribeService', SVC_A), 'allow');
    assert.equal(evaluatePolicies([fence], 'apprunner:DescribeService', SVC_B), 'explicit-deny');
    assert.equal(evaluatePolicies([fence], 'apprunner:ListServices', '*'), 'explicit-deny');
  });
});

describe('policy document validation', () => {
  it('accepts a single statement object or a list, both versions, strings or lists', () => {
    const single = parsePolicyDocument(JSON.stringify(doc(ALLOW_ALL)));
    assert.deepEqual(single, { version: '2012-10-17', statements: [{ effect: 'Allow', action: ['*'], resource: ['*'] }] });
    const old = parsePolicyDocument(JSON.stringify({ Version: '2008-10-17', Id: 'x', Statement: [{ Sid: 'One1', Effect: 'Deny', NotAction: ['berth:*'], NotResource: ['*'] }] }));
    assert.deepEqual(old.statements, [{ sid: 'One1', effect: 'Deny', notAction: ['berth:*'], notResource: ['*'] }]);
    assert.deepEqual(problems(doc({ Effect: 'Allow', Action: 'AppRunner:describeservice', Resource: 'arn:aws:apprunner:*:*:service/a?c/*' })), []);
    assert.deepEqual(problems(doc({ Effect: 'Allow', Action: 'berth:SomeFutureOperation', Resource: '*' })), []);
  });

  const malformed: [string, unknown, RegExp][] = [
    ['text that is not JSON', '{"Version": ', /not valid JSON/],
    ['a JSON list', '[]', /must be a JSON object with Version and Statement/],
    ['a JSON string', '"Allow"', /must be a JSON object/],
    ['no Version', { Statement: ALLOW_ALL }, /Version is missing; add "Version": "2012-10-17"/],
    ['an unknown Version', { Version: '2012-10-18', Statement: ALLOW_ALL }, /Version '2012-10-18' is not supported; use one of 2012-10-17, 2008-10-17/],
    ['a Version that is a number', { Version: 2012, Statement: ALLOW_ALL }, /Version '2012' is not supported/],
    ['an unknown top-level element', { Version: '2012-10-17', Statement: ALLOW_ALL, Statements: [] }, /unknown element 'Statements'; a policy has Version, Id, Statement/],
    ['an Id that is not a string', { Version: '2012-10-17', Id: 1, Statement: ALLOW_ALL }, /Id must be a string/],
    ['no Statement', { Version: '2012-10-17' }, /Statement is missing/],
    ['an empty Statement list', { Version: '2012-10-17', Statement: [] }, /Statement is an empty list/],
    ['a statement that is not an object', { Version: '2012-10-17', Statement: [ALLOW_ALL, 'Allow'] }, /Statement\[1\] must be an object with Effect, Action and Resource, not 'Allow'/],
    ['no Effect', doc({ Action: '*', Resource: '*' }), /Statement\.Effect is missing; it must be 'Allow' or 'Deny'/],
    ['Effect in lower case', doc({ Effect: 'allow', Action: '*', Resource: '*' }), /Statement\.Effect must be 'Allow' or 'Deny' \(case-sensitive\), not 'allow'/],
    ['both Action and NotAction', doc({ Effect: 'Allow', Action: '*', NotAction: 'berth:*', Resource: '*' }), /Statement has both Action and NotAction; keep exactly one/],
    ['neither Action nor NotAction', doc({ Effect: 'Allow', Resource: '*' }), /Statement has neither Action nor NotAction/],
    ['both Resource and NotResource', doc({ Effect: 'Allow', Action: '*', Resource: '*', NotResource: '*' }), /both Resource and NotResource/],
    ['neither Resource nor NotResource', doc({ Effect: 'Allow', Action: '*' }), /neither Resource nor NotResource/],
    ['an empty Action list', doc({ Effect: 'Allow', Action: [], Resource: '*' }), /Statement\.Action is an empty list/],
    ['an action that is not a string', doc({ Effect: 'Allow', Action: ['*', 7], Resource: '*' }), /Statement\.Action\[1\] must be a string, not '7'/],
    ['an action without a service prefix', doc({ Effect: 'Allow', Action: 'DescribeService', Resource: '*' }), /Statement\.Action 'DescribeService' is not an action; write '<service>:<Operation>'/],
    ['an action with spaces', doc({ Effect: 'Allow', Action: 'apprunner:Describe Service', Resource: '*' }), /is not an action/],
    ['an action of another service', doc({ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }), /names the service 's3'; Berth's actions are 'apprunner:<Operation>' and 'berth:<Operation>'/],
    ['an App Runner operation that does not exist', doc({ Effect: 'Allow', Action: 'apprunner:DescribeServce', Resource: '*' }), /'apprunner:DescribeServce' matches no App Runner operation/],
    ['an App Runner pattern that matches nothing', doc({ Effect: 'Allow', Action: 'apprunner:Launch*', Resource: '*' }), /matches no App Runner operation/],
    ['a resource that is not an ARN', doc({ Effect: 'Allow', Action: '*', Resource: 'service/alpha' }), /Statement\.Resource 'service\/alpha' must be an ARN .* or '\*'/],
    ['an ARN with too few segments', doc({ Effect: 'Allow', Action: '*', Resource: 'arn:aws:apprunner:us-east-1:000000000000' }), /must be an ARN/],
    ['a NotResource that is not a string', doc({ Effect: 'Allow', Action: '*', NotResource: [{}] }), /Statement\.NotResource\[0\] must be a string/],
    ['a Condition', doc({ ...ALLOW_ALL, Condition: { StringEquals: { 'aws:RequestedRegion': 'us-east-1' } } }), /Statement\.Condition is not supported by Berth; remove it/],
    ['a Principal', doc({ ...ALLOW_ALL, Principal: '*' }), /Statement\.Principal is not allowed: a user's policy always applies to that user/],
    ['a NotPrincipal', doc({ ...ALLOW_ALL, NotPrincipal: { AWS: '*' } }), /Statement\.NotPrincipal is not allowed/],
    ['an unknown statement element', doc({ ...ALLOW_ALL, Actions: '*' }), /Statement has an unknown element 'Actions'/],
    ['a Sid with punctuation', doc({ ...ALLOW_ALL, Sid: 'allow-all' }), /Statement\.Sid 'allow-all' must be a string of letters and digits only/],
    ['two statements with one Sid', { Version: '2012-10-17', Statement: [{ ...ALLOW_ALL, Sid: 'A' }, { ...ALLOW_ALL, Sid: 'A' }] }, /Statement\[1\]\.Sid 'A' is used by an earlier statement/],
    ['a document over the size limit', doc({ Effect: 'Allow', Action: '*', Resource: Array.from({ length: 200 }, (_, i) => `arn:aws:apprunner:us-east-1:000000000000:service/s${i}/*`) }), new RegExp(`characters other than whitespace; at most ${MAX_POLICY_CHARACTERS} are allowed`)],
  ];
  for (const [what, document, message] of malformed) {
    it(`refuses ${what}`, () => {
      const found = problems(document);
      assert.ok(found.length > 0, 'accepted');
      assert.match(found.join('; '), message);
      assert.throws(() => parsePolicyDocument(typeof document === 'string' ? document : JSON.stringify(document)), (error: unknown) => {
        assert.ok(error instanceof BerthError);
        assert.equal(error.code, 'InvalidRequestException');
        assert.match(error.message, /^The policy document is malformed: /);
        return true;
      });
    });
  }

  it('names every problem at once, each at its statement', () => {
    const found = problems({ Version: '2012-10-17', Statement: [ALLOW_ALL, { Effect: 'Permit', Action: 'x', Resource: '*' }, { ...ALLOW_ALL, Condition: {} }] });
    assert.equal(found.length, 3, found.join('\n'));
    assert.match(found[0] ?? '', /^Statement\[1\]\.Effect/);
    assert.match(found[1] ?? '', /^Statement\[1\]\.Action 'x'/);
    assert.match(found[2] ?? '', /^Statement\[2\]\.Condition/);
  });

  it('does not count whitespace towards the size limit', () => {
    const padded = JSON.stringify(doc(ALLOW_ALL)).replaceAll(',', `,${' \n\t'.repeat(1000)}`);
    assert.ok(padded.length > MAX_POLICY_CHARACTERS);
    assert.deepEqual(problems(padded), []);
  });
});

describe('what each operation is authorized as', () => {
  const ctx: ResourceContext = { arn: { region: 'us-east-1', accountId: ACCOUNT }, callerArn: `arn:aws:iam::${ACCOUNT}:user/carol` };
  const request = (target: string, input: Record<string, unknown> = {}) => authorizationRequest(target, input, ctx);

  it('has a rule for every App Runner operation and every Berth operation', () => {
    assert.equal(APP_RUNNER_OPERATIONS.length, 37);
    const berth = [...IAM_OPERATIONS, ...Object.keys(CONNECTION_EXTENSION_SHAPES), ...Object.keys(OPERATION_EXTENSION_SHAPES)];
    const missing = [...APP_RUNNER_OPERATIONS.map((op) => `apprunner:${op}`), ...berth.map((op) => `berth:${op}`)].filter((a) => !Object.hasOwn(ACTION_RULES, a));
    assert.deepEqual(missing, []);
  });

  it('maps targets to actions', () => {
    assert.equal(actionOf('AppRunner.DescribeService'), 'apprunner:DescribeService');
    assert.equal(actionOf('Berth.CreateUser'), 'berth:CreateUser');
  });

  it('names the service an operation acts on by the ARN given', () => {
    for (const op of ['UpdateService', 'DeleteService', 'DescribeService', 'PauseService', 'ResumeService', 'StartDeployment', 'ListOperations', 'AssociateCustomDomain', 'DescribeCustomDomains', 'DisassociateCustomDomain']) {
      assert.deepEqual(request(`AppRunner.${op}`, { ServiceArn: SVC_A, DomainName: 'a.example.com' }), { action: `apprunner:${op}`, resource: SVC_A, alwaysAllowed: false }, op);
    }
  });

  it('authorizes the connection handshake extension on the connection it completes', () => {
    const connection = `arn:aws:apprunner:us-east-1:${ACCOUNT}:connection/gh/0123`;
    assert.deepEqual(request('Berth.CompleteConnectionHandshake', { ConnectionArn: connection }), { action: 'berth:CompleteConnectionHandshake', resource: connection, alwaysAllowed: false });
  });

  it('names other resources by the ARN given, partial ARNs included', () => {
    const asc = `arn:aws:apprunner:us-east-1:${ACCOUNT}:autoscalingconfiguration/high`;
    for (const op of ['DescribeAutoScalingConfiguration', 'DeleteAutoScalingConfiguration', 'ListServicesForAutoScalingConfiguration', 'UpdateDefaultAutoScalingConfiguration']) {
      assert.equal(request(`AppRunner.${op}`, { AutoScalingConfigurationArn: asc }).resource, asc, op);
    }
    const cases: [string, string, string][] = [
      ['DeleteConnection', 'ConnectionArn', 'connection/gh/0123'],
      ['DescribeObservabilityConfiguration', 'ObservabilityConfigurationArn', 'observabilityconfiguration/o/1/0123'],
      ['DeleteObservabilityConfiguration', 'ObservabilityConfigurationArn', 'observabilityconfiguration/o/1/0123'],
      ['DescribeVpcConnector', 'VpcConnectorArn', 'vpcconnector/v/1/0123'],
      ['DeleteVpcConnector', 'VpcConnectorArn', 'vpcconnector/v/1/0123'],
      ['DescribeVpcIngressConnection', 'VpcIngressConnectionArn', 'vpcingressconnection/i/0123'],
      ['UpdateVpcIngressConnection', 'VpcIngressConnectionArn', 'vpcingressconnection/i/0123'],
      ['DeleteVpcIngressConnection', 'VpcIngressConnectionArn', 'vpcingressconnection/i/0123'],
      ['TagResource', 'ResourceArn', 'connection/gh/0123'],
      ['UntagResource', 'ResourceArn', 'service/alpha/0123'],
      ['ListTagsForResource', 'ResourceArn', 'vpcconnector/v/1/0123'],
    ];
    for (const [op, member, resource] of cases) {
      const arn = `arn:aws:apprunner:us-east-1:${ACCOUNT}:${resource}`;
      assert.equal(request(`AppRunner.${op}`, { [member]: arn }).resource, arn, op);
    }
  });

  it('names what a Create* will make as <kind>/<name>/*', () => {
    const cases: [string, string, string][] = [
      ['CreateService', 'ServiceName', 'service'],
      ['CreateAutoScalingConfiguration', 'AutoScalingConfigurationName', 'autoscalingconfiguration'],
      ['CreateConnection', 'ConnectionName', 'connection'],
      ['CreateObservabilityConfiguration', 'ObservabilityConfigurationName', 'observabilityconfiguration'],
      ['CreateVpcConnector', 'VpcConnectorName', 'vpcconnector'],
      ['CreateVpcIngressConnection', 'VpcIngressConnectionName', 'vpcingressconnection'],
    ];
    for (const [op, member, kind] of cases) {
      assert.equal(request(`AppRunner.${op}`, { [member]: 'thing', ServiceArn: SVC_A }).resource, `arn:aws:apprunner:us-east-1:${ACCOUNT}:${kind}/thing/*`, op);
      assert.equal(request(`AppRunner.${op}`, {}).resource, `arn:aws:apprunner:us-east-1:${ACCOUNT}:${kind}/*/*`, `${op} without a name`);
    }
  });

  it('lists act on every resource', () => {
    for (const op of ['ListServices', 'ListAutoScalingConfigurations', 'ListConnections', 'ListObservabilityConfigurations', 'ListVpcConnectors', 'ListVpcIngressConnections']) {
      assert.equal(request(`AppRunner.${op}`, { MaxResults: 5 }).resource, '*', op);
    }
    assert.equal(request('Berth.ListUsers').resource, '*');
  });

  it('IAM operations act on the user named, or the caller where the name is optional', () => {
    const bob = `arn:aws:iam::${ACCOUNT}:user/bob`;
    for (const op of ['CreateUser', 'GetUser', 'DeleteUser', 'CreateAccessKey', 'ListAccessKeys', 'UpdateAccessKey', 'DeleteAccessKey', 'PutUserPolicy', 'GetUserPolicy', 'ListUserPolicies', 'DeleteUserPolicy']) {
      assert.deepEqual(request(`Berth.${op}`, { UserName: 'bob' }), { action: `berth:${op}`, resource: bob, alwaysAllowed: false }, op);
    }
    for (const op of ['GetUser', 'CreateAccessKey', 'ListAccessKeys', 'UpdateAccessKey', 'DeleteAccessKey']) {
      assert.equal(request(`Berth.${op}`).resource, ctx.callerArn, op);
    }
    for (const op of ['CreateUser', 'DeleteUser', 'PutUserPolicy', 'GetUserPolicy', 'ListUserPolicies', 'DeleteUserPolicy']) {
      assert.equal(request(`Berth.${op}`).resource, `arn:aws:iam::${ACCOUNT}:user/*`, `${op} without a name acts on no particular user`);
    }
    assert.deepEqual(request('Berth.GetSessionToken'), { action: 'berth:GetSessionToken', resource: '*', alwaysAllowed: false });
    assert.deepEqual(request('Berth.GetCallerIdentity'), { action: 'berth:GetCallerIdentity', resource: '*', alwaysAllowed: true });
  });

  it('an operation the table does not know acts on every resource', () => {
    assert.deepEqual(request('Berth.SomeExtension', { ConnectionArn: 'x' }), { action: 'berth:SomeExtension', resource: '*', alwaysAllowed: false });
  });

  it('malformed input (numbers, objects, null where an ARN or name belongs) names a * pattern, never throws', () => {
    const junk: unknown[] = [42, null, { a: 1 }, ['x'], true];
    for (const action of Object.keys(ACTION_RULES)) {
      const [prefix = '', op = ''] = action.split(':');
      const target = `${prefix === 'apprunner' ? 'AppRunner' : 'Berth'}.${op}`;
      const members = [...Object.keys((INPUT_SHAPES[op] as { members?: object } | undefined)?.members ?? {}), 'UserName', 'ServiceArn', 'ResourceArn'];
      for (const value of junk) {
        const input = Object.fromEntries(members.map((m) => [m, value]));
        const { resource } = request(target, input);
        assert.equal(typeof resource, 'string', action);
        // null is absent: where a UserName is optional, that means the caller.
        const absentMeansCaller = value === null && resource === ctx.callerArn;
        assert.ok(resource === '*' || resource.endsWith('*') || absentMeansCaller, `${action} with ${JSON.stringify(value)}: ${resource}`);
      }
    }
    assert.equal(request('AppRunner.DescribeService', { ServiceArn: 7 }).resource, `arn:aws:apprunner:us-east-1:${ACCOUNT}:service/*`);
    assert.equal(request('AppRunner.TagResource', { ResourceArn: null }).resource, `arn:aws:apprunner:us-east-1:${ACCOUNT}:*`);
    assert.equal(request('Berth.GetUser', { UserName: 5 }).resource, `arn:aws:iam::${ACCOUNT}:user/*`, 'a non-string name is not the caller');
    assert.equal(request('Berth.GetUser', { UserName: null }).resource, ctx.callerArn, 'JSON null counts as absent');
  });
});

/**
 * Access control through the real API (docs/access-control.md): users, keys and inline
 * policies made with Berth's own operations, then every refusal a request can meet on its
 * way in (signature, key status, security token, policy), checked with raw signed requests,
 * the official SDK, the `berth iam` CLI and the AWS CLI. The control plane's clock is the
 * test's, so sessions can expire without waiting; the tests share one control plane and each
 * names the users it makes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { AppRunnerClient, DescribeServiceCommand, ListServicesCommand } from '@aws-sdk/client-apprunner';
import { MIGRATIONS } from '../../src/adapters/sqlite/migrations.ts';
import { resolveConfig } from '../../src/core/config.ts';
import { ERRORS } from '../../src/core/errors.ts';
import { newAccessKey } from '../../src/core/ids.ts';
import { startControlPlane } from '../../src/main/control-plane.ts';
import { startApiHarness, target, type ApiHarness } from '../support/api-harness.ts';
import { readCredentials } from '../support/berth-process.ts';
import { FakeRuntime } from '../support/fake-runtime.ts';
import { signedFetch, type Endpoint } from '../support/signed-request.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const IMAGE = 'registry.example.com/access/app:1';

type Credentials = Endpoint['credentials'];

/** The control plane's clock: real time plus an offset the session-expiry tests move. */
const clock = { offsetMs: 0, now: (): number => Date.now() + clock.offsetMs };

let api: ApiHarness;
let admin: Credentials;
/** Services made by the administrator: ARNs by name. */
const services: Record<string, string> = {};

before(async () => {
  api = await startApiHarness({}, { clock });
  admin = api.endpoint.credentials;
  for (const name of ['acl-alpha', 'acl-beta']) {
    const { Service } = await api.call('CreateService', { ServiceName: name, SourceConfiguration: { ImageRepository: { ImageIdentifier: IMAGE, ImageRepositoryType: 'ECR' } } });
    services[name] = String((Service as { ServiceArn: string }).ServiceArn);
  }
  await api.settle();
});

after(async () => {
  await api?.close();
});

const userArn = (name: string): string => `arn:aws:iam::${ACCOUNT}:user/${name}`;
const policyOf = (...statements: Record<string, unknown>[]): string => JSON.stringify({ Version: '2012-10-17', Statement: statements });

interface Reply {
  status: number;
  json: Record<string, unknown>;
}

/** A raw signed call as `credentials`, signed at the control plane's time. */
async function callAs(credentials: Credentials, operation: string, input: unknown = {}, options: Parameters<typeof signedFetch>[3] = {}): Promise<Reply> {
  const reply = await signedFetch(api.endpoint, target(operation), JSON.stringify(input), { credentials, signingDate: new Date(clock.now()), ...options });
  return { status: reply.status, json: reply.json() };
}

async function ok(credentials: Credentials, operation: string, input: unknown = {}): Promise<Record<string, unknown>> {
  const reply = await callAs(credentials, operation, input);
  assert.equal(reply.status, 200, `${operation}: ${JSON.stringify(reply.json)}`);
  return reply.json;
}

/** Asserts a refusal: its type, the catalog's HTTP status for it, and its message. */
function assertRefused(reply: Reply, type: keyof typeof ERRORS, message: RegExp | string): void {
  assert.equal(reply.json.__type, type, JSON.stringify(reply.json));
  assert.equal(reply.status, ERRORS[type]);
  if (typeof message === 'string') assert.equal(reply.json.Message, message);
  else assert.match(String(reply.json.Message), message);
}

/** A user with the given inline policies (name → document) and one access key. */
async function userWithKey(name: string, policies: Record<string, string> = {}): Promise<Credentials> {
  await ok(admin, 'Berth.CreateUser', { UserName: name });
  for (const [policyName, document] of Object.entries(policies)) {
    await ok(admin, 'Berth.PutUserPolicy', { UserName: name, PolicyName: policyName, PolicyDocument: document });
  }
  const { AccessKey } = await ok(admin, 'Berth.CreateAccessKey', { UserName: name });
  const key = AccessKey as { AccessKeyId: string; SecretAccessKey: string };
  return { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey };
}

const sdkAs = (credentials: Credentials): AppRunnerClient =>
  new AppRunnerClient({ region: REGION, endpoint: api.cp.apiUrl, credentials, maxAttempts: 1, systemClockOffset: clock.offsetMs });

async function sdkRefused(send: Promise<unknown>, name: string, status: number, message: RegExp): Promise<void> {
  await assert.rejects(send, (error: Error & { $metadata?: { httpStatusCode?: number } }) => {
    assert.equal(error.name, name, error.message);
    assert.equal(error.$metadata?.httpStatusCode, status);
    assert.match(error.message, message);
    return true;
  });
}

describe('the administrator', () => {
  test('is an ordinary user, admin, whose inline policy allows everything; the credentials file holds its key', async () => {
    const identity = await ok(admin, 'Berth.GetCallerIdentity');
    assert.equal(identity.Arn, userArn('admin'));
    assert.equal(identity.Account, ACCOUNT);
    assert.match(String(identity.UserId), /^AIDA[A-Z2-7]{17}$/);
    assert.deepEqual((await ok(admin, 'Berth.ListUserPolicies', { UserName: 'admin' })).PolicyNames, ['AdministratorAccess']);
    const { PolicyDocument } = await ok(admin, 'Berth.GetUserPolicy', { UserName: 'admin', PolicyName: 'AdministratorAccess' });
    assert.deepEqual(JSON.parse(String(PolicyDocument)), { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] });
    const keys = (await ok(admin, 'Berth.ListAccessKeys', { UserName: 'admin' })).AccessKeyMetadata as { AccessKeyId: string; Status: string }[];
    assert.deepEqual(keys.map((k) => [k.AccessKeyId, k.Status]), [[readCredentials(api.home).accessKeyId, 'Active']]);
  });

  test('loses its powers like anyone else when its policy goes', async () => {
    const spare = await userWithKey('acl-spare-admin', { All: policyOf({ Effect: 'Allow', Action: '*', Resource: '*' }) });
    const original = (await ok(admin, 'Berth.GetUserPolicy', { UserName: 'admin', PolicyName: 'AdministratorAccess' })).PolicyDocument;
    await ok(spare, 'Berth.DeleteUserPolicy', { UserName: 'admin', PolicyName: 'AdministratorAccess' });
    try {
      assertRefused(await callAs(admin, 'ListServices'), 'AccessDeniedException', `User: ${userArn('admin')} is not authorized to perform: apprunner:ListServices on resource: *`);
    } finally {
      await ok(spare, 'Berth.PutUserPolicy', { UserName: 'admin', PolicyName: 'AdministratorAccess', PolicyDocument: original });
    }
    await ok(admin, 'ListServices');
  });
});

describe('policies', () => {
  test('a user without policies may do nothing, but may always ask who it is', async () => {
    const nobody = await userWithKey('acl-nobody');
    assertRefused(await callAs(nobody, 'ListServices'), 'AccessDeniedException', `User: ${userArn('acl-nobody')} is not authorized to perform: apprunner:ListServices on resource: *`);
    assertRefused(await callAs(nobody, 'Berth.ListUsers'), 'AccessDeniedException', /berth:ListUsers on resource: \*$/);
    assertRefused(await callAs(nobody, 'Berth.GetUser'), 'AccessDeniedException', new RegExp(`berth:GetUser on resource: ${userArn('acl-nobody')}$`));
    assert.equal((await ok(nobody, 'Berth.GetCallerIdentity')).Arn, userArn('acl-nobody'));
  });

  test('allow by action, with wildcards and in any case', async () => {
    const reader = await userWithKey('acl-reader', { Read: policyOf({ Effect: 'Allow', Action: ['apprunner:List*', 'APPRUNNER:describeservice'], Resource: '*' }) });
    await ok(reader, 'ListServices');
    await ok(reader, 'DescribeService', { ServiceArn: services['acl-alpha'] });
    assertRefused(await callAs(reader, 'PauseService', { ServiceArn: services['acl-alpha'] }), 'AccessDeniedException',
      `User: ${userArn('acl-reader')} is not authorized to perform: apprunner:PauseService on resource: ${services['acl-alpha']}`);
    assertRefused(await callAs(reader, 'CreateService', { ServiceName: 'acl-sneaky', SourceConfiguration: {} }), 'AccessDeniedException',
      new RegExp(`apprunner:CreateService on resource: arn:aws:apprunner:${REGION}:${ACCOUNT}:service/acl-sneaky/\\*$`));
  });

  test('allow by resource wildcard: a user may create and run only services named team-a-*', async () => {
    const teamA = await userWithKey('acl-team-a', {
      TeamA: policyOf({ Effect: 'Allow', Action: 'apprunner:*', Resource: `arn:aws:apprunner:${REGION}:${ACCOUNT}:service/team-a-*` }),
    });
    const source = { ImageRepository: { ImageIdentifier: IMAGE, ImageRepositoryType: 'ECR' } };
    const { Service } = await ok(teamA, 'CreateService', { ServiceName: 'team-a-web', SourceConfiguration: source });
    const arn = String((Service as { ServiceArn: string }).ServiceArn);
    await api.settle();
    assert.equal((await ok(teamA, 'DescribeService', { ServiceArn: arn }) as { Service: { ServiceName: string } }).Service.ServiceName, 'team-a-web');
    const before = api.dump();
    assertRefused(await callAs(teamA, 'CreateService', { ServiceName: 'team-b-web', SourceConfiguration: source }), 'AccessDeniedException', /service\/team-b-web\/\*$/);
    assertRefused(await callAs(teamA, 'DescribeService', { ServiceArn: services['acl-beta'] }), 'AccessDeniedException', /acl-beta/);
    assertRefused(await callAs(teamA, 'ListServices'), 'AccessDeniedException', /apprunner:ListServices on resource: \*$/);
    assert.equal(api.dump(), before, 'refused requests changed nothing');
    await ok(teamA, 'DeleteService', { ServiceArn: arn });
    await api.settle();
  });

  test('an explicit deny wins over an allow, and says so', async () => {
    const careful = await userWithKey('acl-careful', {
      All: policyOf({ Effect: 'Allow', Action: '*', Resource: '*' }),
      NoDelete: policyOf({ Effect: 'Deny', Action: ['apprunner:DeleteService', 'apprunner:PauseService'], Resource: services['acl-alpha'] }),
    });
    assertRefused(await callAs(careful, 'DeleteService', { ServiceArn: services['acl-alpha'] }), 'AccessDeniedException',
      `User: ${userArn('acl-careful')} is not authorized to perform: apprunner:DeleteService on resource: ${services['acl-alpha']} with an explicit deny`);
    await ok(careful, 'DescribeService', { ServiceArn: services['acl-alpha'] });
    await ok(careful, 'ListOperations', { ServiceArn: services['acl-beta'] });
  });

  test('a key scoped to one service describes it, through the official SDK, and nothing else', async () => {
    const scoped = sdkAs(await userWithKey('acl-scoped', { One: policyOf({ Effect: 'Allow', Action: 'apprunner:DescribeService', Resource: services['acl-alpha'] }) }));
    const { Service } = await scoped.send(new DescribeServiceCommand({ ServiceArn: services['acl-alpha'] }));
    assert.equal(Service?.ServiceName, 'acl-alpha');
    await sdkRefused(scoped.send(new DescribeServiceCommand({ ServiceArn: services['acl-beta'] })), 'AccessDeniedException', 403,
      new RegExp(`^User: ${userArn('acl-scoped')} is not authorized to perform: apprunner:DescribeService on resource: ${services['acl-beta']}$`));
    await sdkRefused(scoped.send(new ListServicesCommand({})), 'AccessDeniedException', 403, /apprunner:ListServices on resource: \*/);
    scoped.destroy();
  });

  test('malformed input is authorized against a * pattern, then refused by validation', async () => {
    const scoped = await userWithKey('acl-scoped-2', { One: policyOf({ Effect: 'Allow', Action: 'apprunner:DescribeService', Resource: services['acl-alpha'] }) });
    assertRefused(await callAs(scoped, 'DescribeService', { ServiceArn: 42 }), 'AccessDeniedException', new RegExp(`on resource: arn:aws:apprunner:${REGION}:${ACCOUNT}:service/\\*$`));
    assertRefused(await callAs(admin, 'DescribeService', { ServiceArn: 42 }), 'InvalidRequestException', /serviceArn/);
    assertRefused(await callAs(admin, 'Berth.GetUser', { UserName: ['admin'] }), 'InvalidRequestException', /userName/);
  });

  test('NotAction and NotResource', async () => {
    const notAction = await userWithKey('acl-not-action', { P: policyOf({ Effect: 'Allow', NotAction: ['berth:*', 'apprunner:Delete*'], Resource: '*' }) });
    await ok(notAction, 'ListServices');
    assertRefused(await callAs(notAction, 'Berth.ListUsers'), 'AccessDeniedException', /berth:ListUsers/);
    const notResource = await userWithKey('acl-not-resource', { P: policyOf({ Effect: 'Allow', Action: 'apprunner:DescribeService', NotResource: services['acl-alpha'] }) });
    await ok(notResource, 'DescribeService', { ServiceArn: services['acl-beta'] });
    assertRefused(await callAs(notResource, 'DescribeService', { ServiceArn: services['acl-alpha'] }), 'AccessDeniedException', /acl-alpha/);
  });

  test("a service's settings and event log are berth: actions on the service, apart from apprunner:*", async () => {
    const alpha = services['acl-alpha'] as string;
    const beta = services['acl-beta'] as string;
    const appRunnerOnly = await userWithKey('acl-apprunner-only', { P: policyOf({ Effect: 'Allow', Action: 'apprunner:*', Resource: alpha }) });
    await ok(appRunnerOnly, 'DescribeService', { ServiceArn: alpha });
    const before = api.dump();
    for (const operation of ['UpdateServiceSettings', 'DescribeServiceSettings', 'ListServiceEvents']) {
      assertRefused(await callAs(appRunnerOnly, `Berth.${operation}`, { ServiceArn: alpha, RequestTimeoutSeconds: 30 }), 'AccessDeniedException',
        `User: ${userArn('acl-apprunner-only')} is not authorized to perform: berth:${operation} on resource: ${alpha}`);
    }
    assert.equal(api.dump(), before, 'the refused update changed nothing');

    const watcher = await userWithKey('acl-watcher', { P: policyOf({ Effect: 'Allow', Action: ['berth:DescribeServiceSettings', 'berth:ListServiceEvents'], Resource: alpha }) });
    assert.equal((await ok(watcher, 'Berth.DescribeServiceSettings', { ServiceArn: alpha })).ServiceArn, alpha);
    assert.ok(Array.isArray((await ok(watcher, 'Berth.ListServiceEvents', { ServiceArn: alpha })).Events));
    assertRefused(await callAs(watcher, 'Berth.ListServiceEvents', { ServiceArn: beta }), 'AccessDeniedException', new RegExp(`berth:ListServiceEvents on resource: ${beta}$`));
    assertRefused(await callAs(watcher, 'Berth.UpdateServiceSettings', { ServiceArn: alpha, RequestTimeoutSeconds: 30 }), 'AccessDeniedException', /berth:UpdateServiceSettings/);
    assertRefused(await callAs(watcher, 'Berth.DescribeServiceSettings', { ServiceArn: 42 }), 'AccessDeniedException', new RegExp(`on resource: arn:aws:apprunner:${REGION}:${ACCOUNT}:service/\\*$`));

    const tuner = await userWithKey('acl-tuner', { P: policyOf({ Effect: 'Allow', Action: 'berth:UpdateServiceSettings', Resource: alpha }) });
    const { Settings } = await ok(tuner, 'Berth.UpdateServiceSettings', { ServiceArn: alpha, RequestTimeoutSeconds: 30 });
    assert.equal((Settings as { RequestTimeoutSeconds: number }).RequestTimeoutSeconds, 30);
    await ok(tuner, 'Berth.UpdateServiceSettings', { ServiceArn: alpha, RequestTimeoutSeconds: null });
  });

  test('a policy change applies to the next request', async () => {
    const changing = await userWithKey('acl-changing');
    assertRefused(await callAs(changing, 'ListServices'), 'AccessDeniedException', /ListServices/);
    await ok(admin, 'Berth.PutUserPolicy', { UserName: 'acl-changing', PolicyName: 'List', PolicyDocument: policyOf({ Effect: 'Allow', Action: 'apprunner:ListServices', Resource: '*' }) });
    await ok(changing, 'ListServices');
    await ok(admin, 'Berth.PutUserPolicy', { UserName: 'acl-changing', PolicyName: 'list', PolicyDocument: policyOf({ Effect: 'Deny', Action: 'apprunner:ListServices', Resource: '*' }) });
    assert.deepEqual((await ok(admin, 'Berth.ListUserPolicies', { UserName: 'acl-changing' })).PolicyNames, ['list'], 'policy names are not case-sensitive: the put replaced it');
    assertRefused(await callAs(changing, 'ListServices'), 'AccessDeniedException', /with an explicit deny$/);
  });

  test('a user allowed on its own ARN manages its own keys, not anyone else\'s', async () => {
    const self = await userWithKey('acl-self', { Own: policyOf({ Effect: 'Allow', Action: 'berth:*AccessKey*', Resource: userArn('acl-self') }) });
    const { AccessKey } = await ok(self, 'Berth.CreateAccessKey');
    assert.equal((AccessKey as { UserName: string }).UserName, 'acl-self');
    const second = (AccessKey as { AccessKeyId: string }).AccessKeyId;
    assert.equal(((await ok(self, 'Berth.ListAccessKeys')).AccessKeyMetadata as unknown[]).length, 2);
    await ok(self, 'Berth.DeleteAccessKey', { AccessKeyId: second });
    assertRefused(await callAs(self, 'Berth.CreateAccessKey', { UserName: 'admin' }), 'AccessDeniedException', `User: ${userArn('acl-self')} is not authorized to perform: berth:CreateAccessKey on resource: ${userArn('admin')}`);
    // The key must belong to the user named: another user's key id is simply not found.
    assertRefused(await callAs(self, 'Berth.DeleteAccessKey', { AccessKeyId: admin.accessKeyId }), 'ResourceNotFoundException', /cannot be found for user 'acl-self'/);
  });
});

describe('access keys', () => {
  test('a deactivated key stops working at once, and works again when reactivated', async () => {
    const key = await userWithKey('acl-toggle', { P: policyOf({ Effect: 'Allow', Action: 'apprunner:ListServices', Resource: '*' }) });
    await ok(key, 'ListServices');
    await ok(admin, 'Berth.UpdateAccessKey', { UserName: 'acl-toggle', AccessKeyId: key.accessKeyId, Status: 'Inactive' });
    assertRefused(await callAs(key, 'ListServices'), 'UnrecognizedClientException', 'The security token included in the request is invalid.');
    const listed = (await ok(admin, 'Berth.ListAccessKeys', { UserName: 'acl-toggle' })).AccessKeyMetadata as { Status: string }[];
    assert.deepEqual(listed.map((k) => k.Status), ['Inactive']);
    await ok(admin, 'Berth.UpdateAccessKey', { UserName: 'acl-toggle', AccessKeyId: key.accessKeyId, Status: 'Active' });
    await ok(key, 'ListServices');
  });

  test('a deleted key stops working at once; a user is deleted only once its keys and policies are gone', async () => {
    const key = await userWithKey('acl-leaving', { P: policyOf({ Effect: 'Allow', Action: '*', Resource: '*' }) });
    await ok(key, 'ListServices');
    assertRefused(await callAs(admin, 'Berth.DeleteUser', { UserName: 'acl-leaving' }), 'InvalidStateException',
      new RegExp(`Cannot delete user 'acl-leaving' while it has access keys ${key.accessKeyId} \\(DeleteAccessKey\\) and policies P \\(DeleteUserPolicy\\)`));
    assertRefused(await callAs(key, 'Berth.DeleteUser', { UserName: 'acl-leaving' }), 'InvalidRequestException', /is the user making this request and cannot delete itself/);
    await ok(admin, 'Berth.DeleteAccessKey', { UserName: 'acl-leaving', AccessKeyId: key.accessKeyId });
    assertRefused(await callAs(key, 'ListServices'), 'UnrecognizedClientException', /security token included in the request is invalid/);
    await ok(admin, 'Berth.DeleteUserPolicy', { UserName: 'acl-leaving', PolicyName: 'P' });
    await ok(admin, 'Berth.DeleteUser', { UserName: 'acl-leaving' });
    assertRefused(await callAs(admin, 'Berth.GetUser', { UserName: 'acl-leaving' }), 'ResourceNotFoundException', /acl-leaving/);
  });

  test('two keys per user at most', async () => {
    await userWithKey('acl-two-keys');
    await ok(admin, 'Berth.CreateAccessKey', { UserName: 'acl-two-keys' });
    assertRefused(await callAs(admin, 'Berth.CreateAccessKey', { UserName: 'acl-two-keys' }), 'ServiceQuotaExceededException', /AccessKeysPerUser: 2/);
  });

  test('users: names unique without regard to case, listed in pages, described with epoch-second dates', async () => {
    const { User } = await ok(admin, 'Berth.CreateUser', { UserName: 'acl-Paged' });
    const user = User as { UserName: string; Arn: string; UserId: string; CreateDate: number };
    assert.equal(user.Arn, userArn('acl-Paged'));
    assert.ok(Math.abs(user.CreateDate - clock.now() / 1000) < 60, `CreateDate ${user.CreateDate} is epoch seconds`);
    assertRefused(await callAs(admin, 'Berth.CreateUser', { UserName: 'ACL-paged' }), 'InvalidRequestException', /already exists \(as 'acl-Paged'; user names are not case-sensitive\)/);
    assert.equal(((await ok(admin, 'Berth.GetUser', { UserName: 'acl-paged' })).User as { UserId: string }).UserId, user.UserId);
    const all = ((await ok(admin, 'Berth.ListUsers')).Users as { UserName: string }[]).map((u) => u.UserName);
    const paged: string[] = [];
    let token: unknown;
    do {
      const page = await ok(admin, 'Berth.ListUsers', { MaxResults: 2, ...(token !== undefined && { NextToken: token }) });
      paged.push(...(page.Users as { UserName: string }[]).map((u) => u.UserName));
      token = page.NextToken;
    } while (token !== undefined);
    assert.deepEqual(paged, all);
    assert.ok(all.includes('admin') && all.includes('acl-Paged'));
  });
});

describe('signatures', () => {
  test('a tampered body is refused, with or without the body hash header', async () => {
    const signed = JSON.stringify({ MaxResults: 1 });
    for (const applyChecksum of [true, false]) {
      const reply = await signedFetch(api.endpoint, 'AppRunner.ListServices', signed, { sendBody: JSON.stringify({ MaxResults: 2 }), applyChecksum, signingDate: new Date(clock.now()) });
      assertRefused({ status: reply.status, json: reply.json() }, 'InvalidSignatureException', applyChecksum ? /x-amz-content-sha256/ : /does not match the signature you provided/);
    }
  });

  test('a request signed 20 minutes ago is refused as a replay', async () => {
    assertRefused(await callAs(admin, 'ListServices', {}, { signingDate: new Date(clock.now() - 20 * 60_000) }), 'InvalidSignatureException', /Signature expired/);
  });

  test('a scope with another region or another service is refused', async () => {
    assertRefused(await callAs(admin, 'ListServices', {}, { region: 'eu-west-1' }), 'InvalidSignatureException', /scoped to a valid region: 'us-east-1', not 'eu-west-1'/);
    assertRefused(await callAs(admin, 'ListServices', {}, { service: 's3' }), 'InvalidSignatureException', /scoped to correct service: 'apprunner', not 's3'/);
  });

  test('an unknown key and a wrong secret', async () => {
    assertRefused(await callAs({ accessKeyId: newAccessKey().accessKeyId, secretAccessKey: admin.secretAccessKey }, 'ListServices'), 'UnrecognizedClientException', /invalid/);
    assertRefused(await callAs({ ...admin, secretAccessKey: 'x'.repeat(40) }, 'ListServices'), 'InvalidSignatureException', /does not match/);
  });
});

describe('session credentials', () => {
  const LIST_ONLY = policyOf({ Effect: 'Allow', Action: ['apprunner:ListServices', 'berth:GetSessionToken'], Resource: '*' });

  test('GetSessionToken gives ASIA credentials that act as the user, through the official SDK', async () => {
    const longTerm = await userWithKey('acl-session', { P: LIST_ONLY });
    const { Credentials } = await ok(longTerm, 'Berth.GetSessionToken');
    const session = Credentials as { AccessKeyId: string; SecretAccessKey: string; SessionToken: string; Expiration: number };
    assert.match(session.AccessKeyId, /^ASIA[A-Z2-7]{16}$/);
    assert.ok(Math.abs(session.Expiration - (clock.now() / 1000 + 43_200)) < 60, 'the default is 12 hours');

    const sdk = sdkAs({ accessKeyId: session.AccessKeyId, secretAccessKey: session.SecretAccessKey, sessionToken: session.SessionToken });
    assert.ok(Array.isArray((await sdk.send(new ListServicesCommand({}))).ServiceSummaryList));
    await sdkRefused(sdk.send(new DescribeServiceCommand({ ServiceArn: services['acl-alpha'] })), 'AccessDeniedException', 403, new RegExp(`^User: ${userArn('acl-session')} is not`));
    sdk.destroy();

    const asSession = { accessKeyId: session.AccessKeyId, secretAccessKey: session.SecretAccessKey, sessionToken: session.SessionToken };
    const identity = await ok(asSession, 'Berth.GetCallerIdentity');
    assert.equal(identity.Arn, userArn('acl-session'));
    assertRefused(await callAs(asSession, 'Berth.GetSessionToken'), 'AccessDeniedException', /Cannot call GetSessionToken with session credentials/);
  });

  test('a session key without its token, with another token, or a long-term key with a token, is refused', async () => {
    const longTerm = await userWithKey('acl-token', { P: LIST_ONLY });
    const session = (await ok(longTerm, 'Berth.GetSessionToken', { DurationSeconds: 900 })).Credentials as { AccessKeyId: string; SecretAccessKey: string; SessionToken: string };
    const invalid = 'The security token included in the request is invalid.';
    assertRefused(await callAs({ accessKeyId: session.AccessKeyId, secretAccessKey: session.SecretAccessKey }, 'ListServices'), 'UnrecognizedClientException', invalid);
    assertRefused(await callAs({ accessKeyId: session.AccessKeyId, secretAccessKey: session.SecretAccessKey, sessionToken: `${session.SessionToken}x` }, 'ListServices'), 'UnrecognizedClientException', invalid);
    assertRefused(await callAs({ ...longTerm, sessionToken: session.SessionToken }, 'ListServices'), 'UnrecognizedClientException', invalid);
    assertRefused(await callAs({ accessKeyId: session.AccessKeyId, secretAccessKey: session.SecretAccessKey }, 'ListServices', {}, { unsignedHeaders: { 'x-amz-security-token': session.SessionToken } }),
      'IncompleteSignatureException', /'x-amz-security-token' must be a signed header/);
    const good = await callAs({ accessKeyId: session.AccessKeyId, secretAccessKey: session.SecretAccessKey, sessionToken: session.SessionToken }, 'ListServices');
    assert.equal(good.status, 200, 'the same session with its token works');
  });

  test('a session expires at its Expiration, and ends when its parent key is deactivated', async () => {
    const longTerm = await userWithKey('acl-expiring', { P: LIST_ONLY });
    const reply = await ok(longTerm, 'Berth.GetSessionToken', { DurationSeconds: 900 });
    const session = reply.Credentials as { AccessKeyId: string; SecretAccessKey: string; SessionToken: string; Expiration: number };
    assert.ok(Math.abs(session.Expiration - (clock.now() / 1000 + 900)) < 5);
    const asSession = { accessKeyId: session.AccessKeyId, secretAccessKey: session.SecretAccessKey, sessionToken: session.SessionToken };
    try {
      clock.offsetMs += 899_000;
      await ok(asSession, 'ListServices');
      clock.offsetMs += 2_000;
      assertRefused(await callAs(asSession, 'ListServices'), 'ExpiredTokenException', 'The security token included in the request is expired');
      const sdk = sdkAs(asSession);
      await sdkRefused(sdk.send(new ListServicesCommand({})), 'ExpiredTokenException', 400, /expired/);
      sdk.destroy();
      await ok(longTerm, 'ListServices');
    } finally {
      clock.offsetMs = 0;
    }

    const fresh = (await ok(longTerm, 'Berth.GetSessionToken')).Credentials as { AccessKeyId: string; SecretAccessKey: string; SessionToken: string };
    const asFresh = { accessKeyId: fresh.AccessKeyId, secretAccessKey: fresh.SecretAccessKey, sessionToken: fresh.SessionToken };
    await ok(asFresh, 'ListServices');
    await ok(admin, 'Berth.UpdateAccessKey', { UserName: 'acl-expiring', AccessKeyId: longTerm.accessKeyId, Status: 'Inactive' });
    assertRefused(await callAs(asFresh, 'ListServices'), 'UnrecognizedClientException', /invalid/);
    await ok(admin, 'Berth.UpdateAccessKey', { UserName: 'acl-expiring', AccessKeyId: longTerm.accessKeyId, Status: 'Active' });
    await ok(longTerm, 'ListServices');
    // Reactivating the key does not revive the sessions it handed out before.
    assertRefused(await callAs(asFresh, 'ListServices'), 'UnrecognizedClientException', /invalid/);

    const another = (await ok(longTerm, 'Berth.GetSessionToken')).Credentials as { AccessKeyId: string; SecretAccessKey: string; SessionToken: string };
    const asAnother = { accessKeyId: another.AccessKeyId, secretAccessKey: another.SecretAccessKey, sessionToken: another.SessionToken };
    await ok(asAnother, 'ListServices');
    await ok(admin, 'Berth.DeleteAccessKey', { UserName: 'acl-expiring', AccessKeyId: longTerm.accessKeyId });
    assertRefused(await callAs(asAnother, 'ListServices'), 'UnrecognizedClientException', /invalid/);
  });
});

describe('expired sessions', () => {
  test('are answered as expired for a day, then forgotten when the next session is made', async () => {
    const longTerm = await userWithKey('acl-forgotten', { P: policyOf({ Effect: 'Allow', Action: ['apprunner:ListServices', 'berth:GetSessionToken'], Resource: '*' }) });
    const old = (await ok(longTerm, 'Berth.GetSessionToken', { DurationSeconds: 900 })).Credentials as { AccessKeyId: string; SecretAccessKey: string; SessionToken: string };
    const asOld = { accessKeyId: old.AccessKeyId, secretAccessKey: old.SecretAccessKey, sessionToken: old.SessionToken };
    try {
      clock.offsetMs = (900 + 24 * 3600 + 60) * 1000;
      assertRefused(await callAs(asOld, 'ListServices'), 'ExpiredTokenException', /expired/);
      assert.ok(api.dump().includes(old.AccessKeyId), 'still stored until the next GetSessionToken');
      await ok(longTerm, 'Berth.GetSessionToken');
      assert.ok(!api.dump().includes(old.AccessKeyId), 'forgotten');
      assertRefused(await callAs(asOld, 'ListServices'), 'UnrecognizedClientException', /invalid/);
    } finally {
      clock.offsetMs = 0;
    }
  });
});

describe('secrets at rest', () => {
  test('no secret key or session token appears in clear anywhere in the store', async () => {
    const created = await userWithKey('acl-secretive', { P: policyOf({ Effect: 'Allow', Action: 'berth:GetSessionToken', Resource: '*' }) });
    const session = (await ok(created, 'Berth.GetSessionToken')).Credentials as { SecretAccessKey: string; SessionToken: string };
    const dump = api.dump();
    assert.ok(dump.includes(created.accessKeyId), 'the dump does hold the keys (by id)');
    for (const [what, secret] of [['admin secret', admin.secretAccessKey], ['created secret', created.secretAccessKey], ['session secret', session.SecretAccessKey], ['session token', session.SessionToken]]) {
      assert.ok(!dump.includes(String(secret)), `${what} is in the store in clear`);
    }
    // And it is never readable again through the API either.
    assert.ok(!JSON.stringify(await ok(admin, 'Berth.ListAccessKeys', { UserName: 'acl-secretive' })).includes(created.secretAccessKey));
  });
});

/** Runs `berth iam <args>` as a user would, against the harness's API. */
function berthIam(args: string[], options: { env?: Record<string, string>; stdin?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')));
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'bin/berth.mjs'), 'iam', ...args, '--endpoint', api.cp.apiUrl], {
    env: { ...env, BERTH_HOME: api.home, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdin.end(options.stdin ?? '');
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the berth iam CLI', () => {
  test('round trip: user, policy from stdin and from a file, key, whoami, session, refusals, clean-up', async () => {
    const created = await berthIam(['create-user', 'acl-cli']);
    assert.equal(created.code, 0, created.stderr);
    assert.equal((JSON.parse(created.stdout) as { User: { Arn: string } }).User.Arn, userArn('acl-cli'));

    const put = await berthIam(['put-user-policy', 'acl-cli', 'Read', '--document', '-'], { stdin: policyOf({ Effect: 'Allow', Action: ['apprunner:List*', 'berth:GetSessionToken'], Resource: '*' }) });
    assert.equal(put.code, 0, put.stderr);
    assert.equal(put.stdout, '');
    const shown = await berthIam(['get-user-policy', 'acl-cli', 'Read']);
    assert.deepEqual((JSON.parse(shown.stdout) as { PolicyDocument: { Statement: { Action: string[] }[] } }).PolicyDocument.Statement[0]?.Action, ['apprunner:List*', 'berth:GetSessionToken']);

    const key = await berthIam(['create-access-key', 'acl-cli']);
    assert.equal(key.code, 0, key.stderr);
    const { AccessKey } = JSON.parse(key.stdout) as { AccessKey: { AccessKeyId: string; SecretAccessKey: string; Status: string } };
    assert.equal(AccessKey.Status, 'Active');
    const asCli = { AWS_ACCESS_KEY_ID: AccessKey.AccessKeyId, AWS_SECRET_ACCESS_KEY: AccessKey.SecretAccessKey };

    const whoami = await berthIam(['whoami'], { env: asCli });
    assert.equal(whoami.code, 0, whoami.stderr);
    assert.deepEqual(JSON.parse(whoami.stdout), { UserId: (JSON.parse(created.stdout) as { User: { UserId: string } }).User.UserId, Account: ACCOUNT, Arn: userArn('acl-cli') });
    assert.equal((JSON.parse((await berthIam(['whoami'])).stdout) as { Arn: string }).Arn, userArn('admin'), 'without AWS_* variables: the credentials file');

    const token = await berthIam(['get-session-token', '--duration', '900'], { env: asCli });
    assert.equal(token.code, 0, token.stderr);
    const { Credentials } = JSON.parse(token.stdout) as { Credentials: { AccessKeyId: string; SecretAccessKey: string; SessionToken: string } };
    const viaSession = await berthIam(['whoami'], { env: { AWS_ACCESS_KEY_ID: Credentials.AccessKeyId, AWS_SECRET_ACCESS_KEY: Credentials.SecretAccessKey, AWS_SESSION_TOKEN: Credentials.SessionToken } });
    assert.equal((JSON.parse(viaSession.stdout) as { Arn: string }).Arn, userArn('acl-cli'));

    const denied = await berthIam(['list-users'], { env: asCli });
    assert.equal(denied.code, 1);
    assert.equal(denied.stdout, '');
    assert.match(denied.stderr, new RegExp(`^berth iam: AccessDeniedException: User: ${userArn('acl-cli')} is not authorized to perform: berth:ListUsers on resource: \\*\\n$`));

    const users = JSON.parse((await berthIam(['list-users'])).stdout) as { Users: { UserName: string }[] };
    assert.ok(users.Users.some((u) => u.UserName === 'acl-cli'));
    const keys = JSON.parse((await berthIam(['list-access-keys', 'acl-cli'])).stdout) as { AccessKeyMetadata: { AccessKeyId: string }[] };
    assert.deepEqual(keys.AccessKeyMetadata.map((k) => k.AccessKeyId), [AccessKey.AccessKeyId]);
    assert.ok(!JSON.stringify(keys).includes(AccessKey.SecretAccessKey));

    assert.equal((await berthIam(['update-access-key', 'acl-cli', AccessKey.AccessKeyId, '--status', 'Inactive'])).code, 0);
    const inactive = await berthIam(['whoami'], { env: asCli });
    assert.equal(inactive.code, 1);
    assert.match(inactive.stderr, /UnrecognizedClientException/);

    const conflict = await berthIam(['delete-user', 'acl-cli']);
    assert.equal(conflict.code, 1);
    assert.match(conflict.stderr, /InvalidStateException: Cannot delete user 'acl-cli'/);
    const file = join(api.home, 'acl-cli-policy.json');
    await import('node:fs').then((fs) => fs.writeFileSync(file, policyOf({ Effect: 'Deny', Action: '*', Resource: '*' })));
    assert.equal((await berthIam(['put-user-policy', 'acl-cli', 'Fence', '--document', file])).code, 0);
    assert.deepEqual(JSON.parse((await berthIam(['list-user-policies', 'acl-cli'])).stdout), { PolicyNames: ['Fence', 'Read'] });
    for (const args of [['delete-access-key', 'acl-cli', AccessKey.AccessKeyId], ['delete-user-policy', 'acl-cli', 'Read'], ['delete-user-policy', 'acl-cli', 'Fence'], ['delete-user', 'acl-cli']]) {
      const step = await berthIam(args);
      assert.equal(step.code, 0, `${args.join(' ')}: ${step.stderr}`);
    }
    assert.match((await berthIam(['get-user', 'acl-cli'])).stderr, /ResourceNotFoundException/);
  });

  test('usage mistakes name the problem; help lists the commands', async () => {
    const missing = await berthIam(['update-access-key', 'someone', 'AKIAAAAAAAAAAAAAAAAA']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /update-access-key needs --status Active or --status Inactive/);
    const extra = await berthIam(['whoami', 'extra']);
    assert.match(extra.stderr, /whoami takes no arguments; got extra/);
    const unknown = await berthIam(['launch-rocket']);
    assert.match(unknown.stderr, /unknown command 'launch-rocket'/);
    const duration = await berthIam(['get-session-token', '--duration', 'soon']);
    assert.match(duration.stderr, /--duration is 'soon'/);
    const help = await new Promise<string>((resolve) => {
      const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'bin/berth.mjs'), 'help']);
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.once('close', () => resolve(out));
    });
    for (const command of ['create-user', 'list-users', 'get-user', 'delete-user', 'create-access-key', 'list-access-keys', 'update-access-key', 'delete-access-key', 'put-user-policy', 'get-user-policy', 'list-user-policies', 'delete-user-policy', 'get-session-token', 'whoami']) {
      assert.match(help, new RegExp(`^  ${command}\\b`, 'm'), `berth help lists ${command}`);
    }
  });
});

describe('the AWS CLI', () => {
  const AWS = '/usr/bin/aws';

  function aws(args: string[], credentials: Credentials): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(AWS, [...args, '--endpoint-url', api.cp.apiUrl, '--output', 'json'], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: api.home,
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        AWS_CONFIG_FILE: '/dev/null',
        AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_DEFAULT_REGION: REGION,
        AWS_PAGER: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  test('a denied action is refused with AccessDeniedException; an allowed one works', async (t) => {
    if (!existsSync(AWS)) {
      assert.ok(process.env.CI !== 'true', 'the aws CLI is not installed; .ci/run installs Debian\'s awscli');
      t.skip('no AWS CLI at /usr/bin/aws');
      return;
    }
    const limited = await userWithKey('acl-aws-cli', { P: policyOf({ Effect: 'Allow', Action: 'apprunner:DescribeService', Resource: services['acl-alpha'] }) });
    const denied = await aws(['apprunner', 'list-services'], limited);
    assert.equal(denied.code, 254, denied.stderr);
    assert.match(denied.stderr, new RegExp(`An error occurred \\(AccessDeniedException\\) when calling the ListServices operation: User: ${userArn('acl-aws-cli')} is not authorized to perform: apprunner:ListServices on resource: \\*`));
    const allowed = await aws(['apprunner', 'describe-service', '--service-arn', services['acl-alpha'] ?? ''], limited);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.equal((JSON.parse(allowed.stdout) as { Service: { ServiceName: string } }).Service.ServiceName, 'acl-alpha');
  });
});

describe('the credentials file', () => {
  test('is left alone once its key is deleted, and the control plane still starts', async () => {
    const home = mkdtempSync(join(tmpdir(), 'berth-rotated-'));
    const config = resolveConfig(home, { api: { port: 0 }, reconcile: { intervalMs: 50, startupTimeoutSeconds: 5, stopGraceSeconds: 0 } });
    try {
      let runtime = new FakeRuntime();
      let cp = await startControlPlane(config, { runtime });
      const first = readCredentials(home);
      const fileBefore = readFileSync(join(home, 'credentials'), 'utf8');
      const as = (credentials: Credentials) => ({ apiUrl: cp.apiUrl, region: REGION, credentials });
      let second: Credentials;
      try {
        const created = await signedFetch(as(first), 'Berth.CreateAccessKey', '{}');
        const key = created.json().AccessKey as { AccessKeyId: string; SecretAccessKey: string };
        second = { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey };
        assert.equal((await signedFetch(as(second), 'Berth.DeleteAccessKey', JSON.stringify({ AccessKeyId: first.accessKeyId }))).status, 200);
      } finally {
        await cp.stop();
        runtime.close();
      }
      runtime = new FakeRuntime();
      cp = await startControlPlane(config, { runtime });
      try {
        assert.equal(readFileSync(join(home, 'credentials'), 'utf8'), fileBefore, 'not rewritten with another key');
        assert.equal((await signedFetch(as(second), 'Berth.GetCallerIdentity', '{}')).json().Arn, userArn('admin'));
        assert.equal((await signedFetch(as(first), 'AppRunner.ListServices', '{}')).json().__type, 'UnrecognizedClientException');
      } finally {
        await cp.stop();
        runtime.close();
      }
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('an installation from before access control', () => {
  test('keeps its plaintext administrator key working, now sealed and owned by admin, across restarts', async () => {
    const home = mkdtempSync(join(tmpdir(), 'berth-legacy-'));
    const legacy = newAccessKey();
    try {
      // The store as Berth wrote it before migration 3: the key's secret in plaintext.
      const db = new DatabaseSync(join(home, 'berth.db'));
      db.exec(MIGRATIONS[0] ?? '');
      db.exec(MIGRATIONS[1] ?? '');
      db.exec('PRAGMA user_version = 2');
      const insertMeta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
      insertMeta.run('installation-id', 'ab'.repeat(16));
      insertMeta.run('created-at', String(Date.now() - 86_400_000));
      insertMeta.run('admin-access-key-id', legacy.accessKeyId);
      db.prepare('INSERT INTO access_keys (access_key_id, body) VALUES (?, ?)').run(legacy.accessKeyId, JSON.stringify({ ...legacy, principal: 'admin', createdAt: Date.now() - 86_400_000 }));
      db.close();

      const config = resolveConfig(home, { api: { port: 0 }, reconcile: { intervalMs: 50, startupTimeoutSeconds: 5, stopGraceSeconds: 0 } });
      for (const start of ['first start after the upgrade', 'a later start']) {
        const runtime = new FakeRuntime();
        const cp = await startControlPlane(config, { runtime });
        try {
          assert.deepEqual(readCredentials(home), legacy, `${start}: the credentials file holds the same key`);
          const reply = await signedFetch({ apiUrl: cp.apiUrl, region: REGION, credentials: legacy }, 'Berth.GetCallerIdentity', '{}');
          assert.equal(reply.status, 200, reply.body);
          assert.equal(reply.json().Arn, userArn('admin'), start);
          const list = await signedFetch({ apiUrl: cp.apiUrl, region: REGION, credentials: legacy }, 'AppRunner.ListServices', '{}');
          assert.equal(list.status, 200, `${start}: ${list.body}`);
        } finally {
          await cp.stop();
          runtime.close();
        }
        const check = new DatabaseSync(join(home, 'berth.db'), { readOnly: true });
        const rows = JSON.stringify(check.prepare('SELECT * FROM access_keys').all());
        check.close();
        assert.ok(rows.includes(legacy.accessKeyId));
        assert.ok(!rows.includes(legacy.secretAccessKey), `${start}: the secret is no longer stored in clear`);
      }
      assert.equal(readFileSync(join(home, 'credentials'), 'utf8'), `[default]\naws_access_key_id = ${legacy.accessKeyId}\naws_secret_access_key = ${legacy.secretAccessKey}\n`);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

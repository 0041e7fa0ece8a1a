/**
 * The App Runner API's rules, driven through the official SDK (and raw signed requests where
 * the SDK cannot go) against a real control plane whose runtime is in memory: every bad input
 * gets its App Runner error type, a message naming the bad value, and creates nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AppRunnerClient,
  CreateServiceCommand,
  DeleteServiceCommand,
  DescribeServiceCommand,
  ListOperationsCommand,
  ListServicesCommand,
  paginateListServices,
  type CreateServiceCommandInput,
} from '@aws-sdk/client-apprunner';
import { resolveConfig } from '../../src/core/config.ts';
import { startControlPlane, type ControlPlane } from '../../src/main/control-plane.ts';
import { FakeRuntime } from '../support/fake-runtime.ts';
import { signedFetch } from '../support/signed-request.ts';
import { readCredentials } from '../support/berth-process.ts';

let home: string;
let cp: ControlPlane;
let client: AppRunnerClient;
let endpoint: { apiUrl: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } };
const runtime = new FakeRuntime();

before(async () => {
  home = mkdtempSync(join(tmpdir(), 'berth-api-'));
  const config = resolveConfig(home, { api: { port: 0 }, quotas: { services: 4 }, reconcile: { intervalMs: 50, startupTimeoutSeconds: 1, stopGraceSeconds: 0 } });
  cp = await startControlPlane(config, { runtime });
  const credentials = readCredentials(home);
  endpoint = { apiUrl: cp.apiUrl, region: 'us-east-1', credentials };
  client = new AppRunnerClient({ region: 'us-east-1', endpoint: cp.apiUrl, credentials, maxAttempts: 1 });
});

after(async () => {
  await cp?.stop();
  rmSync(home, { recursive: true, force: true });
});

const source = (identifier = 'registry.example.com:5000/team/app:1') => ({
  ImageRepository: { ImageIdentifier: identifier, ImageRepositoryType: 'ECR' as const, ImageConfiguration: { Port: '8080' } },
});

async function rejects(send: Promise<unknown>, type: string, mentions: RegExp): Promise<void> {
  await assert.rejects(send, (error: Error & { $metadata?: { httpStatusCode?: number } }) => {
    assert.equal(error.name, type, error.message);
    assert.match(error.message, mentions);
    return true;
  });
}

async function liveServiceCount(): Promise<number> {
  return (await client.send(new ListServicesCommand({}))).ServiceSummaryList?.length ?? 0;
}

describe('first start', () => {
  test('writes the administrator key and region as AWS profile files, the credentials private', () => {
    assert.match(readFileSync(join(home, 'credentials'), 'utf8'), /^\[default\]\naws_access_key_id = AKIA[A-Z2-7]{16}\naws_secret_access_key = \S{40}\n$/);
    assert.equal(readFileSync(join(home, 'config'), 'utf8'), '[default]\nregion = us-east-1\n');
    assert.equal(statSync(join(home, 'credentials')).mode & 0o077, 0);
  });
});

describe('CreateService input validation', () => {
  const cases: [string, Partial<CreateServiceCommandInput>, string, RegExp][] = [
    ['a name too short', { ServiceName: 'ab' }, 'InvalidRequestException', /Value 'ab' at 'serviceName' failed to satisfy constraint: Member must have length greater than or equal to 4/],
    ['a name with a bad first character', { ServiceName: '-abcd' }, 'InvalidRequestException', /'-abcd' at 'serviceName'.*regular expression pattern/],
    ['a name too long', { ServiceName: 'a'.repeat(41) }, 'InvalidRequestException', /at 'serviceName' failed to satisfy constraint: Member must have length less than or equal to 40/],
    ['a name with a space', { ServiceName: 'has space' }, 'InvalidRequestException', /'has space' at 'serviceName'/],
    ['an image reference with upper case', { SourceConfiguration: source('Registry/App') }, 'InvalidRequestException', /'Registry\/App' at 'sourceConfiguration.imageRepository.imageIdentifier' is not a valid image reference/],
    ['an image reference with two colons', { SourceConfiguration: source('app::1') }, 'InvalidRequestException', /'app::1'/],
    ['an empty image reference', { SourceConfiguration: source('') }, 'InvalidRequestException', /imageIdentifier' failed to satisfy constraint: Member must have length greater than or equal to 1/],
    ['an unknown repository type', { SourceConfiguration: { ImageRepository: { ImageIdentifier: 'app:1', ImageRepositoryType: 'DOCKERHUB' as 'ECR' } } }, 'InvalidRequestException', /'DOCKERHUB' at 'sourceConfiguration.imageRepository.imageRepositoryType'.*enum value set: \[ECR, ECR_PUBLIC\]/],
    ['both source types', { SourceConfiguration: { ...source(), CodeRepository: { RepositoryUrl: 'https://git.example.com/a', SourceCodeVersion: { Type: 'BRANCH', Value: 'main' } } } }, 'InvalidRequestException', /Exactly one of/],
    ['no source type', { SourceConfiguration: {} }, 'InvalidRequestException', /Exactly one of/],
    ['a port that is not a number', { SourceConfiguration: { ImageRepository: { ...source().ImageRepository, ImageConfiguration: { Port: 'http' } } } }, 'InvalidRequestException', /'http' at 'sourceConfiguration.imageRepository.imageConfiguration.port' is not a valid port/],
    ['a port out of range', { SourceConfiguration: { ImageRepository: { ...source().ImageRepository, ImageConfiguration: { Port: '70000' } } } }, 'InvalidRequestException', /'70000'/],
    ['a reserved environment variable', { SourceConfiguration: { ImageRepository: { ...source().ImageRepository, ImageConfiguration: { RuntimeEnvironmentVariables: { PORT: '1' } } } } }, 'InvalidRequestException', /'PORT'.*reserved/],
    ['a CPU size App Runner lacks', { InstanceConfiguration: { Cpu: '3 vCPU' } }, 'InvalidRequestException', /'3 vCPU' at 'instanceConfiguration.cpu'/],
    ['a CPU and memory pair App Runner lacks', { InstanceConfiguration: { Cpu: '4 vCPU', Memory: '2 GB' } }, 'InvalidRequestException', /Cpu '4 vCPU' and Memory '2 GB'.*valid combinations: .*4 vCPU with 8 GB or 10 GB or 12 GB/],
    ['a health check interval of 0', { HealthCheckConfiguration: { Interval: 0 } }, 'InvalidRequestException', /Value '0' at 'healthCheckConfiguration.interval' failed to satisfy constraint: Member must have value greater than or equal to 1/],
    ['a health check protocol App Runner lacks', { HealthCheckConfiguration: { Protocol: 'UDP' as 'TCP' } }, 'InvalidRequestException', /'UDP' at 'healthCheckConfiguration.protocol'/],
    ['a tag key in the aws: namespace', { Tags: [{ Key: 'aws:owner', Value: 'x' }] }, 'InvalidRequestException', /'aws:owner' at 'tags.1.member.key'/],
    ['an auto scaling configuration that does not exist', { AutoScalingConfigurationArn: 'arn:aws:apprunner:us-east-1:000000000000:autoscalingconfiguration/nope/1/0123456789abcdef0123456789abcdef' }, 'ResourceNotFoundException', /'arn:aws:apprunner:us-east-1:000000000000:autoscalingconfiguration\/nope/],
  ];
  for (const [what, override, type, mentions] of cases) {
    test(`refuses ${what}`, async () => {
      const input = { ServiceName: 'valid-name', SourceConfiguration: source(), ...override } as CreateServiceCommandInput;
      await rejects(client.send(new CreateServiceCommand(input)), type, mentions);
      assert.equal(await liveServiceCount(), 0, 'nothing was created');
    });
  }

  test('lists every violation at once, in AWS style', async () => {
    await rejects(
      client.send(new CreateServiceCommand({ ServiceName: 'x', SourceConfiguration: source(), HealthCheckConfiguration: { Timeout: 99 } })),
      'InvalidRequestException',
      /^3 validation errors detected: Value 'x' at 'serviceName'.*length.*; Value 'x' at 'serviceName'.*pattern.*; Value '99' at 'healthCheckConfiguration.timeout'/,
    );
  });
});

describe('requests that are not App Runner calls', () => {
  test('malformed JSON is a SerializationException and creates nothing', async () => {
    const reply = await signedFetch(endpoint, 'AppRunner.CreateService', '{"ServiceName": "broken",');
    assert.equal(reply.status, 400);
    assert.equal(reply.json().__type, 'SerializationException');
    assert.match(String(reply.json().Message), /not valid JSON/);
    assert.equal(await liveServiceCount(), 0);
  });

  test('a JSON body that is not an object is refused', async () => {
    const reply = await signedFetch(endpoint, 'AppRunner.ListServices', '[1,2]');
    assert.equal(reply.json().__type, 'SerializationException');
  });

  test('an unknown operation is an UnknownOperationException naming it', async () => {
    const reply = await signedFetch(endpoint, 'AppRunner.LaunchRocket', '{}');
    assert.equal(reply.status, 400);
    assert.equal(reply.json().__type, 'UnknownOperationException');
    assert.match(String(reply.json().Message), /AppRunner\.LaunchRocket/);
  });

  test('an operation inherited from Object.prototype is unknown too', async () => {
    const reply = await signedFetch(endpoint, 'AppRunner.constructor', '{}');
    assert.equal(reply.json().__type, 'UnknownOperationException');
  });

  test('an empty body counts as {}', async () => {
    const reply = await signedFetch(endpoint, 'AppRunner.ListServices', '');
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.json(), { ServiceSummaryList: [] });
  });
});

describe('authentication', () => {
  test('an unsigned request is refused with MissingAuthenticationTokenException', async () => {
    const reply = await signedFetch(endpoint, 'AppRunner.ListServices', '{}', { sign: false });
    assert.equal(reply.status, 403);
    assert.equal(reply.json().__type, 'MissingAuthenticationTokenException');
  });

  test('an unknown access key is refused with UnrecognizedClientException', async () => {
    const stranger = new AppRunnerClient({ region: 'us-east-1', endpoint: cp.apiUrl, credentials: { accessKeyId: 'AKIAAAAAAAAAAAAAAAAA', secretAccessKey: 'x'.repeat(40) }, maxAttempts: 1 });
    await rejects(stranger.send(new ListServicesCommand({})), 'UnrecognizedClientException', /security token/);
  });

  test('a wrong secret is refused with InvalidSignatureException', async () => {
    const wrong = new AppRunnerClient({ region: 'us-east-1', endpoint: cp.apiUrl, credentials: { ...endpoint.credentials, secretAccessKey: 'y'.repeat(40) }, maxAttempts: 1 });
    await rejects(wrong.send(new ListServicesCommand({})), 'InvalidSignatureException', /signature/);
  });

  test('a request signed for another region is refused', async () => {
    const reply = await signedFetch(endpoint, 'AppRunner.ListServices', '{}', { region: 'eu-west-1' });
    assert.equal(reply.status, 403);
    assert.equal(reply.json().__type, 'InvalidSignatureException');
    assert.match(String(reply.json().Message), /eu-west-1/);
  });

  test('a request signed 20 minutes ago is refused', async () => {
    const reply = await signedFetch(endpoint, 'AppRunner.ListServices', '{}', { signingDate: new Date(Date.now() - 20 * 60_000) });
    assert.equal(reply.json().__type, 'InvalidSignatureException');
    assert.match(String(reply.json().Message), /expired/i);
  });
});

describe('services', () => {
  test('unknown and malformed ARNs', async () => {
    const unknown = 'arn:aws:apprunner:us-east-1:000000000000:service/ghost/0123456789abcdef0123456789abcdef';
    await rejects(client.send(new DescribeServiceCommand({ ServiceArn: unknown })), 'ResourceNotFoundException', /ghost\/0123456789abcdef0123456789abcdef/);
    await rejects(client.send(new DeleteServiceCommand({ ServiceArn: unknown })), 'ResourceNotFoundException', /ghost/);
    await rejects(client.send(new ListOperationsCommand({ ServiceArn: unknown })), 'ResourceNotFoundException', /ghost/);
    await rejects(client.send(new DescribeServiceCommand({ ServiceArn: 'not-an-arn' })), 'InvalidRequestException', /'not-an-arn' at 'serviceArn'/);
    await rejects(
      client.send(new DescribeServiceCommand({ ServiceArn: 'arn:aws:apprunner:us-east-1:000000000000:connection/ghost/0123456789abcdef0123456789abcdef' })),
      'InvalidRequestException',
      /is not a service ARN/,
    );
  });

  test('create, duplicate name, quota, pagination, list operations', async () => {
    const first = await client.send(new CreateServiceCommand({ ServiceName: 'svc-one', SourceConfiguration: source() }));
    assert.equal(first.Service?.Status, 'OPERATION_IN_PROGRESS');
    await rejects(client.send(new CreateServiceCommand({ ServiceName: 'svc-one', SourceConfiguration: source() })), 'InvalidRequestException', /'svc-one' already exists/);
    for (const name of ['svc-two', 'svc-three', 'svc-four']) await client.send(new CreateServiceCommand({ ServiceName: name, SourceConfiguration: source() }));
    // Creation is still under way (the fake's instances need a second to fail), so no delete yet.
    await rejects(client.send(new DeleteServiceCommand({ ServiceArn: first.Service?.ServiceArn })), 'InvalidStateException', /its CREATE_SERVICE operation [0-9a-f]{32} is in progress/);
    await assert.rejects(client.send(new CreateServiceCommand({ ServiceName: 'svc-five', SourceConfiguration: source() })), (error: Error & { $metadata: { httpStatusCode: number } }) => {
      assert.equal(error.name, 'ServiceQuotaExceededException');
      assert.equal(error.$metadata.httpStatusCode, 402);
      return true;
    });

    const page1 = await client.send(new ListServicesCommand({ MaxResults: 3 }));
    assert.deepEqual(page1.ServiceSummaryList?.map((s) => s.ServiceName), ['svc-one', 'svc-two', 'svc-three']);
    assert.ok(page1.NextToken);
    const page2 = await client.send(new ListServicesCommand({ MaxResults: 3, NextToken: page1.NextToken }));
    assert.deepEqual(page2.ServiceSummaryList?.map((s) => s.ServiceName), ['svc-four']);
    assert.equal(page2.NextToken, undefined);
    const names: string[] = [];
    for await (const page of paginateListServices({ client, pageSize: 1 }, {})) names.push(...(page.ServiceSummaryList ?? []).map((s) => s.ServiceName ?? ''));
    assert.deepEqual(names, ['svc-one', 'svc-two', 'svc-three', 'svc-four']);
    await rejects(client.send(new ListServicesCommand({ MaxResults: 21 })), 'InvalidRequestException', /'21' at 'maxResults'.*less than or equal to 20/);
    await rejects(client.send(new ListServicesCommand({ NextToken: 'garbage' })), 'InvalidRequestException', /NextToken 'garbage' is invalid/);

    // The fake runtime's instances never pass a health check, so creation fails at the deadline.
    const arn = first.Service?.ServiceArn as string;
    const deadline = Date.now() + 10_000;
    let status: string | undefined;
    while (Date.now() < deadline && status !== 'CREATE_FAILED') {
      status = (await client.send(new DescribeServiceCommand({ ServiceArn: arn }))).Service?.Status;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(status, 'CREATE_FAILED');
    const deleted = await client.send(new DeleteServiceCommand({ ServiceArn: arn }));
    const ops = await client.send(new ListOperationsCommand({ ServiceArn: arn }));
    assert.deepEqual(ops.OperationSummaryList?.map((o) => o.Type), ['DELETE_SERVICE', 'CREATE_SERVICE']);
    assert.equal(ops.OperationSummaryList?.[0]?.Id, deleted.OperationId);
    assert.equal(ops.OperationSummaryList?.[1]?.Status, 'FAILED');
    let final: string | undefined;
    while (Date.now() < deadline + 5000 && final !== 'DELETED') {
      final = (await client.send(new DescribeServiceCommand({ ServiceArn: arn }))).Service?.Status;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(final, 'DELETED');
    await rejects(client.send(new DeleteServiceCommand({ ServiceArn: arn })), 'ResourceNotFoundException', /has been deleted/);
    assert.equal(await liveServiceCount(), 3);
  });
});

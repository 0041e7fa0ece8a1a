/**
 * The service and tag operations as the official `@aws-sdk/client-apprunner` sees them
 * (app-runner-api.md §2.1, §2.8, §3.2, §3.16, §5.3–§5.5): the documented output shapes with
 * their defaults, deserialised by the SDK itself, and each asynchronous operation carried to
 * its documented end by the reconciler over an in-memory runtime whose instances listen.
 * The tests run in order and share one control plane; each names the services it makes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateServiceCommand,
  DeleteServiceCommand,
  DescribeServiceCommand,
  ListOperationsCommand,
  ListServicesCommand,
  ListTagsForResourceCommand,
  PauseServiceCommand,
  ResumeServiceCommand,
  StartDeploymentCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateServiceCommand,
  paginateListOperations,
  paginateListServices,
  type OperationSummary,
  type Service,
  type ServiceSummary,
} from '@aws-sdk/client-apprunner';
import { startApiHarness, type ApiHarness } from '../support/api-harness.ts';
import { waitFor } from '../support/berth-process.ts';

const IMAGE = 'registry.example.com/conformance/app:1';
const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const DEFAULT_ASC = `arn:aws:apprunner:${REGION}:${ACCOUNT}:autoscalingconfiguration/DefaultConfiguration/1/00000000000000000000000000000001`;
const KMS_KEY = 'arn:aws:kms:us-east-1:123456789012:key/01234567-89ab-cdef-0123-456789abcdef';

let api: ApiHarness;
/** ARNs of the services this file made and has not deleted, oldest first. */
const live: string[] = [];
/** The service the lifecycle tests drive, and its operations' ids, oldest first. */
let lifecycle: Service;
const lifecycleOperations: string[] = [];

before(async () => {
  api = await startApiHarness();
});

after(async () => {
  await api?.close();
});

const image = (identifier = IMAGE, env?: Record<string, string>) => ({
  ImageRepository: {
    ImageIdentifier: identifier,
    ImageRepositoryType: 'ECR' as const,
    ...(env !== undefined && { ImageConfiguration: { RuntimeEnvironmentVariables: env } }),
  },
});

async function describeService(arn: string): Promise<Service> {
  const { Service: service } = await api.client.send(new DescribeServiceCommand({ ServiceArn: arn }));
  assert.ok(service, 'DescribeService returned no Service');
  return service;
}

async function listOperations(arn: string): Promise<OperationSummary[]> {
  return (await api.client.send(new ListOperationsCommand({ ServiceArn: arn }))).OperationSummaryList ?? [];
}

const UNFINISHED = new Set(['PENDING', 'IN_PROGRESS', 'ROLLBACK_IN_PROGRESS']);

/** Waits until the operation has ended and returns its summary. */
async function finished(arn: string, operationId: string | undefined): Promise<OperationSummary> {
  assert.match(operationId ?? '', /^[0-9a-f]{32}$/, 'OperationId is 32 hex characters');
  let found: OperationSummary | undefined;
  await waitFor(
    async () => {
      found = (await listOperations(arn)).find((op) => op.Id === operationId);
      return found !== undefined && !UNFINISHED.has(found.Status ?? '');
    },
    20_000,
    () => `operation ${operationId} of ${arn} has not ended: ${JSON.stringify(found)}`,
  );
  assert.ok(found);
  return found;
}

function instancesOf(service: Service): { instanceId: string; revisionId: string }[] {
  return [...api.runtime.instances.values()].filter((i) => i.serviceId === service.ServiceId);
}

/** Instances of a finished deployment that are not the serving revision's go on the next pass. */
async function waitForInstanceCount(service: Service, count: number): Promise<void> {
  await waitFor(() => instancesOf(service).length === count, 10_000, () => `${service.ServiceName} has ${instancesOf(service).length} instances, not ${count}`);
}

function assertOperationSummary(op: OperationSummary, type: string, status: string, service: Service): void {
  assert.equal(op.Type, type);
  assert.equal(op.Status, status, `${type} ${op.Id} ended ${op.Status}`);
  assert.equal(op.TargetArn, service.ServiceArn);
  assert.ok(op.StartedAt instanceof Date && op.UpdatedAt instanceof Date && op.EndedAt instanceof Date, 'StartedAt, UpdatedAt and EndedAt are Dates');
  assert.ok(op.EndedAt.getTime() >= op.StartedAt.getTime());
}

/** Every member §3.2 requires, in the forms it documents. */
function assertServiceShape(service: Service | undefined, name: string): asserts service is Service {
  assert.ok(service, 'no Service in the output');
  assert.equal(service.ServiceName, name);
  assert.match(service.ServiceId ?? '', /^[0-9a-f]{32}$/);
  assert.equal(service.ServiceArn, `arn:aws:apprunner:${REGION}:${ACCOUNT}:service/${name}/${service.ServiceId}`);
  assert.match(service.ServiceUrl ?? '', /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/, 'ServiceUrl is a host name, without a scheme');
  assert.ok(service.CreatedAt instanceof Date, 'CreatedAt is a Date');
  assert.ok(service.UpdatedAt instanceof Date, 'UpdatedAt is a Date');
  assert.ok(service.UpdatedAt.getTime() >= service.CreatedAt.getTime());
  assert.ok(Math.abs(service.CreatedAt.getTime() - Date.now()) < 60_000, 'CreatedAt is now, in epoch seconds on the wire');
  assert.ok(service.Status);
  assert.ok(service.SourceConfiguration?.ImageRepository, 'SourceConfiguration.ImageRepository');
  assert.equal(typeof service.SourceConfiguration.AutoDeploymentsEnabled, 'boolean');
  assert.ok(service.InstanceConfiguration, 'InstanceConfiguration');
  assert.ok(service.NetworkConfiguration, 'NetworkConfiguration');
  const asc = service.AutoScalingConfigurationSummary;
  assert.ok(asc, 'AutoScalingConfigurationSummary');
  assert.ok(asc.CreatedAt instanceof Date, 'AutoScalingConfigurationSummary.CreatedAt is a Date');
}

describe('CreateService, DescribeService, ListServices', () => {
  test('CreateService returns the documented Service, defaults filled and sizes in numeric form', async () => {
    const name = 'conf-shape';
    const out = await api.client.send(
      new CreateServiceCommand({
        ServiceName: name,
        SourceConfiguration: image(),
        InstanceConfiguration: { Cpu: '0.25 vCPU', Memory: '0.5 GB' },
        EncryptionConfiguration: { KmsKey: KMS_KEY },
        Tags: [{ Key: 'team', Value: 'berth' }, { Key: 'env', Value: 'test' }],
      }),
    );
    assertServiceShape(out.Service, name);
    const service = out.Service;
    live.push(service.ServiceArn as string);
    assert.match(out.OperationId ?? '', /^[0-9a-f]{32}$/);
    assert.equal(service.Status, 'OPERATION_IN_PROGRESS');
    assert.equal(service.DeletedAt, undefined);
    assert.deepEqual(service.SourceConfiguration?.ImageRepository, {
      ImageIdentifier: IMAGE,
      ImageRepositoryType: 'ECR',
      ImageConfiguration: { Port: '8080' },
    });
    assert.deepEqual(service.InstanceConfiguration, { Cpu: '256', Memory: '512' });
    assert.deepEqual(service.HealthCheckConfiguration, { Protocol: 'TCP', Path: '/', Interval: 5, Timeout: 2, HealthyThreshold: 1, UnhealthyThreshold: 5 });
    assert.deepEqual(service.NetworkConfiguration, {
      EgressConfiguration: { EgressType: 'DEFAULT' },
      IngressConfiguration: { IsPubliclyAccessible: true },
      IpAddressType: 'IPV4',
    });
    assert.deepEqual(service.ObservabilityConfiguration, { ObservabilityEnabled: false });
    assert.deepEqual(service.EncryptionConfiguration, { KmsKey: KMS_KEY });
    const { CreatedAt: ascCreatedAt, ...asc } = service.AutoScalingConfigurationSummary ?? {};
    assert.ok(ascCreatedAt instanceof Date);
    assert.deepEqual(asc, {
      AutoScalingConfigurationArn: DEFAULT_ASC,
      AutoScalingConfigurationName: 'DefaultConfiguration',
      AutoScalingConfigurationRevision: 1,
      Status: 'ACTIVE',
      HasAssociatedService: true,
      IsDefault: true,
    });

    // The create operation runs to RUNNING; DescribeService then shows the same configuration.
    const op = await finished(service.ServiceArn as string, out.OperationId);
    assertOperationSummary(op, 'CREATE_SERVICE', 'SUCCEEDED', service);
    const described = await describeService(service.ServiceArn as string);
    assertServiceShape(described, name);
    assert.equal(described.Status, 'RUNNING');
    const { Status: _s, UpdatedAt: _u, ...createdRest } = service;
    const { Status: _s2, UpdatedAt: _u2, ...describedRest } = described;
    assert.deepEqual(describedRest, createdRest);
    assert.equal(instancesOf(described).length, 1, 'MinSize 1: one instance runs');
    assert.deepEqual(await listOperations(service.ServiceArn as string), [op]);
  });

  test('tags given at CreateService are listed by ListTagsForResource', async () => {
    const { Tags } = await api.client.send(new ListTagsForResourceCommand({ ResourceArn: live[0] }));
    assert.deepEqual(sortTags(Tags), [{ Key: 'env', Value: 'test' }, { Key: 'team', Value: 'berth' }]);
  });

  test('members sent as JSON null count as absent: the default auto scaling configuration, a tag without a value', async () => {
    const out = await api.call('CreateService', {
      ServiceName: 'conf-nulls',
      SourceConfiguration: image(),
      AutoScalingConfigurationArn: null,
      InstanceConfiguration: null,
      Tags: [{ Key: 'bare', Value: null }],
    });
    const service = out.Service as { ServiceArn: string; AutoScalingConfigurationSummary: { AutoScalingConfigurationName: string; IsDefault: boolean }; InstanceConfiguration: unknown };
    live.push(service.ServiceArn);
    assert.equal(service.AutoScalingConfigurationSummary.AutoScalingConfigurationName, 'DefaultConfiguration');
    assert.equal(service.AutoScalingConfigurationSummary.IsDefault, true);
    assert.deepEqual(service.InstanceConfiguration, { Cpu: '1024', Memory: '2048' });
    assert.deepEqual((await api.call('ListTagsForResource', { ResourceArn: service.ServiceArn })).Tags, [{ Key: 'bare' }]);
    await finished(service.ServiceArn, out.OperationId as string);
  });

  test('a numeric Cpu and Memory come back as sent', async () => {
    const out = await api.client.send(new CreateServiceCommand({ ServiceName: 'conf-numeric', SourceConfiguration: image(), InstanceConfiguration: { Cpu: '4096', Memory: '12288' } }));
    assertServiceShape(out.Service, 'conf-numeric');
    live.push(out.Service.ServiceArn as string);
    assert.deepEqual(out.Service.InstanceConfiguration, { Cpu: '4096', Memory: '12288' });
    assert.equal((await finished(out.Service.ServiceArn as string, out.OperationId)).Status, 'SUCCEEDED');
  });

  test('an image that cannot be pulled ends CREATE_FAILED, listed with the others', async () => {
    const missing = 'registry.example.com/conformance/missing:1';
    api.runtime.missingImages.add(missing);
    const out = await api.client.send(new CreateServiceCommand({ ServiceName: 'conf-failed', SourceConfiguration: image(missing) }));
    assertServiceShape(out.Service, 'conf-failed');
    live.push(out.Service.ServiceArn as string);
    const op = await finished(out.Service.ServiceArn as string, out.OperationId);
    assertOperationSummary(op, 'CREATE_SERVICE', 'FAILED', out.Service);
    assert.equal((await describeService(out.Service.ServiceArn as string)).Status, 'CREATE_FAILED');
    assert.equal(instancesOf(out.Service).length, 0);
  });

  test('ListServices returns a summary of each service: the seven documented members, in whole seconds', async () => {
    const { ServiceSummaryList, NextToken } = await api.client.send(new ListServicesCommand({}));
    assert.equal(NextToken, undefined, 'no MaxResults: everything in one page');
    assert.deepEqual(ServiceSummaryList?.map((s) => s.ServiceArn), live);
    for (const summary of ServiceSummaryList ?? []) {
      const service = await describeService(summary.ServiceArn as string);
      assert.deepEqual(Object.keys(summary).sort(), ['CreatedAt', 'ServiceArn', 'ServiceId', 'ServiceName', 'ServiceUrl', 'Status', 'UpdatedAt']);
      assert.equal(summary.ServiceName, service.ServiceName);
      assert.equal(summary.ServiceId, service.ServiceId);
      assert.equal(summary.ServiceUrl, service.ServiceUrl);
      assert.equal(summary.Status, service.Status);
      assert.ok(summary.CreatedAt instanceof Date && summary.UpdatedAt instanceof Date);
      assert.equal(summary.CreatedAt.getTime(), Math.floor((service.CreatedAt as Date).getTime() / 1000) * 1000);
    }
  });
});

describe('UpdateService, PauseService, ResumeService, StartDeployment', () => {
  test('UpdateService returns the new configuration at once and ends UPDATE_SERVICE SUCCEEDED, RUNNING', async () => {
    const created = await api.client.send(new CreateServiceCommand({ ServiceName: 'conf-lifecycle', SourceConfiguration: image() }));
    assertServiceShape(created.Service, 'conf-lifecycle');
    live.push(created.Service.ServiceArn as string);
    lifecycleOperations.push(created.OperationId as string);
    await finished(created.Service.ServiceArn as string, created.OperationId);
    lifecycle = await describeService(created.Service.ServiceArn as string);
    const [before] = instancesOf(lifecycle);
    assert.ok(before, 'one instance runs before the update');

    const out = await api.client.send(new UpdateServiceCommand({ ServiceArn: lifecycle.ServiceArn, InstanceConfiguration: { Cpu: '2 vCPU', Memory: '4 GB' } }));
    assertServiceShape(out.Service, 'conf-lifecycle');
    lifecycleOperations.push(out.OperationId as string);
    assert.equal(out.Service.Status, 'OPERATION_IN_PROGRESS');
    assert.deepEqual(out.Service.InstanceConfiguration, { Cpu: '2048', Memory: '4096' });
    // Only the members given change.
    assert.deepEqual(out.Service.SourceConfiguration, lifecycle.SourceConfiguration);
    assert.deepEqual(out.Service.HealthCheckConfiguration, lifecycle.HealthCheckConfiguration);
    assert.deepEqual(out.Service.NetworkConfiguration, lifecycle.NetworkConfiguration);
    assert.equal(out.Service.ServiceUrl, lifecycle.ServiceUrl);
    assert.equal(out.Service.CreatedAt?.getTime(), lifecycle.CreatedAt?.getTime());

    const op = await finished(lifecycle.ServiceArn as string, out.OperationId);
    assertOperationSummary(op, 'UPDATE_SERVICE', 'SUCCEEDED', lifecycle);
    const after = await describeService(lifecycle.ServiceArn as string);
    assert.equal(after.Status, 'RUNNING');
    assert.deepEqual(after.InstanceConfiguration, { Cpu: '2048', Memory: '4096' });
    // The new revision's instance replaced the old one.
    await waitForInstanceCount(lifecycle, 1);
    const [now] = instancesOf(lifecycle);
    assert.notEqual(now?.instanceId, before.instanceId, 'the update deployed a new instance');
    assert.equal((await listOperations(lifecycle.ServiceArn as string))[0]?.Id, out.OperationId, 'ListOperations: newest first');
  });

  test('PauseService ends PAUSED with no instance; tags may change while paused', async () => {
    const out = await api.client.send(new PauseServiceCommand({ ServiceArn: lifecycle.ServiceArn }));
    assertServiceShape(out.Service, 'conf-lifecycle');
    lifecycleOperations.push(out.OperationId as string);
    assert.equal(out.Service.Status, 'OPERATION_IN_PROGRESS');
    assertOperationSummary(await finished(lifecycle.ServiceArn as string, out.OperationId), 'PAUSE_SERVICE', 'SUCCEEDED', lifecycle);
    const paused = await describeService(lifecycle.ServiceArn as string);
    assert.equal(paused.Status, 'PAUSED');
    assert.equal(paused.ServiceUrl, lifecycle.ServiceUrl, 'the URL is kept while paused');
    assert.deepEqual(instancesOf(paused), [], 'no instance runs while paused');
    await api.client.send(new TagResourceCommand({ ResourceArn: lifecycle.ServiceArn, Tags: [{ Key: 'paused', Value: 'yes' }] }));
    assert.deepEqual((await api.client.send(new ListTagsForResourceCommand({ ResourceArn: lifecycle.ServiceArn }))).Tags, [{ Key: 'paused', Value: 'yes' }]);
  });

  test('ResumeService ends RUNNING on the same configuration, with MinSize instances', async () => {
    const out = await api.client.send(new ResumeServiceCommand({ ServiceArn: lifecycle.ServiceArn }));
    assertServiceShape(out.Service, 'conf-lifecycle');
    lifecycleOperations.push(out.OperationId as string);
    assert.equal(out.Service.Status, 'OPERATION_IN_PROGRESS');
    assertOperationSummary(await finished(lifecycle.ServiceArn as string, out.OperationId), 'RESUME_SERVICE', 'SUCCEEDED', lifecycle);
    const resumed = await describeService(lifecycle.ServiceArn as string);
    assert.equal(resumed.Status, 'RUNNING');
    assert.deepEqual(resumed.InstanceConfiguration, { Cpu: '2048', Memory: '4096' }, 'resume deploys the last deployed configuration');
    assert.equal(resumed.ServiceUrl, lifecycle.ServiceUrl);
    await waitForInstanceCount(resumed, 1);
  });

  test('StartDeployment returns an OperationId and ends START_DEPLOYMENT SUCCEEDED, RUNNING', async () => {
    const [before] = instancesOf(lifecycle);
    const out = await api.client.send(new StartDeploymentCommand({ ServiceArn: lifecycle.ServiceArn }));
    const { $metadata, ...members } = out;
    assert.equal($metadata.httpStatusCode, 200);
    assert.deepEqual(Object.keys(members), ['OperationId'], 'StartDeployment outputs only OperationId');
    lifecycleOperations.push(out.OperationId as string);
    assertOperationSummary(await finished(lifecycle.ServiceArn as string, out.OperationId), 'START_DEPLOYMENT', 'SUCCEEDED', lifecycle);
    assert.equal((await describeService(lifecycle.ServiceArn as string)).Status, 'RUNNING');
    await waitForInstanceCount(lifecycle, 1);
    assert.notEqual(instancesOf(lifecycle)[0]?.instanceId, before?.instanceId, 'a deployment starts a fresh instance');
  });

  test('an update to an image that cannot be pulled ends ROLLBACK_SUCCEEDED, RUNNING on the previous image', async () => {
    const created = await api.client.send(
      new CreateServiceCommand({ ServiceName: 'conf-rollback', SourceConfiguration: image(IMAGE, { VERSION: '1' }), InstanceConfiguration: { Cpu: '1024', Memory: '3072' } }),
    );
    assertServiceShape(created.Service, 'conf-rollback');
    const arn = created.Service.ServiceArn as string;
    live.push(arn);
    assert.deepEqual(created.Service.InstanceConfiguration, { Cpu: '1024', Memory: '3072' });
    await finished(arn, created.OperationId);
    const running = await describeService(arn);
    const [serving] = instancesOf(running);
    assert.ok(serving);

    const broken = 'registry.example.com/conformance/app:does-not-exist';
    api.runtime.missingImages.add(broken);
    const out = await api.client.send(
      new UpdateServiceCommand({ ServiceArn: arn, SourceConfiguration: image(broken, { VERSION: '2' }), InstanceConfiguration: { Cpu: '2 vCPU', Memory: '6 GB' } }),
    );
    assertServiceShape(out.Service, 'conf-rollback');
    assert.equal(out.Service.SourceConfiguration?.ImageRepository?.ImageIdentifier, broken, 'the output reflects the update at once');
    const op = await finished(arn, out.OperationId);
    assertOperationSummary(op, 'UPDATE_SERVICE', 'ROLLBACK_SUCCEEDED', running);

    const after = await describeService(arn);
    assert.equal(after.Status, 'RUNNING');
    assert.deepEqual(after.SourceConfiguration, running.SourceConfiguration, 'back on the previous image and environment');
    assert.deepEqual(after.InstanceConfiguration, { Cpu: '1024', Memory: '3072' }, 'back on the previous configuration');
    assert.deepEqual(
      instancesOf(after).map((i) => i.instanceId),
      [serving.instanceId],
      'the instance that served before the update kept serving',
    );
  });

  test('paginateListOperations with MaxResults 1 yields every operation, newest first, one per page', async () => {
    const pages: OperationSummary[][] = [];
    for await (const page of paginateListOperations({ client: api.client }, { ServiceArn: lifecycle.ServiceArn, MaxResults: 1 })) {
      pages.push(page.OperationSummaryList ?? []);
    }
    assert.equal(lifecycleOperations.length, 5);
    assert.deepEqual(pages.map((p) => p.length), [1, 1, 1, 1, 1], 'one operation per page, and no empty page after the last');
    const ids = pages.flat().map((op) => op.Id);
    assert.deepEqual(ids, [...lifecycleOperations].reverse());
    assert.deepEqual(pages.flat().map((op) => op.Type), ['START_DEPLOYMENT', 'RESUME_SERVICE', 'PAUSE_SERVICE', 'UPDATE_SERVICE', 'CREATE_SERVICE']);
    const started = pages.flat().map((op) => op.StartedAt?.getTime() ?? 0);
    assert.deepEqual(started, [...started].sort((a, b) => b - a), 'StartedAt never increases down the list');
  });
});

describe('DeleteService', () => {
  test('DeleteService ends DELETED with DeletedAt; the service leaves ListServices', async () => {
    const created = await api.client.send(new CreateServiceCommand({ ServiceName: 'conf-delete', SourceConfiguration: image() }));
    assertServiceShape(created.Service, 'conf-delete');
    const arn = created.Service.ServiceArn as string;
    await finished(arn, created.OperationId);

    const out = await api.client.send(new DeleteServiceCommand({ ServiceArn: arn }));
    assertServiceShape(out.Service, 'conf-delete');
    assert.equal(out.Service.Status, 'OPERATION_IN_PROGRESS');
    const op = await finished(arn, out.OperationId);
    assertOperationSummary(op, 'DELETE_SERVICE', 'SUCCEEDED', out.Service);
    const deleted = await describeService(arn);
    assertServiceShape(deleted, 'conf-delete');
    assert.equal(deleted.Status, 'DELETED');
    assert.ok(deleted.DeletedAt instanceof Date, 'DeletedAt is a Date');
    assert.ok(deleted.DeletedAt.getTime() >= (deleted.CreatedAt as Date).getTime());
    assert.deepEqual(instancesOf(deleted), []);
    const listed = (await api.client.send(new ListServicesCommand({}))).ServiceSummaryList?.map((s) => s.ServiceArn);
    assert.deepEqual(listed, live, 'a deleted service is not listed');
    assert.deepEqual((await listOperations(arn)).map((o) => o.Type), ['DELETE_SERVICE', 'CREATE_SERVICE']);
  });

  test('paginateListServices with MaxResults 1 yields every service once, in ListServices order', async () => {
    const pages: ServiceSummary[][] = [];
    for await (const page of paginateListServices({ client: api.client }, { MaxResults: 1 })) pages.push(page.ServiceSummaryList ?? []);
    assert.ok(live.length >= 4, `several pages: ${live.length}`);
    assert.deepEqual(pages.map((p) => p.length), live.map(() => 1), 'one service per page, and no empty page after the last');
    assert.deepEqual(pages.flat().map((s) => s.ServiceArn), live);
  });
});

describe('TagResource, UntagResource, ListTagsForResource', () => {
  test('TagResource upserts by key and UntagResource removes keys, both with empty outputs', async () => {
    const arn = live[0] as string;
    const tagged = await api.client.send(new TagResourceCommand({ ResourceArn: arn, Tags: [{ Key: 'team', Value: 'platform' }, { Key: 'cost-centre', Value: '42' }] }));
    assert.deepEqual(Object.keys(tagged), ['$metadata']);
    assert.deepEqual(sortTags((await api.client.send(new ListTagsForResourceCommand({ ResourceArn: arn }))).Tags), [
      { Key: 'cost-centre', Value: '42' },
      { Key: 'env', Value: 'test' },
      { Key: 'team', Value: 'platform' },
    ]);
    const untagged = await api.client.send(new UntagResourceCommand({ ResourceArn: arn, TagKeys: ['env', 'not-there'] }));
    assert.deepEqual(Object.keys(untagged), ['$metadata']);
    assert.deepEqual(sortTags((await api.client.send(new ListTagsForResourceCommand({ ResourceArn: arn }))).Tags), [
      { Key: 'cost-centre', Value: '42' },
      { Key: 'team', Value: 'platform' },
    ]);
  });

  test('an auto scaling configuration revision is taggable too', async () => {
    assert.deepEqual((await api.client.send(new ListTagsForResourceCommand({ ResourceArn: DEFAULT_ASC }))).Tags ?? [], []);
    await api.client.send(new TagResourceCommand({ ResourceArn: DEFAULT_ASC, Tags: [{ Key: 'owner', Value: 'ops' }] }));
    assert.deepEqual((await api.client.send(new ListTagsForResourceCommand({ ResourceArn: DEFAULT_ASC }))).Tags, [{ Key: 'owner', Value: 'ops' }]);
    await api.client.send(new UntagResourceCommand({ ResourceArn: DEFAULT_ASC, TagKeys: ['owner'] }));
    assert.deepEqual((await api.client.send(new ListTagsForResourceCommand({ ResourceArn: DEFAULT_ASC }))).Tags ?? [], []);
  });
});

function sortTags(tags: { Key?: string; Value?: string }[] | undefined): { Key?: string; Value?: string }[] {
  return [...(tags ?? [])].sort((a, b) => (a.Key ?? '').localeCompare(b.Key ?? ''));
}

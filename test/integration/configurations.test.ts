/**
 * Auto scaling and observability configurations (app-runner-api.md §2.2, §2.4, §3.8, §3.10,
 * §3.18, §5.1) through the official SDK against a real control plane: output shapes and values,
 * the revision scheme, partial ARNs, the account default, deletion, quotas and pagination.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateAutoScalingConfigurationCommand,
  CreateObservabilityConfigurationCommand,
  CreateServiceCommand,
  DeleteAutoScalingConfigurationCommand,
  DeleteObservabilityConfigurationCommand,
  DescribeAutoScalingConfigurationCommand,
  DescribeObservabilityConfigurationCommand,
  DescribeServiceCommand,
  ListAutoScalingConfigurationsCommand,
  ListObservabilityConfigurationsCommand,
  ListServicesForAutoScalingConfigurationCommand,
  ListTagsForResourceCommand,
  paginateListAutoScalingConfigurations,
  paginateListObservabilityConfigurations,
  paginateListServicesForAutoScalingConfiguration,
  UpdateDefaultAutoScalingConfigurationCommand,
  type AutoScalingConfiguration,
  type CreateServiceCommandInput,
  type ObservabilityConfiguration,
} from '@aws-sdk/client-apprunner';
import { startApiHarness, type ApiHarness } from '../support/api-harness.ts';

const PREFIX = 'arn:aws:apprunner:us-east-1:000000000000:';
const ASC = `${PREFIX}autoscalingconfiguration`;
const OBS = `${PREFIX}observabilityconfiguration`;
const PROVIDED_DEFAULT = `${ASC}/DefaultConfiguration/1/00000000000000000000000000000001`;

async function rejects(send: Promise<unknown>, type: string, mentions: RegExp, status = 400): Promise<void> {
  await assert.rejects(send, (error: Error & { $metadata?: { httpStatusCode?: number } }) => {
    assert.equal(error.name, type, error.message);
    assert.equal(error.$metadata?.httpStatusCode, status);
    assert.match(error.message, mentions);
    return true;
  });
}

function service(name: string, extra: Partial<CreateServiceCommandInput> = {}): CreateServiceCommandInput {
  return {
    ServiceName: name,
    SourceConfiguration: { ImageRepository: { ImageIdentifier: 'registry.example.com/app:1', ImageRepositoryType: 'ECR', ImageConfiguration: { Port: '8080' } } },
    ...extra,
  };
}

/** Every item of every page a paginator yields, and how many pages there were. */
async function collect<P, T>(pages: AsyncIterable<P>, items: (page: P) => T[] | undefined): Promise<{ items: T[]; pages: number }> {
  const all: T[] = [];
  let count = 0;
  for await (const page of pages) {
    count += 1;
    all.push(...(items(page) ?? []));
  }
  return { items: all, pages: count };
}

describe('auto scaling configurations', () => {
  let api: ApiHarness;
  const started = Date.now();
  // Filled as the tests go; each test builds on the ones before it.
  let rev1: AutoScalingConfiguration;
  let rev2: AutoScalingConfiguration;
  let webService: string;

  before(async () => {
    api = await startApiHarness({ quotas: { autoScalingConfigurations: 20 } });
  });
  after(async () => {
    await api?.close();
  });

  const create = async (input: { AutoScalingConfigurationName: string; MaxConcurrency?: number; MinSize?: number; MaxSize?: number; Tags?: { Key: string; Value: string }[] }) =>
    (await api.client.send(new CreateAutoScalingConfigurationCommand(input))).AutoScalingConfiguration!;
  const describeAsc = async (arn: string) => (await api.client.send(new DescribeAutoScalingConfigurationCommand({ AutoScalingConfigurationArn: arn }))).AutoScalingConfiguration!;

  test('a fresh installation has App Runner\'s DefaultConfiguration revision 1 as the default, 100/1/25', async () => {
    const provided = await describeAsc(`${ASC}/DefaultConfiguration`);
    assert.equal(provided.AutoScalingConfigurationArn, PROVIDED_DEFAULT);
    assert.deepEqual(
      { ...provided, CreatedAt: undefined },
      {
        AutoScalingConfigurationArn: PROVIDED_DEFAULT,
        AutoScalingConfigurationName: 'DefaultConfiguration',
        AutoScalingConfigurationRevision: 1,
        Latest: true,
        Status: 'ACTIVE',
        MaxConcurrency: 100,
        MinSize: 1,
        MaxSize: 25,
        CreatedAt: undefined,
        HasAssociatedService: false,
        IsDefault: true,
      },
    );
    assert.ok(provided.CreatedAt instanceof Date);
  });

  test('Create with a new name makes revision 1 with the defaults 100/1/25, not the default, tags kept', async () => {
    rev1 = await create({ AutoScalingConfigurationName: 'web-scaling', Tags: [{ Key: 'team', Value: 'web' }] });
    assert.match(rev1.AutoScalingConfigurationArn!, /^arn:aws:apprunner:us-east-1:000000000000:autoscalingconfiguration\/web-scaling\/1\/[0-9a-f]{32}$/);
    assert.equal(rev1.AutoScalingConfigurationName, 'web-scaling');
    assert.equal(rev1.AutoScalingConfigurationRevision, 1);
    assert.equal(rev1.Latest, true);
    assert.equal(rev1.Status, 'ACTIVE');
    assert.equal(rev1.MaxConcurrency, 100);
    assert.equal(rev1.MinSize, 1);
    assert.equal(rev1.MaxSize, 25);
    assert.equal(rev1.HasAssociatedService, false);
    assert.equal(rev1.IsDefault, false);
    assert.equal(rev1.DeletedAt, undefined);
    assert.ok(rev1.CreatedAt instanceof Date && rev1.CreatedAt.getTime() >= started - 1000 && rev1.CreatedAt.getTime() <= Date.now() + 1000);
    const tags = await api.client.send(new ListTagsForResourceCommand({ ResourceArn: rev1.AutoScalingConfigurationArn }));
    assert.deepEqual(tags.Tags, [{ Key: 'team', Value: 'web' }]);
  });

  test('Create with the same name makes the next revision, which is now the latest; the first is not', async () => {
    rev2 = await create({ AutoScalingConfigurationName: 'web-scaling', MaxConcurrency: 50, MinSize: 2, MaxSize: 2 });
    assert.match(rev2.AutoScalingConfigurationArn!, /autoscalingconfiguration\/web-scaling\/2\/[0-9a-f]{32}$/);
    assert.notEqual(rev2.AutoScalingConfigurationArn!.slice(-32), rev1.AutoScalingConfigurationArn!.slice(-32));
    assert.deepEqual([rev2.AutoScalingConfigurationRevision, rev2.Latest, rev2.MaxConcurrency, rev2.MinSize, rev2.MaxSize], [2, true, 50, 2, 2]);
    assert.equal((await describeAsc(rev1.AutoScalingConfigurationArn!)).Latest, false);
    // Tags belong to one revision.
    assert.deepEqual((await api.client.send(new ListTagsForResourceCommand({ ResourceArn: rev2.AutoScalingConfigurationArn }))).Tags, []);
  });

  test('Describe takes the full ARN, .../<name> (latest active revision) and .../<name>/<revision>', async () => {
    assert.deepEqual(await describeAsc(rev1.AutoScalingConfigurationArn!), { ...rev1, Latest: false });
    assert.deepEqual(await describeAsc(`${ASC}/web-scaling`), rev2);
    assert.deepEqual(await describeAsc(`${ASC}/web-scaling/1`), { ...rev1, Latest: false });
    assert.deepEqual(await describeAsc(`${ASC}/web-scaling/2`), rev2);
    await rejects(describeAsc(`${ASC}/web-scaling/3`), 'ResourceNotFoundException', /web-scaling\/3/);
    await rejects(describeAsc(`${ASC}/web-scaling/2/${'0'.repeat(32)}`), 'ResourceNotFoundException', /web-scaling\/2\/0{32}/);
  });

  test('MinSize greater than MaxSize is refused; MaxSize has no upper bound', async () => {
    await rejects(create({ AutoScalingConfigurationName: 'web-scaling', MinSize: 5, MaxSize: 3 }), 'InvalidRequestException', /'5' at 'minSize' is greater than MaxSize 3/);
    await rejects(create({ AutoScalingConfigurationName: 'too-small', MinSize: 20, MaxSize: 19 }), 'InvalidRequestException', /MinSize must be less than or equal to MaxSize/);
    // MaxSize has no upper bound in the newest model; MinSize 25 with the default MaxSize 25 is fine.
    const wide = await create({ AutoScalingConfigurationName: 'wide-scale', MinSize: 25, MaxSize: 100 });
    assert.deepEqual([wide.MinSize, wide.MaxSize], [25, 100]);
    await rejects(describeAsc(`${ASC}/too-small`), 'ResourceNotFoundException', /too-small/);
  });

  test('List returns the latest revision of each name by default, every active one with LatestOnly false, by name', async () => {
    const latest = (await api.client.send(new ListAutoScalingConfigurationsCommand({}))).AutoScalingConfigurationSummaryList!;
    assert.deepEqual(
      latest.map((s) => [s.AutoScalingConfigurationName, s.AutoScalingConfigurationRevision]),
      [['DefaultConfiguration', 1], ['web-scaling', 2], ['wide-scale', 1]],
    );
    const summary = latest[1]!;
    assert.deepEqual(Object.keys(summary).sort(), [
      'AutoScalingConfigurationArn', 'AutoScalingConfigurationName', 'AutoScalingConfigurationRevision', 'CreatedAt', 'HasAssociatedService', 'IsDefault', 'Status',
    ]);
    assert.deepEqual({ ...summary }, {
      AutoScalingConfigurationArn: rev2.AutoScalingConfigurationArn,
      AutoScalingConfigurationName: 'web-scaling',
      AutoScalingConfigurationRevision: 2,
      Status: 'ACTIVE',
      CreatedAt: rev2.CreatedAt,
      HasAssociatedService: false,
      IsDefault: false,
    });
    assert.equal(latest[0]!.IsDefault, true);
    const every = (await api.client.send(new ListAutoScalingConfigurationsCommand({ LatestOnly: false }))).AutoScalingConfigurationSummaryList!;
    assert.deepEqual(every.map((s) => s.AutoScalingConfigurationArn), [PROVIDED_DEFAULT, rev1.AutoScalingConfigurationArn, rev2.AutoScalingConfigurationArn, every[3]!.AutoScalingConfigurationArn]);
    const named = (await api.client.send(new ListAutoScalingConfigurationsCommand({ AutoScalingConfigurationName: 'web-scaling', LatestOnly: false }))).AutoScalingConfigurationSummaryList!;
    assert.deepEqual(named.map((s) => s.AutoScalingConfigurationRevision), [1, 2]);
    const none = await api.client.send(new ListAutoScalingConfigurationsCommand({ AutoScalingConfigurationName: 'nobody-here' }));
    assert.deepEqual(none.AutoScalingConfigurationSummaryList, []);
    assert.equal(none.NextToken, undefined);
  });

  test('a service created with .../<name> gets the latest revision; DescribeService shows its summary', async () => {
    const created = await api.client.send(new CreateServiceCommand(service('web-app', { AutoScalingConfigurationArn: `${ASC}/web-scaling` })));
    webService = created.Service!.ServiceArn!;
    const summary = created.Service!.AutoScalingConfigurationSummary!;
    assert.equal(summary.AutoScalingConfigurationArn, rev2.AutoScalingConfigurationArn);
    await api.settle();
    const described = (await api.client.send(new DescribeServiceCommand({ ServiceArn: webService }))).Service!;
    assert.deepEqual({ ...described.AutoScalingConfigurationSummary }, {
      AutoScalingConfigurationArn: rev2.AutoScalingConfigurationArn,
      AutoScalingConfigurationName: 'web-scaling',
      AutoScalingConfigurationRevision: 2,
      Status: 'ACTIVE',
      CreatedAt: rev2.CreatedAt,
      HasAssociatedService: true,
      IsDefault: false,
    });
    assert.equal((await describeAsc(rev2.AutoScalingConfigurationArn!)).HasAssociatedService, true);
    assert.equal((await describeAsc(rev1.AutoScalingConfigurationArn!)).HasAssociatedService, false);
  });

  test('ListServicesForAutoScalingConfiguration: the services using the revision an ARN names', async () => {
    const list = (arn: string) => api.client.send(new ListServicesForAutoScalingConfigurationCommand({ AutoScalingConfigurationArn: arn }));
    assert.deepEqual((await list(rev2.AutoScalingConfigurationArn!)).ServiceArnList, [webService]);
    assert.deepEqual((await list(`${ASC}/web-scaling`)).ServiceArnList, [webService]);
    assert.deepEqual((await list(`${ASC}/web-scaling/1`)).ServiceArnList, []);
    assert.deepEqual((await list(PROVIDED_DEFAULT)).ServiceArnList, []);
    assert.equal((await list(`${ASC}/web-scaling/2`)).NextToken, undefined);
    await rejects(list(`${ASC}/no-such-config`), 'ResourceNotFoundException', /no-such-config/);
  });

  test('a revision in use, and the account default, cannot be deleted', async () => {
    const del = (arn: string, all?: boolean) => api.client.send(new DeleteAutoScalingConfigurationCommand({ AutoScalingConfigurationArn: arn, DeleteAllRevisions: all }));
    await rejects(del(rev2.AutoScalingConfigurationArn!), 'InvalidRequestException', /is in use by service 'web-app'/);
    // DeleteAllRevisions covers revision 2 as well.
    await rejects(del(`${ASC}/web-scaling`, true), 'InvalidRequestException', /in use by service 'web-app'/);
    await rejects(del(PROVIDED_DEFAULT), 'InvalidRequestException', /default for new services.*UpdateDefaultAutoScalingConfiguration/);
    assert.equal((await describeAsc(rev1.AutoScalingConfigurationArn!)).Status, 'ACTIVE');
    assert.equal((await describeAsc(PROVIDED_DEFAULT)).Status, 'ACTIVE');
  });

  test('UpdateDefault moves IsDefault; only services created afterwards get the new default', async () => {
    await create({ AutoScalingConfigurationName: 'tiny-scale', MaxSize: 3 });
    const tiny2 = await create({ AutoScalingConfigurationName: 'tiny-scale', MaxSize: 2 });
    const before = (await api.client.send(new CreateServiceCommand(service('before-default')))).Service!;
    assert.equal(before.AutoScalingConfigurationSummary!.AutoScalingConfigurationArn, PROVIDED_DEFAULT);
    assert.equal(before.AutoScalingConfigurationSummary!.IsDefault, true);

    // The name-only form makes the latest revision the default.
    const updated = (await api.client.send(new UpdateDefaultAutoScalingConfigurationCommand({ AutoScalingConfigurationArn: `${ASC}/tiny-scale` }))).AutoScalingConfiguration!;
    assert.equal(updated.AutoScalingConfigurationArn, tiny2.AutoScalingConfigurationArn);
    assert.equal(updated.IsDefault, true);
    assert.equal(updated.MaxSize, 2);
    assert.equal((await describeAsc(PROVIDED_DEFAULT)).IsDefault, false);
    assert.equal((await describeAsc(`${ASC}/tiny-scale/1`)).IsDefault, false);
    const defaults = (await api.client.send(new ListAutoScalingConfigurationsCommand({ LatestOnly: false }))).AutoScalingConfigurationSummaryList!.filter((s) => s.IsDefault);
    assert.deepEqual(defaults.map((s) => s.AutoScalingConfigurationArn), [tiny2.AutoScalingConfigurationArn]);

    const after = (await api.client.send(new CreateServiceCommand(service('after-default')))).Service!;
    assert.equal(after.AutoScalingConfigurationSummary!.AutoScalingConfigurationArn, tiny2.AutoScalingConfigurationArn);
    assert.equal(after.AutoScalingConfigurationSummary!.IsDefault, true);
    await api.settle();
    const stillBefore = (await api.client.send(new DescribeServiceCommand({ ServiceArn: before.ServiceArn }))).Service!;
    assert.equal(stillBefore.AutoScalingConfigurationSummary!.AutoScalingConfigurationArn, PROVIDED_DEFAULT);
    assert.equal(stillBefore.AutoScalingConfigurationSummary!.IsDefault, false);

    // Back to App Runner's configuration, by revision form; no longer the default, it can be deleted when unused.
    const back = (await api.client.send(new UpdateDefaultAutoScalingConfigurationCommand({ AutoScalingConfigurationArn: `${ASC}/DefaultConfiguration/1` }))).AutoScalingConfiguration!;
    assert.deepEqual([back.AutoScalingConfigurationArn, back.IsDefault, back.HasAssociatedService], [PROVIDED_DEFAULT, true, true]);
    assert.equal((await describeAsc(tiny2.AutoScalingConfigurationArn!)).IsDefault, false);
    // Making the default the default again changes nothing.
    assert.equal((await api.client.send(new UpdateDefaultAutoScalingConfigurationCommand({ AutoScalingConfigurationArn: PROVIDED_DEFAULT }))).AutoScalingConfiguration!.IsDefault, true);
  });

  test('Delete returns the revision INACTIVE with DeletedAt and Latest false; it stays describable but is no longer listed', async () => {
    const deleted = (await api.client.send(new DeleteAutoScalingConfigurationCommand({ AutoScalingConfigurationArn: `${ASC}/web-scaling/1` }))).AutoScalingConfiguration!;
    assert.equal(deleted.AutoScalingConfigurationArn, rev1.AutoScalingConfigurationArn);
    assert.equal(deleted.Status, 'INACTIVE');
    assert.equal(deleted.Latest, false);
    assert.ok(deleted.DeletedAt instanceof Date && deleted.DeletedAt.getTime() >= rev1.CreatedAt!.getTime());
    assert.equal(deleted.MaxConcurrency, 100);
    assert.deepEqual(await describeAsc(rev1.AutoScalingConfigurationArn!), deleted);
    const every = (await api.client.send(new ListAutoScalingConfigurationsCommand({ AutoScalingConfigurationName: 'web-scaling', LatestOnly: false }))).AutoScalingConfigurationSummaryList!;
    assert.deepEqual(every.map((s) => s.AutoScalingConfigurationRevision), [2]);
    await rejects(
      api.client.send(new DeleteAutoScalingConfigurationCommand({ AutoScalingConfigurationArn: rev1.AutoScalingConfigurationArn })),
      'ResourceNotFoundException',
      /already been deleted/,
    );
  });

  test('Delete by .../<name> deletes only the latest revision; the one before becomes the latest', async () => {
    const pair1 = await create({ AutoScalingConfigurationName: 'pair-scale', MaxConcurrency: 10 });
    await create({ AutoScalingConfigurationName: 'pair-scale', MaxConcurrency: 20 });
    const deleted = (await api.client.send(new DeleteAutoScalingConfigurationCommand({ AutoScalingConfigurationArn: `${ASC}/pair-scale` }))).AutoScalingConfiguration!;
    assert.deepEqual([deleted.AutoScalingConfigurationRevision, deleted.Status, deleted.MaxConcurrency], [2, 'INACTIVE', 20]);
    assert.deepEqual(await describeAsc(`${ASC}/pair-scale`), pair1);
  });

  test('DeleteAllRevisions deletes every revision of the name, only with the .../<name> form; numbers are never reused', async () => {
    for (let i = 0; i < 3; i += 1) await create({ AutoScalingConfigurationName: 'batch-jobs' });
    await rejects(
      api.client.send(new DeleteAutoScalingConfigurationCommand({ AutoScalingConfigurationArn: `${ASC}/batch-jobs/2`, DeleteAllRevisions: true })),
      'InvalidRequestException',
      /'deleteAllRevisions' is true but .*batch-jobs\/2' at 'autoScalingConfigurationArn' names one revision/,
    );
    const deleted = (await api.client.send(new DeleteAutoScalingConfigurationCommand({ AutoScalingConfigurationArn: `${ASC}/batch-jobs`, DeleteAllRevisions: true })))
      .AutoScalingConfiguration!;
    assert.deepEqual([deleted.AutoScalingConfigurationRevision, deleted.Status, deleted.Latest], [3, 'INACTIVE', false]);
    for (const revision of [1, 2, 3]) assert.equal((await describeAsc(`${ASC}/batch-jobs/${revision}`)).Status, 'INACTIVE');
    await rejects(describeAsc(`${ASC}/batch-jobs`), 'ResourceNotFoundException', /batch-jobs/);
    const listed = await api.client.send(new ListAutoScalingConfigurationsCommand({ AutoScalingConfigurationName: 'batch-jobs', LatestOnly: false }));
    assert.deepEqual(listed.AutoScalingConfigurationSummaryList, []);
    const again = await create({ AutoScalingConfigurationName: 'batch-jobs' });
    assert.deepEqual([again.AutoScalingConfigurationRevision, again.Latest], [4, true]);
  });

  test('members sent as JSON null count as absent', async () => {
    const made = (await api.call('CreateAutoScalingConfiguration', { AutoScalingConfigurationName: 'null-scale', MaxConcurrency: null, MinSize: null, MaxSize: null, Tags: null }))
      .AutoScalingConfiguration as Record<string, unknown>;
    assert.deepEqual([made.MaxConcurrency, made.MinSize, made.MaxSize], [100, 1, 25]);
    const listed = await api.call('ListAutoScalingConfigurations', { AutoScalingConfigurationName: null, LatestOnly: null, MaxResults: null, NextToken: null });
    assert.deepEqual(listed, await api.call('ListAutoScalingConfigurations', {}));
    const deleted = await api.call('DeleteAutoScalingConfiguration', { AutoScalingConfigurationArn: `${ASC}/null-scale`, DeleteAllRevisions: null });
    assert.equal((deleted.AutoScalingConfiguration as Record<string, unknown>).Status, 'INACTIVE');
  });

  test('paginateListAutoScalingConfigurations collects every configuration over several pages', async () => {
    const made: string[] = [];
    for (const name of ['page-aa', 'page-bb', 'page-cc', 'page-dd', 'page-ee']) made.push((await create({ AutoScalingConfigurationName: name })).AutoScalingConfigurationArn!);
    const all = (await api.client.send(new ListAutoScalingConfigurationsCommand({}))).AutoScalingConfigurationSummaryList!.map((s) => s.AutoScalingConfigurationArn);
    assert.ok(made.every((arn) => all.includes(arn)));
    const paged = await collect(paginateListAutoScalingConfigurations({ client: api.client, pageSize: 2 }, {}), (p) => p.AutoScalingConfigurationSummaryList);
    assert.deepEqual(paged.items.map((s) => s.AutoScalingConfigurationArn), all);
    assert.equal(paged.pages, Math.ceil(all.length / 2));
    const revisions = await collect(
      paginateListAutoScalingConfigurations({ client: api.client, pageSize: 1 }, { AutoScalingConfigurationName: 'web-scaling', LatestOnly: false }),
      (p) => p.AutoScalingConfigurationSummaryList,
    );
    assert.deepEqual(revisions.items.map((s) => s.AutoScalingConfigurationArn), [rev2.AutoScalingConfigurationArn]);
    const pages = await collect(paginateListAutoScalingConfigurations({ client: api.client, pageSize: 3 }, { LatestOnly: false }), (p) => p.AutoScalingConfigurationSummaryList);
    const everyActive = (await api.client.send(new ListAutoScalingConfigurationsCommand({ LatestOnly: false }))).AutoScalingConfigurationSummaryList!;
    assert.deepEqual(pages.items, everyActive);
    assert.ok(pages.pages >= 3);
  });

  test('paginateListServicesForAutoScalingConfiguration collects every service over several pages', async () => {
    await create({ AutoScalingConfigurationName: 'shared-scale' });
    const arns: string[] = [];
    for (const name of ['shared-one', 'shared-two', 'shared-three']) {
      arns.push((await api.client.send(new CreateServiceCommand(service(name, { AutoScalingConfigurationArn: `${ASC}/shared-scale/1` })))).Service!.ServiceArn!);
    }
    await api.settle();
    const paged = await collect(
      paginateListServicesForAutoScalingConfiguration({ client: api.client, pageSize: 1 }, { AutoScalingConfigurationArn: `${ASC}/shared-scale` }),
      (p) => p.ServiceArnList,
    );
    assert.deepEqual(paged.items, arns);
    assert.equal(paged.pages, 3);
    const two = await api.client.send(new ListServicesForAutoScalingConfigurationCommand({ AutoScalingConfigurationArn: `${ASC}/shared-scale`, MaxResults: 2 }));
    assert.deepEqual(two.ServiceArnList, arns.slice(0, 2));
    assert.equal(typeof two.NextToken, 'string');
    // A token is bound to its listing.
    await rejects(
      api.client.send(new ListServicesForAutoScalingConfigurationCommand({ AutoScalingConfigurationArn: `${ASC}/web-scaling`, NextToken: two.NextToken })),
      'InvalidRequestException',
      /NextToken/,
    );
  });
});

describe('observability configurations', () => {
  let api: ApiHarness;
  let first: ObservabilityConfiguration;
  let second: ObservabilityConfiguration;

  before(async () => {
    api = await startApiHarness();
  });
  after(async () => {
    await api?.close();
  });

  const create = async (name: string, trace = false, tags?: { Key: string; Value: string }[]) =>
    (await api.client.send(new CreateObservabilityConfigurationCommand({ ObservabilityConfigurationName: name, ...(trace && { TraceConfiguration: { Vendor: 'AWSXRAY' } }), Tags: tags })))
      .ObservabilityConfiguration!;
  const describeObs = async (arn: string) => (await api.client.send(new DescribeObservabilityConfigurationCommand({ ObservabilityConfigurationArn: arn }))).ObservabilityConfiguration!;

  test('Create makes revision 1 with tracing when TraceConfiguration is given, then revision 2', async () => {
    first = await create('tracing', true, [{ Key: 'env', Value: 'prod' }]);
    assert.match(first.ObservabilityConfigurationArn!, /^arn:aws:apprunner:us-east-1:000000000000:observabilityconfiguration\/tracing\/1\/[0-9a-f]{32}$/);
    assert.deepEqual({ ...first, CreatedAt: undefined }, {
      ObservabilityConfigurationArn: first.ObservabilityConfigurationArn,
      ObservabilityConfigurationName: 'tracing',
      TraceConfiguration: { Vendor: 'AWSXRAY' },
      ObservabilityConfigurationRevision: 1,
      Latest: true,
      Status: 'ACTIVE',
      CreatedAt: undefined,
    });
    assert.ok(first.CreatedAt instanceof Date && Math.abs(first.CreatedAt.getTime() - Date.now()) < 5000);
    assert.deepEqual((await api.client.send(new ListTagsForResourceCommand({ ResourceArn: first.ObservabilityConfigurationArn }))).Tags, [{ Key: 'env', Value: 'prod' }]);

    // Without TraceConfiguration tracing is off: the member is absent.
    second = await create('tracing');
    assert.match(second.ObservabilityConfigurationArn!, /observabilityconfiguration\/tracing\/2\/[0-9a-f]{32}$/);
    assert.deepEqual([second.ObservabilityConfigurationRevision, second.Latest, second.TraceConfiguration, second.DeletedAt], [2, true, undefined, undefined]);
    assert.equal((await describeObs(first.ObservabilityConfigurationArn!)).Latest, false);
  });

  test('the name DefaultConfiguration is reserved', async () => {
    await rejects(create('DefaultConfiguration', true), 'InvalidRequestException', /'DefaultConfiguration' at 'observabilityConfigurationName' is reserved/);
  });

  test('Describe takes the full ARN, .../<name> and .../<name>/<revision>', async () => {
    assert.deepEqual(await describeObs(`${OBS}/tracing`), second);
    assert.deepEqual(await describeObs(`${OBS}/tracing/1`), { ...first, Latest: false });
    assert.deepEqual(await describeObs(second.ObservabilityConfigurationArn!), second);
    await rejects(describeObs(`${OBS}/tracing/7`), 'ResourceNotFoundException', /tracing\/7/);
    await rejects(describeObs(`${OBS}/DefaultConfiguration`), 'ResourceNotFoundException', /DefaultConfiguration/);
  });

  test('List: latest of each name by default, every active revision with LatestOnly false, the name filter; summaries are ARN, name, revision', async () => {
    const other = await create('metrics-only');
    const latest = (await api.client.send(new ListObservabilityConfigurationsCommand({}))).ObservabilityConfigurationSummaryList!;
    assert.deepEqual(latest.map((s) => ({ ...s })), [
      { ObservabilityConfigurationArn: other.ObservabilityConfigurationArn, ObservabilityConfigurationName: 'metrics-only', ObservabilityConfigurationRevision: 1 },
      { ObservabilityConfigurationArn: second.ObservabilityConfigurationArn, ObservabilityConfigurationName: 'tracing', ObservabilityConfigurationRevision: 2 },
    ]);
    const every = (await api.client.send(new ListObservabilityConfigurationsCommand({ LatestOnly: false }))).ObservabilityConfigurationSummaryList!;
    assert.deepEqual(every.map((s) => s.ObservabilityConfigurationArn), [other.ObservabilityConfigurationArn, first.ObservabilityConfigurationArn, second.ObservabilityConfigurationArn]);
    const named = (await api.client.send(new ListObservabilityConfigurationsCommand({ ObservabilityConfigurationName: 'tracing', LatestOnly: false }))).ObservabilityConfigurationSummaryList!;
    assert.deepEqual(named.map((s) => s.ObservabilityConfigurationRevision), [1, 2]);
  });

  test('a service given .../<name> uses the latest revision; that revision cannot be deleted, an unused one can', async () => {
    const created = await api.client.send(
      new CreateServiceCommand(service('traced-app', { ObservabilityConfiguration: { ObservabilityEnabled: true, ObservabilityConfigurationArn: `${OBS}/tracing` } })),
    );
    await api.settle();
    const described = (await api.client.send(new DescribeServiceCommand({ ServiceArn: created.Service!.ServiceArn }))).Service!;
    assert.deepEqual(described.ObservabilityConfiguration, { ObservabilityEnabled: true, ObservabilityConfigurationArn: second.ObservabilityConfigurationArn });
    await rejects(
      api.client.send(new DeleteObservabilityConfigurationCommand({ ObservabilityConfigurationArn: `${OBS}/tracing` })),
      'InvalidRequestException',
      /in use by service 'traced-app'/,
    );
    assert.equal((await describeObs(second.ObservabilityConfigurationArn!)).Status, 'ACTIVE');

    const deleted = (await api.client.send(new DeleteObservabilityConfigurationCommand({ ObservabilityConfigurationArn: `${OBS}/tracing/1` }))).ObservabilityConfiguration!;
    assert.equal(deleted.ObservabilityConfigurationArn, first.ObservabilityConfigurationArn);
    assert.deepEqual([deleted.Status, deleted.Latest, deleted.TraceConfiguration], ['INACTIVE', false, { Vendor: 'AWSXRAY' }]);
    assert.ok(deleted.DeletedAt instanceof Date && deleted.DeletedAt.getTime() >= first.CreatedAt!.getTime());
    assert.deepEqual(await describeObs(first.ObservabilityConfigurationArn!), deleted);
    const named = (await api.client.send(new ListObservabilityConfigurationsCommand({ ObservabilityConfigurationName: 'tracing', LatestOnly: false }))).ObservabilityConfigurationSummaryList!;
    assert.deepEqual(named.map((s) => s.ObservabilityConfigurationRevision), [2]);
    await rejects(
      api.client.send(new DeleteObservabilityConfigurationCommand({ ObservabilityConfigurationArn: first.ObservabilityConfigurationArn })),
      'ResourceNotFoundException',
      /already been deleted/,
    );
  });

  test('Delete by .../<name> deletes the latest revision; a later create takes the next number', async () => {
    await create('metrics-only');
    const deleted = (await api.client.send(new DeleteObservabilityConfigurationCommand({ ObservabilityConfigurationArn: `${OBS}/metrics-only` }))).ObservabilityConfiguration!;
    assert.deepEqual([deleted.ObservabilityConfigurationRevision, deleted.Status], [2, 'INACTIVE']);
    assert.equal((await describeObs(`${OBS}/metrics-only`)).ObservabilityConfigurationRevision, 1);
    assert.equal((await describeObs(`${OBS}/metrics-only`)).Latest, true);
    assert.equal((await create('metrics-only')).ObservabilityConfigurationRevision, 3);
  });

  test('members sent as JSON null count as absent', async () => {
    const made = (await api.call('CreateObservabilityConfiguration', { ObservabilityConfigurationName: 'null-trace', TraceConfiguration: null, Tags: null }))
      .ObservabilityConfiguration as Record<string, unknown>;
    assert.equal(made.TraceConfiguration, undefined);
    const listed = await api.call('ListObservabilityConfigurations', { ObservabilityConfigurationName: null, LatestOnly: null, MaxResults: null, NextToken: null });
    assert.deepEqual(listed, await api.call('ListObservabilityConfigurations', {}));
    await api.call('DeleteObservabilityConfiguration', { ObservabilityConfigurationArn: made.ObservabilityConfigurationArn });
  });

  test('paginateListObservabilityConfigurations collects every configuration over several pages', async () => {
    for (const name of ['obs-aaaa', 'obs-bbbb', 'obs-cccc', 'obs-dddd']) await create(name);
    const all = (await api.client.send(new ListObservabilityConfigurationsCommand({ LatestOnly: false }))).ObservabilityConfigurationSummaryList!;
    // tracing/2, metrics-only/1 and /3, and the four just made.
    assert.equal(all.length, 7);
    const paged = await collect(paginateListObservabilityConfigurations({ client: api.client, pageSize: 3 }, { LatestOnly: false }), (p) => p.ObservabilityConfigurationSummaryList);
    assert.deepEqual(paged.items, all);
    assert.equal(paged.pages, 3);
    const latest = await collect(paginateListObservabilityConfigurations({ client: api.client, pageSize: 2 }, {}), (p) => p.ObservabilityConfigurationSummaryList);
    assert.deepEqual(latest.items.map((s) => s.ObservabilityConfigurationName), ['metrics-only', 'obs-aaaa', 'obs-bbbb', 'obs-cccc', 'obs-dddd', 'tracing']);
    assert.equal(latest.pages, 3);
  });
});

describe('configuration quotas', () => {
  let api: ApiHarness;

  before(async () => {
    api = await startApiHarness({
      quotas: { autoScalingConfigurations: 2, autoScalingConfigurationRevisions: 2, observabilityConfigurations: 1, observabilityConfigurationRevisions: 2 },
    });
  });
  after(async () => {
    await api?.close();
  });

  const createAsc = (name: string) => api.client.send(new CreateAutoScalingConfigurationCommand({ AutoScalingConfigurationName: name }));
  const createObs = (name: string) => api.client.send(new CreateObservabilityConfigurationCommand({ ObservabilityConfigurationName: name }));

  test('auto scaling: names and revisions per name are limited (402); App Runner\'s own configuration does not count; deleting frees room', async () => {
    await createAsc('quota-one');
    await createAsc('quota-two');
    await rejects(createAsc('quota-three'), 'ServiceQuotaExceededException', /quota of 2 auto scaling configuration names.*'quota-three'/, 402);
    await createAsc('quota-one');
    await rejects(createAsc('quota-one'), 'ServiceQuotaExceededException', /'quota-one' has reached the quota of 2 active revisions/, 402);
    const listed = (await api.client.send(new ListAutoScalingConfigurationsCommand({ LatestOnly: false }))).AutoScalingConfigurationSummaryList!;
    assert.equal(listed.length, 4);

    await api.client.send(new DeleteAutoScalingConfigurationCommand({ AutoScalingConfigurationArn: `${ASC}/quota-one/1` }));
    assert.equal((await createAsc('quota-one')).AutoScalingConfiguration!.AutoScalingConfigurationRevision, 3);
    await api.client.send(new DeleteAutoScalingConfigurationCommand({ AutoScalingConfigurationArn: `${ASC}/quota-two`, DeleteAllRevisions: true }));
    assert.equal((await createAsc('quota-three')).AutoScalingConfiguration!.AutoScalingConfigurationRevision, 1);
  });

  test('observability: names and revisions per name are limited (402)', async () => {
    await createObs('obs-quota');
    await rejects(createObs('obs-other'), 'ServiceQuotaExceededException', /quota of 1 observability configuration names/, 402);
    await createObs('obs-quota');
    await rejects(createObs('obs-quota'), 'ServiceQuotaExceededException', /'obs-quota' has reached the quota of 2 active revisions/, 402);
    const listed = (await api.client.send(new ListObservabilityConfigurationsCommand({ LatestOnly: false }))).ObservabilityConfigurationSummaryList!;
    assert.equal(listed.length, 2);
  });
});

/**
 * VPC connectors and VPC ingress connections (app-runner-api.md §2.6, §2.7) through the
 * official SDK against a real control plane: their output shapes, the ingress connection
 * lifecycle as the reconciler moves it, the state rules, what blocks deleting a connector or
 * a service, quotas, pagination and filters.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateServiceCommand,
  CreateVpcConnectorCommand,
  CreateVpcIngressConnectionCommand,
  DeleteServiceCommand,
  DeleteVpcConnectorCommand,
  DeleteVpcIngressConnectionCommand,
  DescribeServiceCommand,
  DescribeVpcConnectorCommand,
  DescribeVpcIngressConnectionCommand,
  ListTagsForResourceCommand,
  ListVpcConnectorsCommand,
  ListVpcIngressConnectionsCommand,
  paginateListVpcConnectors,
  paginateListVpcIngressConnections,
  UpdateVpcIngressConnectionCommand,
  type Service,
  type VpcIngressConnection,
} from '@aws-sdk/client-apprunner';
import { newHexId } from '../../src/core/ids.ts';
import { startApiHarness, type ApiHarness } from '../support/api-harness.ts';
import { waitFor } from '../support/berth-process.ts';

const QUOTAS = { vpcConnectors: 4, vpcIngressConnections: 4 };
let api: ApiHarness;
let web: Service;

const subnet = (n: number): string => `subnet-${n.toString(16).padStart(17, '0')}`;
const endpoint = (n: number): string => `vpce-${n.toString(16).padStart(17, '0')}`;
const vpcId = 'vpc-0a1b2c3d4e5f67890';

async function createService(name: string, extra: Record<string, unknown> = {}): Promise<Service> {
  const { Service: service } = await api.client.send(
    new CreateServiceCommand({
      ServiceName: name,
      SourceConfiguration: { ImageRepository: { ImageIdentifier: 'registry.example.com:5000/team/app:1', ImageRepositoryType: 'ECR', ImageConfiguration: { Port: '8080' } } },
      ...extra,
    }),
  );
  assert.ok(service?.ServiceArn);
  return service;
}

async function rejects(send: Promise<unknown>, type: string, mentions: RegExp, status = 400): Promise<void> {
  await assert.rejects(send, (error: Error & { $metadata?: { httpStatusCode?: number } }) => {
    assert.equal(error.name, type, error.message);
    assert.equal(error.$metadata?.httpStatusCode, status);
    assert.match(error.message, mentions);
    return true;
  });
}

async function describeIngress(arn: string): Promise<VpcIngressConnection> {
  const { VpcIngressConnection: found } = await api.client.send(new DescribeVpcIngressConnectionCommand({ VpcIngressConnectionArn: arn }));
  assert.ok(found);
  return found;
}

async function waitForIngressStatus(arn: string, status: string): Promise<VpcIngressConnection> {
  let last: VpcIngressConnection | undefined;
  await waitFor(async () => (last = await describeIngress(arn)).Status === status, 5000, () => `${arn} stayed ${last?.Status}, expected ${status}`);
  assert.ok(last);
  return last;
}

/**
 * Keeps the reconciler from starting another pass until the returned function is called: its
 * runtime listing waits. The pass that was under way has run its lifecycle steps already, so
 * whatever the API writes from now on stays as written, and its PENDING_* states can be seen.
 */
async function holdReconciler(): Promise<() => void> {
  const { runtime } = api;
  const list = runtime.list.bind(runtime);
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let waiting = false;
  runtime.list = async () => {
    waiting = true;
    await gate;
    return list();
  };
  await waitFor(() => waiting, 5000, () => 'the reconciler never started a pass');
  return () => {
    runtime.list = list;
    open();
  };
}

async function createIngress(name: string, serviceArn: string, endpointId: string, tags?: { Key: string; Value: string }[]): Promise<VpcIngressConnection> {
  const { VpcIngressConnection: created } = await api.client.send(
    new CreateVpcIngressConnectionCommand({
      ServiceArn: serviceArn,
      VpcIngressConnectionName: name,
      IngressVpcConfiguration: { VpcId: vpcId, VpcEndpointId: endpointId },
      ...(tags !== undefined && { Tags: tags }),
    }),
  );
  assert.ok(created?.VpcIngressConnectionArn);
  return created;
}

/** Deletes a connection and waits until it is DELETED (it counts towards the quota until then). */
async function deleteIngress(arn: string): Promise<VpcIngressConnection> {
  await api.client.send(new DeleteVpcIngressConnectionCommand({ VpcIngressConnectionArn: arn }));
  return waitForIngressStatus(arn, 'DELETED');
}

before(async () => {
  api = await startApiHarness({ quotas: QUOTAS });
  web = await createService('vpc-web');
  await api.settle();
});

after(async () => {
  await api?.close();
});

describe('VPC connectors', () => {
  let first: string;
  let second: string;

  test('CreateVpcConnector returns the connector ACTIVE at revision 1 with its full ARN, and keeps its tags', async () => {
    const before = Date.now();
    const { VpcConnector: c } = await api.client.send(
      new CreateVpcConnectorCommand({
        VpcConnectorName: 'conn-a',
        Subnets: [subnet(1), 'subnet-0a1b2c3d'],
        SecurityGroups: ['sg-0123456789abcdef0'],
        Tags: [{ Key: 'team', Value: 'net' }],
      }),
    );
    assert.ok(c?.VpcConnectorArn);
    first = c.VpcConnectorArn;
    assert.match(first, /^arn:aws:apprunner:us-east-1:000000000000:vpcconnector\/conn-a\/1\/[0-9a-f]{32}$/);
    assert.equal(c.VpcConnectorName, 'conn-a');
    assert.equal(c.VpcConnectorRevision, 1);
    assert.deepEqual(c.Subnets, [subnet(1), 'subnet-0a1b2c3d']);
    assert.deepEqual(c.SecurityGroups, ['sg-0123456789abcdef0']);
    assert.equal(c.Status, 'ACTIVE');
    assert.ok(c.CreatedAt instanceof Date && c.CreatedAt.getTime() >= before - 1 && c.CreatedAt.getTime() <= Date.now());
    assert.equal(c.DeletedAt, undefined);

    const described = await api.client.send(new DescribeVpcConnectorCommand({ VpcConnectorArn: first }));
    assert.deepEqual(described.VpcConnector, c);
    const tags = await api.client.send(new ListTagsForResourceCommand({ ResourceArn: first }));
    assert.deepEqual(tags.Tags, [{ Key: 'team', Value: 'net' }]);
  });

  test('a connector without security groups gets an empty list', async () => {
    const { VpcConnector: c } = await api.client.send(new CreateVpcConnectorCommand({ VpcConnectorName: 'conn-b', Subnets: [subnet(2)] }));
    assert.ok(c?.VpcConnectorArn);
    second = c.VpcConnectorArn;
    assert.deepEqual(c.SecurityGroups, []);
    assert.deepEqual((await api.client.send(new ListTagsForResourceCommand({ ResourceArn: second }))).Tags, []);
  });

  test('members sent as JSON null count as absent', async () => {
    const { VpcConnector: c } = (await api.call('CreateVpcConnector', { VpcConnectorName: 'conn-null', Subnets: [subnet(6)], SecurityGroups: null, Tags: null })) as {
      VpcConnector: { VpcConnectorArn: string; SecurityGroups: string[] };
    };
    assert.deepEqual(c.SecurityGroups, []);
    const listed = await api.call('ListVpcConnectors', { MaxResults: null, NextToken: null });
    assert.deepEqual((listed.VpcConnectors as { VpcConnectorName: string }[]).map((x) => x.VpcConnectorName), ['conn-a', 'conn-b', 'conn-null']);
    assert.equal(listed.NextToken, undefined);
    await api.client.send(new DeleteVpcConnectorCommand({ VpcConnectorArn: c.VpcConnectorArn }));
  });

  test('names are unique among ACTIVE connectors, and the quota refuses one more with 402', async () => {
    await rejects(api.client.send(new CreateVpcConnectorCommand({ VpcConnectorName: 'conn-a', Subnets: [subnet(9)] })), 'InvalidRequestException', /named 'conn-a' already exists/);
    await api.client.send(new CreateVpcConnectorCommand({ VpcConnectorName: 'conn-c', Subnets: [subnet(3)] }));
    await api.client.send(new CreateVpcConnectorCommand({ VpcConnectorName: 'conn-d', Subnets: [subnet(4)] }));
    const before = api.dump();
    await rejects(
      api.client.send(new CreateVpcConnectorCommand({ VpcConnectorName: 'conn-e', Subnets: [subnet(5)] })),
      'ServiceQuotaExceededException',
      /quota of 4 VPC connectors/,
      402,
    );
    assert.equal(api.dump(), before);
  });

  test('ListVpcConnectors returns whole connectors, oldest first, across pages', async () => {
    const pages: string[][] = [];
    for await (const page of paginateListVpcConnectors({ client: api.client, pageSize: 1 }, {})) {
      pages.push((page.VpcConnectors ?? []).map((c) => c.VpcConnectorName ?? ''));
    }
    assert.deepEqual(pages, [['conn-a'], ['conn-b'], ['conn-c'], ['conn-d']]);
    const threes: number[] = [];
    for await (const page of paginateListVpcConnectors({ client: api.client, pageSize: 3 }, {})) threes.push(page.VpcConnectors?.length ?? 0);
    assert.deepEqual(threes, [3, 1]);
    const all = await api.client.send(new ListVpcConnectorsCommand({}));
    assert.equal(all.NextToken, undefined);
    const described = await api.client.send(new DescribeVpcConnectorCommand({ VpcConnectorArn: first }));
    assert.deepEqual(all.VpcConnectors?.[0], described.VpcConnector);
  });

  test('Describe and Delete take only a full ARN; an unknown one is ResourceNotFoundException', async () => {
    const partial = first.replace(/\/1\/[0-9a-f]{32}$/, '');
    await rejects(api.client.send(new DescribeVpcConnectorCommand({ VpcConnectorArn: partial })), 'InvalidRequestException', /partial ARN.*full VPC connector ARN/);
    await rejects(api.client.send(new DeleteVpcConnectorCommand({ VpcConnectorArn: `${partial}/1` })), 'InvalidRequestException', /partial ARN/);
    const unknown = first.replace(/[0-9a-f]{32}$/, newHexId());
    await rejects(api.client.send(new DescribeVpcConnectorCommand({ VpcConnectorArn: unknown })), 'ResourceNotFoundException', /No VPC connector with ARN/);
    await rejects(api.client.send(new DeleteVpcConnectorCommand({ VpcConnectorArn: unknown })), 'ResourceNotFoundException', /No VPC connector with ARN/);
  });

  test('DeleteVpcConnector leaves it INACTIVE with DeletedAt: described, not listed, its name and quota free again', async () => {
    const { VpcConnector: deleted } = await api.client.send(new DeleteVpcConnectorCommand({ VpcConnectorArn: first }));
    assert.equal(deleted?.Status, 'INACTIVE');
    assert.ok(deleted?.DeletedAt instanceof Date);
    assert.ok(deleted.CreatedAt !== undefined && deleted.DeletedAt.getTime() >= deleted.CreatedAt.getTime());
    const described = await api.client.send(new DescribeVpcConnectorCommand({ VpcConnectorArn: first }));
    assert.deepEqual(described.VpcConnector, deleted);
    const listed = await api.client.send(new ListVpcConnectorsCommand({}));
    assert.deepEqual(listed.VpcConnectors?.map((c) => c.VpcConnectorName), ['conn-b', 'conn-c', 'conn-d']);
    await rejects(api.client.send(new DeleteVpcConnectorCommand({ VpcConnectorArn: first })), 'ResourceNotFoundException', /has been deleted/);

    const { VpcConnector: again } = await api.client.send(new CreateVpcConnectorCommand({ VpcConnectorName: 'conn-a', Subnets: [subnet(1)] }));
    assert.equal(again?.Status, 'ACTIVE');
    assert.equal(again?.VpcConnectorRevision, 1);
    assert.notEqual(again?.VpcConnectorArn, first);
    assert.equal((await api.client.send(new DescribeVpcConnectorCommand({ VpcConnectorArn: first }))).VpcConnector?.Status, 'INACTIVE');
  });

  test('a connector a service egresses through cannot be deleted until the service is gone', async () => {
    const egress = await createService('vpc-egress', { NetworkConfiguration: { EgressConfiguration: { EgressType: 'VPC', VpcConnectorArn: second } } });
    await api.settle();
    const service = await api.client.send(new DescribeServiceCommand({ ServiceArn: egress.ServiceArn }));
    assert.equal(service.Service?.NetworkConfiguration?.EgressConfiguration?.VpcConnectorArn, second);
    const before = api.dump();
    await rejects(api.client.send(new DeleteVpcConnectorCommand({ VpcConnectorArn: second })), 'InvalidRequestException', /'conn-b' is used by the service 'vpc-egress'/);
    assert.equal(api.dump(), before);

    await api.client.send(new DeleteServiceCommand({ ServiceArn: egress.ServiceArn }));
    await api.settle();
    const { VpcConnector: deleted } = await api.client.send(new DeleteVpcConnectorCommand({ VpcConnectorArn: second }));
    assert.equal(deleted?.Status, 'INACTIVE');
  });
});

describe('VPC ingress connections', () => {
  let arn: string;

  test('CreateVpcIngressConnection returns it PENDING_CREATION; the next pass makes it AVAILABLE', async () => {
    const before = Date.now();
    const created = await createIngress('ingress-a', web.ServiceArn ?? '', endpoint(1), [{ Key: 'tier', Value: 'private' }]);
    arn = created.VpcIngressConnectionArn ?? '';
    assert.match(arn, /^arn:aws:apprunner:us-east-1:000000000000:vpcingressconnection\/ingress-a\/[0-9a-f]{32}$/);
    assert.equal(created.VpcIngressConnectionName, 'ingress-a');
    assert.equal(created.ServiceArn, web.ServiceArn);
    assert.equal(created.Status, 'PENDING_CREATION');
    assert.equal(created.AccountId, '000000000000');
    // The service's private name: its public host's first label under private.<domain>.
    assert.equal(created.DomainName, web.ServiceUrl?.replace('.', '.private.'));
    assert.match(created.DomainName ?? '', /^vpc-web-[0-9a-f]{8}\.private\.localhost$/);
    assert.deepEqual(created.IngressVpcConfiguration, { VpcId: vpcId, VpcEndpointId: endpoint(1) });
    assert.ok(created.CreatedAt instanceof Date && created.CreatedAt.getTime() >= before - 1);
    assert.equal(created.DeletedAt, undefined);
    assert.deepEqual((await api.client.send(new ListTagsForResourceCommand({ ResourceArn: arn }))).Tags, [{ Key: 'tier', Value: 'private' }]);

    const available = await waitForIngressStatus(arn, 'AVAILABLE');
    assert.deepEqual(available, { ...created, Status: 'AVAILABLE' });
  });

  test('an update goes PENDING_UPDATE, then AVAILABLE with the new configuration', async () => {
    const { VpcIngressConnection: updated } = await api.client.send(
      new UpdateVpcIngressConnectionCommand({ VpcIngressConnectionArn: arn, IngressVpcConfiguration: { VpcId: 'vpc-12345678', VpcEndpointId: endpoint(2) } }),
    );
    assert.equal(updated?.Status, 'PENDING_UPDATE');
    assert.deepEqual(updated?.IngressVpcConfiguration, { VpcId: 'vpc-12345678', VpcEndpointId: endpoint(2) });
    const available = await waitForIngressStatus(arn, 'AVAILABLE');
    assert.deepEqual(available.IngressVpcConfiguration, { VpcId: 'vpc-12345678', VpcEndpointId: endpoint(2) });
  });

  test('PENDING_* states refuse updates and deletes until the reconciler moves them on', async () => {
    const release = await holdReconciler();
    try {
      const created = await createIngress('ingress-held', web.ServiceArn ?? '', endpoint(3));
      const heldArn = created.VpcIngressConnectionArn ?? '';
      const update = () =>
        api.client.send(new UpdateVpcIngressConnectionCommand({ VpcIngressConnectionArn: heldArn, IngressVpcConfiguration: { VpcId: vpcId, VpcEndpointId: endpoint(4) } }));
      const remove = () => api.client.send(new DeleteVpcIngressConnectionCommand({ VpcIngressConnectionArn: heldArn }));
      await rejects(update(), 'InvalidStateException', /UpdateVpcIngressConnection on VPC ingress connection 'ingress-held' while its status is PENDING_CREATION/);
      await rejects(remove(), 'InvalidStateException', /DeleteVpcIngressConnection .* PENDING_CREATION/);

      // An AVAILABLE connection, updated while nothing moves it on, stays PENDING_UPDATE.
      const { VpcIngressConnection: updating } = await api.client.send(
        new UpdateVpcIngressConnectionCommand({ VpcIngressConnectionArn: arn, IngressVpcConfiguration: { VpcId: vpcId, VpcEndpointId: endpoint(1) } }),
      );
      assert.equal(updating?.Status, 'PENDING_UPDATE');
      await rejects(
        api.client.send(new UpdateVpcIngressConnectionCommand({ VpcIngressConnectionArn: arn, IngressVpcConfiguration: { VpcId: vpcId, VpcEndpointId: endpoint(1) } })),
        'InvalidStateException',
        /PENDING_UPDATE/,
      );
      await rejects(api.client.send(new DeleteVpcIngressConnectionCommand({ VpcIngressConnectionArn: arn })), 'InvalidStateException', /PENDING_UPDATE/);
      assert.equal((await describeIngress(heldArn)).Status, 'PENDING_CREATION');
    } finally {
      release();
    }
    const held = await api.client.send(new ListVpcIngressConnectionsCommand({ Filter: { VpcEndpointId: endpoint(3) } }));
    const heldArn = held.VpcIngressConnectionSummaryList?.[0]?.VpcIngressConnectionArn ?? '';
    await waitForIngressStatus(heldArn, 'AVAILABLE');
    await waitForIngressStatus(arn, 'AVAILABLE');

    const releaseAgain = await holdReconciler();
    try {
      const { VpcIngressConnection: deleting } = await api.client.send(new DeleteVpcIngressConnectionCommand({ VpcIngressConnectionArn: heldArn }));
      assert.equal(deleting?.Status, 'PENDING_DELETION');
      assert.equal(deleting?.DeletedAt, undefined);
      await rejects(api.client.send(new DeleteVpcIngressConnectionCommand({ VpcIngressConnectionArn: heldArn })), 'InvalidStateException', /PENDING_DELETION/);
      await rejects(
        api.client.send(new UpdateVpcIngressConnectionCommand({ VpcIngressConnectionArn: heldArn, IngressVpcConfiguration: { VpcId: vpcId, VpcEndpointId: endpoint(3) } })),
        'InvalidStateException',
        /PENDING_DELETION/,
      );
    } finally {
      releaseAgain();
    }
    const deleted = await waitForIngressStatus(heldArn, 'DELETED');
    assert.ok(deleted.DeletedAt instanceof Date);
  });

  test('a DELETED connection is still described but refuses changes, is not listed, and frees its name', async () => {
    const created = await createIngress('ingress-gone', web.ServiceArn ?? '', endpoint(5));
    const goneArn = created.VpcIngressConnectionArn ?? '';
    await waitForIngressStatus(goneArn, 'AVAILABLE');
    const deleted = await deleteIngress(goneArn);
    assert.ok(deleted.DeletedAt instanceof Date && deleted.CreatedAt !== undefined && deleted.DeletedAt >= deleted.CreatedAt);
    await rejects(api.client.send(new DeleteVpcIngressConnectionCommand({ VpcIngressConnectionArn: goneArn })), 'InvalidStateException', /while its status is DELETED/);
    await rejects(
      api.client.send(new UpdateVpcIngressConnectionCommand({ VpcIngressConnectionArn: goneArn, IngressVpcConfiguration: { VpcId: vpcId, VpcEndpointId: endpoint(5) } })),
      'InvalidStateException',
      /while its status is DELETED/,
    );
    const listed = await api.client.send(new ListVpcIngressConnectionsCommand({}));
    assert.ok(!listed.VpcIngressConnectionSummaryList?.some((s) => s.VpcIngressConnectionArn === goneArn));

    await rejects(createIngress('ingress-a', web.ServiceArn ?? '', endpoint(6)), 'InvalidRequestException', /named 'ingress-a' already exists/);
    const reused = await createIngress('ingress-gone', web.ServiceArn ?? '', endpoint(6));
    assert.notEqual(reused.VpcIngressConnectionArn, goneArn);
    await waitForIngressStatus(reused.VpcIngressConnectionArn ?? '', 'AVAILABLE');
    await deleteIngress(reused.VpcIngressConnectionArn ?? '');
  });

  test('DeleteService is refused while the service has a connection, even one being deleted', async () => {
    const privateService = await createService('vpc-private');
    await api.settle();
    const created = await createIngress('ingress-private', privateService.ServiceArn ?? '', endpoint(7));
    const privateArn = created.VpcIngressConnectionArn ?? '';
    await waitForIngressStatus(privateArn, 'AVAILABLE');
    await rejects(api.client.send(new DeleteServiceCommand({ ServiceArn: privateService.ServiceArn })), 'InvalidStateException', /VPC ingress connection 'ingress-private'/);

    const release = await holdReconciler();
    try {
      await api.client.send(new DeleteVpcIngressConnectionCommand({ VpcIngressConnectionArn: privateArn }));
      await rejects(api.client.send(new DeleteServiceCommand({ ServiceArn: privateService.ServiceArn })), 'InvalidStateException', /VPC ingress connection 'ingress-private'/);
    } finally {
      release();
    }
    await waitForIngressStatus(privateArn, 'DELETED');
    await api.client.send(new DeleteServiceCommand({ ServiceArn: privateService.ServiceArn }));
    await api.settle();
    // The connection outlives its service as a DELETED record.
    assert.equal((await describeIngress(privateArn)).ServiceArn, privateService.ServiceArn);
  });

  test('a service with an operation in progress refuses new connections', async () => {
    const release = await holdReconciler();
    let busyArn = '';
    try {
      const busy = await createService('vpc-busy');
      busyArn = busy.ServiceArn ?? '';
      const before = api.dump();
      await rejects(createIngress('ingress-busy', busyArn, endpoint(8)), 'InvalidStateException', /CreateVpcIngressConnection on service 'vpc-busy' while its status is OPERATION_IN_PROGRESS/);
      assert.equal(api.dump(), before);
    } finally {
      release();
    }
    await api.settle();
    await api.client.send(new DeleteServiceCommand({ ServiceArn: busyArn }));
    await api.settle();
    await rejects(createIngress('ingress-busy', busyArn, endpoint(8)), 'ResourceNotFoundException', /has been deleted/);
  });

  test('the quota counts live connections and refuses one more with 402', async () => {
    // ingress-a is live; three more reach the quota of 4.
    const made: string[] = [];
    for (const n of [10, 11, 12]) made.push((await createIngress(`ingress-q${n}`, web.ServiceArn ?? '', endpoint(n))).VpcIngressConnectionArn ?? '');
    // Settled first, so that the reconciler changes nothing while the refusal is checked.
    for (const one of made) await waitForIngressStatus(one, 'AVAILABLE');
    const before = api.dump();
    await rejects(createIngress('ingress-q13', web.ServiceArn ?? '', endpoint(13)), 'ServiceQuotaExceededException', /quota of 4 VPC ingress connections/, 402);
    assert.equal(api.dump(), before);
  });

  test('ListVpcIngressConnections pages through live connections and filters by service and endpoint', async () => {
    const pages: string[][] = [];
    for await (const page of paginateListVpcIngressConnections({ client: api.client, pageSize: 1 }, {})) {
      pages.push((page.VpcIngressConnectionSummaryList ?? []).map((s) => s.VpcIngressConnectionArn?.split('/')[1] ?? ''));
    }
    assert.deepEqual(pages, [['ingress-a'], ['ingress-q10'], ['ingress-q11'], ['ingress-q12']]);
    const { VpcIngressConnectionSummaryList: all } = await api.client.send(new ListVpcIngressConnectionsCommand({}));
    assert.deepEqual(all?.[0], { VpcIngressConnectionArn: arn, ServiceArn: web.ServiceArn });

    const byService: number[] = [];
    for await (const page of paginateListVpcIngressConnections({ client: api.client, pageSize: 3 }, { Filter: { ServiceArn: web.ServiceArn } })) {
      byService.push(page.VpcIngressConnectionSummaryList?.length ?? 0);
    }
    assert.deepEqual(byService, [3, 1]);
    const nulls = await api.call('ListVpcIngressConnections', { Filter: { ServiceArn: null, VpcEndpointId: null }, MaxResults: null, NextToken: null });
    assert.equal((nulls.VpcIngressConnectionSummaryList as unknown[]).length, 4);
    const byEndpoint = await api.client.send(new ListVpcIngressConnectionsCommand({ Filter: { VpcEndpointId: endpoint(11) } }));
    assert.deepEqual(byEndpoint.VpcIngressConnectionSummaryList?.map((s) => s.VpcIngressConnectionArn?.split('/')[1]), ['ingress-q11']);
    const both = await api.client.send(new ListVpcIngressConnectionsCommand({ Filter: { ServiceArn: web.ServiceArn, VpcEndpointId: endpoint(12) } }));
    assert.deepEqual(both.VpcIngressConnectionSummaryList?.map((s) => s.VpcIngressConnectionArn?.split('/')[1]), ['ingress-q12']);
    // DELETED connections are not listed, even when a filter names them.
    const none = await api.client.send(new ListVpcIngressConnectionsCommand({ Filter: { VpcEndpointId: endpoint(7) } }));
    assert.deepEqual(none.VpcIngressConnectionSummaryList, []);

    const { NextToken } = await api.client.send(new ListVpcIngressConnectionsCommand({ MaxResults: 1 }));
    await rejects(
      api.client.send(new ListVpcIngressConnectionsCommand({ MaxResults: 1, NextToken, Filter: { ServiceArn: web.ServiceArn } })),
      'InvalidRequestException',
      /does not belong to this listing/,
    );
  });

  test('a connection whose service is gone fails to be created or updated, and can still be deleted', async () => {
    // A service removed behind the API's back (the API itself refuses to delete a service with a
    // live connection): the record names a service the store does not have.
    for (const made of (await api.client.send(new ListVpcIngressConnectionsCommand({}))).VpcIngressConnectionSummaryList ?? []) {
      if (made.VpcIngressConnectionArn !== arn) await deleteIngress(made.VpcIngressConnectionArn ?? '');
    }
    const orphanId = newHexId();
    const orphanArn = `arn:aws:apprunner:us-east-1:000000000000:vpcingressconnection/ingress-orphan/${newHexId()}`;
    const serviceArn = `arn:aws:apprunner:us-east-1:000000000000:service/vpc-vanished/${orphanId}`;
    const now = Date.now();
    api.cp.store.putResource({
      kind: 'vpcingressconnection',
      key: orphanArn,
      name: 'ingress-orphan',
      live: true,
      createdAt: now,
      data: {
        arn: orphanArn,
        serviceArn,
        serviceId: orphanId,
        status: 'PENDING_CREATION',
        accountId: '000000000000',
        domainName: 'vpc-vanished-00000000.private.localhost',
        vpcId,
        vpcEndpointId: endpoint(20),
        updatedAt: now,
      },
    });
    await waitForIngressStatus(orphanArn, 'FAILED_CREATION');
    const { VpcIngressConnection: updating } = await api.client.send(
      new UpdateVpcIngressConnectionCommand({ VpcIngressConnectionArn: orphanArn, IngressVpcConfiguration: { VpcId: vpcId, VpcEndpointId: endpoint(21) } }),
    );
    assert.equal(updating?.Status, 'PENDING_UPDATE');
    await waitForIngressStatus(orphanArn, 'FAILED_UPDATE');
    const deleted = await deleteIngress(orphanArn);
    assert.equal(deleted.ServiceArn, serviceArn);
  });
});

/**
 * Crash safety of the control plane (issue 5): `berth up` supervises the control plane; the test
 * SIGKILLs it inside create, update, rollback, pause and delete, the supervisor starts it again,
 * and the operation must then end as it would have without the kill: no container orphaned or
 * duplicated, no stale revision left running, the service and its configuration as the API
 * says, and the router serving throughout, control plane dead or not.
 *
 * One Berth for the file; each scenario has a service of its own. Times compared with the load
 * generator's samples are `performance.now()`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import {
  CreateServiceCommand,
  DeleteServiceCommand,
  DescribeServiceCommand,
  ListOperationsCommand,
  ListServicesCommand,
  PauseServiceCommand,
  UpdateServiceCommand,
  type Service,
} from '@aws-sdk/client-apprunner';
import { httpsGet, waitFor } from '../support/berth-process.ts';
import { E2eInstallation, imageSource } from '../support/e2e-installation.ts';
import { startLoad, type LoadGenerator } from '../support/load.ts';
import { deleteServicesAndWait, serviceContainers, waitForOperation, type ServiceContainer } from '../support/services.ts';

/** How long an operation interrupted by a kill may take to end, the restart included. */
const OPERATION_BOUND_MS = 60_000;
const IN_PROGRESS = ['PENDING', 'IN_PROGRESS', 'ROLLBACK_IN_PROGRESS'];

const e2e = new E2eInstallation({
  images: { v1: { tag: 'app:1', body: 'v1\n' }, v2: { tag: 'app:2', body: 'v2\n' }, crash: { behaviour: 'exit' } },
  // Gone from the engine: Berth pulls each one inside the first operation that needs it.
  pullFresh: true,
  startupTimeoutSeconds: 10,
});
const docker = e2e.docker;
before((t) => e2e.start(t));
after(() => e2e.close());

async function describeService(arn: string): Promise<Service> {
  const service = (await e2e.client.send(new DescribeServiceCommand({ ServiceArn: arn }))).Service;
  assert.ok(service, `DescribeService ${arn} returned no Service`);
  return service;
}

/** Waits for the operation to leave its in-progress states, then checks how it ended. */
async function operationEnds(arn: string, operationId: string, wanted: string): Promise<void> {
  let status: string | undefined;
  try {
    status = (await waitForOperation(e2e.client, arn, operationId, (s) => !IN_PROGRESS.includes(s), { timeoutMs: OPERATION_BOUND_MS })).operation.Status;
  } catch (error) {
    assert.fail(`${(error as Error).message} (bound ${OPERATION_BOUND_MS} ms); output:\n${e2e.output()}`);
  }
  assert.equal(status, wanted, `operation ${operationId} ended ${status}, not ${wanted}; output:\n${e2e.output()}`);
}

/** A service serving `image` through the router, and its one container. */
async function runningService(name: string, image: string): Promise<{ arn: string; id: string; host: string; container: ServiceContainer }> {
  const reply = await e2e.client.send(new CreateServiceCommand({ ServiceName: name, SourceConfiguration: imageSource(image) }));
  const arn = reply.Service?.ServiceArn as string;
  e2e.created.push(arn);
  await operationEnds(arn, reply.OperationId as string, 'SUCCEEDED');
  const service = await describeService(arn);
  const host = service.ServiceUrl as string;
  await waitFor(async () => (await httpsGet(e2e.berth, host)).status === 200, 10_000, () => `${name} never served; output:\n${e2e.output()}`);
  const container = await settledContainer(service.ServiceId as string, () => true);
  return { arn, id: service.ServiceId as string, host, container };
}

/**
 * SIGKILLs the control plane inside the operation (checked: it was still in progress a moment
 * before), then waits for the supervisor to have started another that answers the API; resolves
 * with when it was killed and when the new one answered.
 */
async function killControlPlane(arn: string, operationId: string): Promise<{ killedAt: number; backAt: number }> {
  const berth = e2e.berth;
  const old = berth.controlPlanePid();
  const operations = (await e2e.client.send(new ListOperationsCommand({ ServiceArn: arn }))).OperationSummaryList ?? [];
  const status = operations.find((o) => o.Id === operationId)?.Status;
  process.kill(old, 'SIGKILL');
  const killedAt = performance.now();
  await waitFor(
    async () => {
      if (berth.controlPlanePid() === old) return false;
      await e2e.client.send(new ListServicesCommand({}));
      return true;
    },
    30_000,
    () => `the control plane did not come back after SIGKILL of pid ${old}; output:\n${e2e.output()}`,
  );
  const backAt = performance.now();
  assert.ok(IN_PROGRESS.includes(status ?? ''), `the operation had already ended (${status}) before the kill: the test missed its kill point`);
  return { killedAt, backAt };
}

/**
 * Waits until the service has exactly one container, running and passing `check`, and makes sure
 * it is still the only one a few reconcile passes later: nothing duplicated, nothing left behind.
 */
async function settledContainer(serviceId: string, check: (c: ServiceContainer) => boolean, what = 'the expected revision'): Promise<ServiceContainer> {
  let now: ServiceContainer[] = [];
  await waitFor(
    async () => {
      now = await serviceContainers(docker, serviceId);
      return now.length === 1 && now[0]?.state === 'running' && check(now[0]);
    },
    20_000,
    () => `expected exactly one container, running ${what}; Docker has ${JSON.stringify(now)}; output:\n${e2e.output()}`,
  );
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  assert.deepEqual(await serviceContainers(docker, serviceId), now, 'the containers changed after they had settled');
  return now[0] as ServiceContainer;
}

/** Waits until the service has no container in any state, and checks that none comes back. */
async function noContainers(serviceId: string): Promise<void> {
  let now: ServiceContainer[] = [];
  await waitFor(
    async () => (now = await serviceContainers(docker, serviceId)).length === 0,
    20_000,
    () => `the service still has containers: ${JSON.stringify(now)}; output:\n${e2e.output()}`,
  );
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  assert.deepEqual(await serviceContainers(docker, serviceId), [], 'a container came back');
}

/** Polls Docker until a container of the service has a revision other than `revisionId`. */
async function containerOfAnotherRevision(serviceId: string, revisionId: string): Promise<ServiceContainer> {
  let found: ServiceContainer | undefined;
  await waitFor(
    async () => (found = (await serviceContainers(docker, serviceId)).find((c) => c.revisionId !== revisionId)) !== undefined,
    30_000,
    () => `no container of the new revision appeared; output:\n${e2e.output()}`,
  );
  return found as ServiceContainer;
}

function load(host: string, expectedBodies: string[]): LoadGenerator {
  return startLoad(e2e.berth, { host, concurrency: 4, durationMs: 120_000, expectedBodies });
}

/** Waits until `n` requests sent from `from` on succeeded. */
async function served(traffic: LoadGenerator, n: number, from = 0): Promise<void> {
  await waitFor(
    () => traffic.samples.filter((s) => s.start >= from && !traffic.isFailure(s)).length >= n,
    10_000,
    () => `fewer than ${n} requests served: ${traffic.describe(traffic.report(from))}`,
  );
}

/** Requests sent in [from, to) that succeeded. */
function succeeded(traffic: LoadGenerator, from: number, to: number): number {
  const report = traffic.report(from, to);
  return report.requests - report.failures;
}

describe('SIGKILL of the control plane inside an operation', () => {
  test('create: killed right after the API answered, the service comes up once, as configured', async () => {
    const reply = await e2e.client.send(new CreateServiceCommand({ ServiceName: 'kill-create', SourceConfiguration: imageSource(e2e.images.v1) }));
    const arn = reply.Service?.ServiceArn as string;
    e2e.created.push(arn);
    await killControlPlane(arn, reply.OperationId as string);
    await operationEnds(arn, reply.OperationId as string, 'SUCCEEDED');
    const service = await describeService(arn);
    assert.equal(service.Status, 'RUNNING');
    assert.equal(service.SourceConfiguration?.ImageRepository?.ImageIdentifier, e2e.images.v1, 'the configuration survived');
    assert.equal(service.SourceConfiguration?.ImageRepository?.ImageConfiguration?.Port, '8080');
    const operations = (await e2e.client.send(new ListOperationsCommand({ ServiceArn: arn }))).OperationSummaryList ?? [];
    assert.deepEqual(operations.map((o) => [o.Id, o.Type, o.Status]), [[reply.OperationId, 'CREATE_SERVICE', 'SUCCEEDED']], 'one operation, the one the API answered with');
    await settledContainer(service.ServiceId as string, () => true);

    const traffic = load(service.ServiceUrl as string, ['v1\n']);
    try {
      await served(traffic, 40);
    } finally {
      await traffic.stop();
    }
    assert.equal(traffic.report().failures, 0, `requests failed while the one healthy instance served: ${traffic.describe()}`);
  });

  for (const killPoint of ['right after the API answered', 'once the new revision’s container exists'] as const) {
    test(`update: killed ${killPoint}, the new revision replaces the old and no request fails`, async () => {
      const { arn, id, host, container: old } = await runningService(killPoint.startsWith('right') ? 'kill-update-a' : 'kill-update-b', e2e.images.v1);
      const traffic = load(host, ['v1\n', 'v2\n']);
      try {
        await served(traffic, 10);
        const reply = await e2e.client.send(new UpdateServiceCommand({ ServiceArn: arn, SourceConfiguration: imageSource(e2e.images.v2) }));
        if (!killPoint.startsWith('right')) await containerOfAnotherRevision(id, old.revisionId);
        const { killedAt, backAt } = await killControlPlane(arn, reply.OperationId as string);
        await operationEnds(arn, reply.OperationId as string, 'SUCCEEDED');
        const service = await describeService(arn);
        assert.equal(service.Status, 'RUNNING');
        assert.equal(service.SourceConfiguration?.ImageRepository?.ImageIdentifier, e2e.images.v2);
        await settledContainer(id, (c) => c.revisionId !== old.revisionId, 'the new revision');
        await waitFor(async () => (await httpsGet(e2e.berth, host)).body === 'v2\n', 10_000, () => 'the router does not serve v2');
        const settledAt = performance.now();
        await served(traffic, 20, settledAt);
        await traffic.stop();
        assert.equal(traffic.report().failures, 0, `requests failed during the update, though a healthy instance existed throughout: ${traffic.describe()}`);
        assert.ok(succeeded(traffic, killedAt, backAt) > 0, `the router served nothing while the control plane was dead: ${traffic.describe(traffic.report(killedAt, backAt))}`);
        assert.deepEqual(Object.keys(traffic.report(settledAt).outcomes), ['v2'], 'only v2 once the update settled');
      } finally {
        await traffic.stop().catch(() => undefined);
      }
    });
  }

  for (const killPoint of ['right after the API answered', 'once the failing revision’s container exists'] as const) {
    test(`rollback: an update whose instance exits, killed ${killPoint}, rolls back to the instance that served`, async () => {
      const { arn, id, host, container: old } = await runningService(killPoint.startsWith('right') ? 'kill-rollback-a' : 'kill-rollback-b', e2e.images.v1);
      const traffic = load(host, ['v1\n']);
      try {
        await served(traffic, 10);
        const reply = await e2e.client.send(new UpdateServiceCommand({ ServiceArn: arn, SourceConfiguration: imageSource(e2e.images.crash) }));
        if (!killPoint.startsWith('right')) await containerOfAnotherRevision(id, old.revisionId);
        const { killedAt, backAt } = await killControlPlane(arn, reply.OperationId as string);
        await operationEnds(arn, reply.OperationId as string, 'ROLLBACK_SUCCEEDED');
        const service = await describeService(arn);
        assert.equal(service.Status, 'RUNNING');
        assert.equal(service.SourceConfiguration?.ImageRepository?.ImageIdentifier, e2e.images.v1, 'the previous configuration is back');
        const now = await settledContainer(id, (c) => c.revisionId === old.revisionId, 'the previous revision');
        assert.equal(now.id, old.id, 'the instance that served was kept, not replaced');
        const settledAt = performance.now();
        await served(traffic, 20, settledAt);
        await traffic.stop();
        assert.equal(traffic.report().failures, 0, `requests failed during the failed update, though the old instance was healthy throughout: ${traffic.describe()}`);
        assert.ok(succeeded(traffic, killedAt, backAt) > 0, `the router served nothing while the control plane was dead: ${traffic.describe(traffic.report(killedAt, backAt))}`);
      } finally {
        await traffic.stop().catch(() => undefined);
      }
    });
  }

  test('pause: killed right after the API answered, the service ends PAUSED with no container', async () => {
    const { arn, id, host } = await runningService('kill-pause', e2e.images.v1);
    const traffic = load(host, ['v1\n']);
    let pausedAt = 0;
    try {
      await served(traffic, 10);
      pausedAt = performance.now();
      const reply = await e2e.client.send(new PauseServiceCommand({ ServiceArn: arn }));
      await killControlPlane(arn, reply.OperationId as string);
      await operationEnds(arn, reply.OperationId as string, 'SUCCEEDED');
    } finally {
      await traffic.stop();
    }
    // A request sent after the pause may be told the service is paused; none sent before may fail.
    assert.equal(traffic.report(0, pausedAt).failures, 0, `requests sent before the pause failed: ${traffic.describe(traffic.report(0, pausedAt))}`);
    const service = await describeService(arn);
    assert.equal(service.Status, 'PAUSED');
    assert.equal(service.SourceConfiguration?.ImageRepository?.ImageIdentifier, e2e.images.v1, 'the configuration survived');
    await noContainers(id);
    assert.notEqual((await httpsGet(e2e.berth, host)).status, 200, 'a paused service does not serve');
  });

  test('delete: killed right after the API answered, the service ends DELETED with no container', async () => {
    const { arn, id, host } = await runningService('kill-delete', e2e.images.v1);
    const traffic = load(host, ['v1\n']);
    let deletedAt = 0;
    try {
      await served(traffic, 10);
      deletedAt = performance.now();
      const reply = await e2e.client.send(new DeleteServiceCommand({ ServiceArn: arn }));
      await killControlPlane(arn, reply.OperationId as string);
      await operationEnds(arn, reply.OperationId as string, 'SUCCEEDED');
    } finally {
      await traffic.stop();
    }
    assert.equal(traffic.report(0, deletedAt).failures, 0, `requests sent before the delete failed: ${traffic.describe(traffic.report(0, deletedAt))}`);
    assert.equal((await describeService(arn)).Status, 'DELETED');
    await noContainers(id);
    assert.equal((await httpsGet(e2e.berth, host)).status, 404, 'a deleted service is unknown to the router');
    const listed = (await e2e.client.send(new ListServicesCommand({}))).ServiceSummaryList ?? [];
    assert.ok(!listed.some((s) => s.ServiceArn === arn), 'a deleted service is not listed');
  });

  test('once every service is deleted, no container of the installation is left', async () => {
    await deleteServicesAndWait(e2e.client, e2e.created);
    for (const arn of e2e.created) assert.equal((await describeService(arn)).Status, 'DELETED', `${arn} was not deleted`);
    const db = new DatabaseSync(join(e2e.berth.home, 'berth.db'), { readOnly: true });
    const installation = (db.prepare("SELECT value FROM meta WHERE key = 'installation-id'").get() as { value?: string } | undefined)?.value;
    db.close();
    assert.ok(installation, 'the installation id is in the store');
    // The runtime labels every container it makes with its installation.
    const left = await docker.listContainers({ all: true, labels: [`berth.installation=${installation}`] });
    assert.deepEqual(left.map((c) => `${c.Names.join(',')} ${c.State}`), [], 'containers left behind');
  });
});

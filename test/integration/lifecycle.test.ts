/**
 * The reconciler's part of the deployment lifecycle, on a real control plane over the in-memory
 * runtime: crash-looping instances are replaced with growing delays and reported, an instance
 * killed for its memory or over its ephemeral storage is replaced and the event says why, and a
 * revision's instances keep running the image it was deployed with after its tag moves.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { crashLoopKey, type CrashLoopState, type StoredServiceEvent } from '../../src/core/service-events.ts';
import { Client } from 'undici';
import { berthPaths } from '../../src/core/config.ts';
import type { Route, RouteTable } from '../../src/core/routes.ts';
import { revisionImageKey } from '../../src/core/runtime.ts';
import { startApiHarness, type ApiHarness } from '../support/api-harness.ts';
import { waitFor } from '../support/berth-process.ts';

let h: ApiHarness;

before(async () => {
  h = await startApiHarness();
});
after(async () => {
  await h?.close();
});

async function createService(name: string, image = `registry.example/${name}:1`): Promise<{ arn: string; id: string }> {
  const out = await h.call('CreateService', {
    ServiceName: name,
    SourceConfiguration: { ImageRepository: { ImageIdentifier: image, ImageRepositoryType: 'ECR', ImageConfiguration: { Port: '8080' } }, AutoDeploymentsEnabled: false },
  });
  const service = out.Service as { ServiceArn: string; ServiceId: string };
  await h.settle();
  return { arn: service.ServiceArn, id: service.ServiceId };
}

function running(serviceId: string) {
  return [...h.runtime.instances.values()].filter((i) => i.serviceId === serviceId && i.state === 'running');
}

function events(serviceId: string): StoredServiceEvent[] {
  return h.cp.store.listServiceEvents(serviceId, 1000);
}

async function nextInstance(serviceId: string, notIn: Set<string>, timeoutMs = 15_000): Promise<string> {
  let found: string | undefined;
  await waitFor(() => {
    found = running(serviceId).find((i) => !notIn.has(i.instanceId))?.instanceId;
    return found !== undefined;
  }, timeoutMs, () => `no new instance of ${serviceId} started; events: ${events(serviceId).map((e) => e.message).join(' | ')}`);
  return found as string;
}

describe('self-healing', () => {
  test('a crash-looping revision is restarted with growing delays, reported, and never hot-loops', async () => {
    const { id } = await createService('crashloop');
    const seen = new Set<string>();
    const startTimes: number[] = [];
    let instance = running(id)[0]!.instanceId;
    for (let crash = 0; crash < 4; crash++) {
      seen.add(instance);
      h.runtime.crash(instance);
      const crashedAt = Date.now();
      instance = await nextInstance(id, seen);
      startTimes.push(Date.now() - crashedAt);
    }
    // Replacements: the first at once, then after about 1 s, 2 s, 4 s.
    assert.ok(startTimes[0]! < 900, `the first replacement waits no backoff (took ${startTimes[0]} ms)`);
    assert.ok(startTimes[1]! >= 900, `the second waits about 1 s (took ${startTimes[1]} ms)`);
    assert.ok(startTimes[2]! >= 1900, `the third waits about 2 s (took ${startTimes[2]} ms)`);
    assert.ok(startTimes[3]! >= 3900, `the fourth waits about 4 s (took ${startTimes[3]} ms)`);
    const state = JSON.parse(h.cp.store.getMeta(crashLoopKey(id)) ?? '{}') as CrashLoopState;
    assert.equal(state.failures, 4);
    assert.match(state.lastReason, /exited with code 1/);
    const loopEvents = events(id).filter((e) => e.type === 'crash-loop');
    assert.ok(loopEvents.length >= 3, `crash loops are in the event log: ${JSON.stringify(loopEvents)}`);
    assert.match(loopEvents[0]!.message, /failed 4 times in a row .*exited with code 1.*next starts in 4 s/);
    assert.equal(events(id).filter((e) => e.type === 'instance-failed').length, 4);
    assert.equal(running(id).length, 1, 'one instance runs, as MinSize says');
  });

  test('an instance killed for its memory is replaced, and the event says so', async () => {
    const { id } = await createService('oom-killed');
    const first = running(id)[0]!.instanceId;
    h.runtime.crash(first, { outOfMemory: true, exitCode: 137 });
    await nextInstance(id, new Set([first]));
    const failed = events(id).find((e) => e.type === 'instance-failed' && e.instanceId === first);
    assert.match(failed?.message ?? '', /ran out of memory \(its limit is 2048 MB\) and was killed/);
  });

  test('an instance over its ephemeral storage limit is drained and replaced', async () => {
    const { arn, id } = await createService('storage');
    await h.call('Berth.UpdateServiceSettings', { ServiceArn: arn, EphemeralStorageMb: 64 });
    const first = running(id)[0]!.instanceId;
    h.runtime.setStorageUsage(first, 65 * 1024 * 1024);
    await nextInstance(id, new Set([first]));
    await waitFor(() => !running(id).some((i) => i.instanceId === first), 5000, () => 'the instance over its limit still runs');
    const failed = events(id).find((e) => e.type === 'instance-failed' && e.instanceId === first);
    assert.match(failed?.message ?? '', /wrote 65 MB to its ephemeral storage, over the limit of 64 MB/);
  });
});

describe('pinned images', () => {
  test("a revision's replacement instances run the image it was deployed with, even after the tag moved; a deployment takes the new one", async () => {
    const image = 'registry.example/pinned:1';
    const { arn, id } = await createService('pinned', image);
    const revisionId = h.cp.store.getService(id)!.revisionId;
    const deployed = h.cp.store.getMeta(revisionImageKey(revisionId));
    assert.equal(deployed, `fake-pinned:${image}@1`);
    const moved = h.runtime.moveTag(image);
    const first = running(id)[0]!.instanceId;
    h.runtime.crash(first);
    const replacement = await nextInstance(id, new Set([first]));
    assert.equal(h.runtime.specs().find((s) => s.instanceId === replacement)?.image, deployed, 'the replacement runs the old bits');

    await h.call('StartDeployment', { ServiceArn: arn });
    await h.settle();
    const newRevision = h.cp.store.getService(id)!.revisionId;
    assert.notEqual(newRevision, revisionId);
    const now = running(id).find((i) => i.revisionId === newRevision);
    assert.equal(h.runtime.specs().find((s) => s.instanceId === now?.instanceId)?.image, moved, 'a deployment pulls the tag again');
    await waitFor(() => running(id).every((i) => i.revisionId === newRevision), 5000, () => 'the old revision still runs');
  });
});

describe('event log', () => {
  test('a deployment that cannot pull rolls back, and the log tells the story in order', async () => {
    const { arn, id } = await createService('story');
    h.runtime.missingImages.add('registry.example/story:missing');
    await h.call('UpdateService', {
      ServiceArn: arn,
      SourceConfiguration: { ImageRepository: { ImageIdentifier: 'registry.example/story:missing', ImageRepositoryType: 'ECR', ImageConfiguration: { Port: '8080' } } },
    });
    await h.settle();
    const story = events(id).reverse().map((e) => `${e.type}: ${e.message}`);
    const types = story.map((line) => line.slice(0, line.indexOf(':')));
    assert.deepEqual(types.filter((t) => t !== 'instance-started'), ['deployment-started', 'deployment-succeeded', 'deployment-started', 'rollback-started', 'rollback-succeeded'], story.join('\n'));
    assert.match(story.at(-2)!, /rolls back to revision .*image registry.example\/story:missing not found/);
    assert.match(story.at(-1)!, /Deployment \(UPDATE_SERVICE\) of revision \w+ rollback succeeded after [\d.]+ s: image registry.example\/story:missing not found; rolled back to the previous revision/);
  });
});

describe('routes', () => {
  test("a service's timeouts reach the route table the routers follow, without a deployment", async () => {
    const { arn, id } = await createService('timeouts');
    const routeOf = async (): Promise<Route | undefined> => {
      const client = new Client('http://localhost', { socketPath: berthPaths(h.home).controlSocket });
      try {
        const response = await client.request({ path: '/v1/routes', method: 'GET' });
        const table = (await response.body.json()) as RouteTable;
        return table.routes.find((r) => r.serviceId === id);
      } finally {
        await client.close();
      }
    };
    const before = await routeOf();
    assert.equal(before?.requestTimeoutMs, 120_000, 'the installation default');
    assert.equal(before?.idleTimeoutMs, 120_000);
    const operations = (await h.call('ListOperations', { ServiceArn: arn })).OperationSummaryList as unknown[];
    await h.call('Berth.UpdateServiceSettings', { ServiceArn: arn, RequestTimeoutSeconds: 3600, IdleTimeoutSeconds: 30 });
    await waitFor(async () => (await routeOf())?.requestTimeoutMs === 3_600_000, 5000, () => 'the new request timeout never reached the route table');
    assert.equal((await routeOf())?.idleTimeoutMs, 30_000);
    assert.equal(((await h.call('ListOperations', { ServiceArn: arn })).OperationSummaryList as unknown[]).length, operations.length, 'no deployment was made');
  });
});

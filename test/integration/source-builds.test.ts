/**
 * SourceBuilds beyond what the API shows (issue 4): a control plane stopping mid-build leaves
 * the build to be started again rather than failed, and builds no revision needs are freed.
 * Runs over a real control plane's store, with real git and a fake builder.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GitSources } from '../../src/adapters/git/git-sources.ts';
import { PUBLIC_RUNTIME_IMAGES } from '../../src/core/build/managed-runtimes.ts';
import { systemClock } from '../../src/core/clock.ts';
import { newHexId } from '../../src/core/ids.ts';
import { SecretBox } from '../../src/core/secret-box.ts';
import { SourceBuilds } from '../../src/control/source-builds.ts';
import { startApiHarness, type ApiHarness } from '../support/api-harness.ts';
import { FakeBuilder } from '../support/fake-builder.ts';
import { GitFixture } from '../support/git-fixture.ts';
import { waitFor } from '../support/berth-process.ts';

const API_NODE = { ConfigurationSource: 'API', CodeConfigurationValues: { Runtime: 'NODEJS_22', StartCommand: 'node server.js' } };

describe('source builds', () => {
  let h: ApiHarness;
  let builder: FakeBuilder;
  let root: string;
  let repo: GitFixture;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-builds-'));
    repo = await GitFixture.create(root);
    await repo.commit({ 'server.js': 'v1' }, 'first');
    builder = new FakeBuilder();
    h = await startApiHarness({}, { builder });
  });
  after(async () => {
    await h.close();
    await rm(root, { recursive: true, force: true });
  });

  const sourceBuilds = (fake: FakeBuilder): SourceBuilds => new SourceBuilds({
    store: h.cp.store,
    clock: systemClock,
    secrets: new SecretBox(Buffer.alloc(32)),
    builder: fake,
    sources: new GitSources({ cacheDir: join(root, 'cache') }),
    images: PUBLIC_RUNTIME_IMAGES,
    options: { workRoot: join(root, 'work'), timeoutMs: 60_000 },
    onEnd: () => undefined,
  });

  test('builds that no revision needs are freed: older revisions, and all of a deleted service', async () => {
    const { Service } = await h.call('CreateService', { ServiceName: 'gc-svc', SourceConfiguration: { CodeRepository: { RepositoryUrl: repo.bare, SourceCodeVersion: { Type: 'BRANCH', Value: 'main' }, CodeConfiguration: API_NODE } } });
    const arn = (Service as Record<string, unknown>).ServiceArn as string;
    const id = (Service as Record<string, unknown>).ServiceId as string;
    await h.settle();
    for (let i = 2; i <= 4; i++) {
      await repo.commit({ 'server.js': `v${i}` }, `v${i}`);
      await h.call('StartDeployment', { ServiceArn: arn });
      await h.settle();
    }
    const images = h.cp.store.listBuildsWithImages().filter((b) => b.serviceId === id).map((b) => b.image);
    assert.equal(images.length, 4);
    const collector = sourceBuilds(builder);
    assert.equal(await collector.collect(), 3, 'all but the revision serving (also the newest) are freed');
    assert.deepEqual(builder.discarded, images.slice(0, 3));
    assert.equal(await collector.collect(), 0, 'nothing is freed twice');

    await h.call('DeleteService', { ServiceArn: arn });
    await h.settle();
    assert.equal(await collector.collect(), 1);
    assert.deepEqual(builder.discarded, images);
  });

  test('a build cut short by a stop stays in progress and is started again, not failed', async () => {
    const { Service } = await h.call('CreateService', { ServiceName: 'stop-svc', SourceConfiguration: { CodeRepository: { RepositoryUrl: repo.bare, SourceCodeVersion: { Type: 'BRANCH', Value: 'main' }, CodeConfiguration: API_NODE } } });
    const id = (Service as Record<string, unknown>).ServiceId as string;
    await h.settle();
    const revision = h.cp.store.listRevisions(id)[0];
    assert.ok(revision !== undefined);
    // A new revision nobody has built, driven by a SourceBuilds of the test's own.
    const fresh = { ...revision, id: newHexId(), number: revision.number + 1 };
    h.cp.store.insertRevision(fresh);
    const slow = new FakeBuilder();
    slow.delayMs = 60_000;
    const first = sourceBuilds(slow);
    assert.equal(first.state(fresh, undefined).state, 'building');
    await waitFor(() => slow.requests.length === 1, 10_000, () => 'the build did not reach the builder');
    await first.stop();
    const left = h.cp.store.latestBuild(fresh.id);
    assert.equal(left?.status, 'IN_PROGRESS');
    assert.match(left?.log ?? '', /The control plane is stopping; this build starts again when it is back/);

    const second = sourceBuilds(new FakeBuilder());
    assert.equal(second.state(fresh, undefined).state, 'building');
    await waitFor(() => h.cp.store.latestBuild(fresh.id)?.status === 'SUCCEEDED', 10_000, () => 'the build was not started again');
    const latest = h.cp.store.latestBuild(fresh.id);
    assert.notEqual(latest?.id, left?.id, 'a new attempt, not the old record');
    // The attempt cut short is kept, marked as interrupted, for the operation's history.
    const rows = h.dump().split('\n').find((line) => line.startsWith('builds:')) ?? '';
    assert.match(rows, new RegExp(`${left?.id}.*the build was interrupted \\(the control plane stopped\\); it was started again`));
  });
});

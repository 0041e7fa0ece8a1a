/**
 * Automatic deployments (issue 4) through a real control plane: a repository served by a real
 * `git http-backend` behind a token, a connection holding the token, and pushes announced by a
 * signed GitHub webhook, or found by polling. Builds are faked (test/support/fake-builder.ts);
 * what is checked is which pushes deploy which commit.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiHarness, type ApiHarness } from '../support/api-harness.ts';
import { waitFor } from '../support/berth-process.ts';
import { FakeBuilder } from '../support/fake-builder.ts';
import { GitFixture } from '../support/git-fixture.ts';
import { startGitHttpServer, type GitHttpServer } from '../support/git-http-server.ts';

const API_NODE = { ConfigurationSource: 'API', CodeConfigurationValues: { Runtime: 'NODEJS_22', StartCommand: 'node index.js' } };

describe('automatic deployments', () => {
  let h: ApiHarness;
  let root: string;
  let repo: GitFixture;
  let server: GitHttpServer;
  let repositoryUrl: string;
  let connectionArn: string;
  let webhook: { path: string; secret: string };
  let apiArn: string;
  let webArn: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-autodeploy-'));
    repo = await GitFixture.create(join(root, 'projects'), 'mono');
    await repo.commit({ 'services/api/index.js': 'api v1', 'services/web/index.js': 'web v1', 'README.md': 'mono' }, 'first');
    const token = `tok_${randomBytes(12).toString('hex')}`;
    server = await startGitHttpServer({ projectRoot: join(root, 'projects'), token });
    repositoryUrl = `${server.url}/mono.git`;
    // Polling is off here, so only webhooks deploy; the polling test starts a control plane of its own.
    h = await startApiHarness({ build: { pollIntervalSeconds: 0 } }, { builder: new FakeBuilder() });
    const { Connection } = await h.call('CreateConnection', { ConnectionName: 'mono-conn', ProviderType: 'GITHUB' });
    connectionArn = (Connection as Record<string, unknown>).ConnectionArn as string;
    await h.call('Berth.CompleteConnectionHandshake', { ConnectionArn: connectionArn, Credential: { Token: token } });
    const hook = await h.call('Berth.GetConnectionWebhook', { ConnectionArn: connectionArn });
    webhook = { path: hook.WebhookPath as string, secret: hook.Secret as string };
    const create = async (name: string, dir: string): Promise<string> => {
      const { Service } = await h.call('CreateService', {
        ServiceName: name,
        SourceConfiguration: {
          CodeRepository: { RepositoryUrl: repositoryUrl, SourceCodeVersion: { Type: 'BRANCH', Value: 'main' }, SourceDirectory: dir, CodeConfiguration: API_NODE },
          AuthenticationConfiguration: { ConnectionArn: connectionArn },
        },
      });
      return (Service as Record<string, unknown>).ServiceArn as string;
    };
    apiArn = await create('mono-api', 'services/api');
    webArn = await create('mono-web', 'services/web');
    await h.settle();
  });
  after(async () => {
    await h.close();
    await server.stop();
    await rm(root, { recursive: true, force: true });
  });

  /** A GitHub push event for `commit`, listing the files it touched, signed with `secret`. */
  const push = async (commit: string, files: string[], secret = webhook.secret): Promise<{ status: number; json: Record<string, unknown> }> => {
    const body = JSON.stringify({
      ref: 'refs/heads/main',
      before: '1'.repeat(40),
      after: commit,
      repository: { clone_url: repositoryUrl, html_url: repositoryUrl.replace(/\.git$/, '') },
      commits: [{ id: commit, added: [], modified: files, removed: [] }],
    });
    const signature = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
    const response = await fetch(`${h.cp.apiUrl}${webhook.path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': signature },
      body,
    });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  };

  const deployedCommits = async (arn: string): Promise<string[]> => {
    const { OperationSummaryList } = await h.call('ListOperations', { ServiceArn: arn });
    const commits: string[] = [];
    for (const op of OperationSummaryList as Record<string, unknown>[]) {
      const { Operation } = await h.call('Berth.DescribeOperation', { ServiceArn: arn, OperationId: op.Id });
      for (const build of (Operation as { Builds: Record<string, unknown>[] }).Builds) commits.push(String(build.Commit));
    }
    return commits;
  };

  test('a signed push that touches a service directory deploys that service at the pushed commit, and only it', async () => {
    const commit = await repo.commit({ 'services/api/index.js': 'api v2' }, 'api v2');
    const reply = await push(commit, ['services/api/index.js']);
    assert.equal(reply.status, 202, JSON.stringify(reply.json));
    const deployments = reply.json.deployments as { serviceArn: string }[];
    assert.deepEqual(deployments.map((d) => d.serviceArn), [apiArn]);
    assert.deepEqual((reply.json.skipped as { serviceArn: string; reason: string }[]).map((s) => [s.serviceArn, s.reason]), [[webArn, 'the push changes nothing under the source directory services/web']]);
    await h.settle();
    assert.equal((await deployedCommits(apiArn))[0], commit);
    assert.notEqual((await deployedCommits(webArn))[0], commit);
  });

  test('a bad signature deploys nothing', async () => {
    const before = (await deployedCommits(apiArn)).length;
    const commit = await repo.commit({ 'services/api/index.js': 'api v3' }, 'api v3');
    const forged = await push(commit, ['services/api/index.js'], 'f'.repeat(64));
    assert.equal(forged.status, 401);
    await h.settle();
    assert.equal((await deployedCommits(apiArn)).length, before);
  });

  test('a push outside every source directory deploys nothing', async () => {
    const apiBefore = (await deployedCommits(apiArn)).length;
    const webBefore = (await deployedCommits(webArn)).length;
    const commit = await repo.commit({ 'README.md': 'docs only' }, 'docs');
    const reply = await push(commit, ['README.md']);
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.json.deployments, []);
    await h.settle();
    assert.equal((await deployedCommits(apiArn)).length, apiBefore);
    assert.equal((await deployedCommits(webArn)).length, webBefore);
  });

  test('the same commit announced twice deploys once', async () => {
    const commit = await repo.commit({ 'services/web/index.js': 'web v2' }, 'web v2');
    assert.equal((await push(commit, ['services/web/index.js'])).status, 202);
    await h.settle();
    const again = await push(commit, ['services/web/index.js']);
    assert.equal(again.status, 200);
    assert.match(JSON.stringify(again.json.skipped), /already deployed or being deployed/);
  });

  test('polling finds a commit no webhook announced, and skips one outside the directory', async () => {
    // A second control plane over the same repository, polling every second.
    const poller = await startApiHarness({ build: { pollIntervalSeconds: 1 } }, { builder: new FakeBuilder() });
    try {
      const { Service } = await poller.call('CreateService', {
        ServiceName: 'polled-api',
        SourceConfiguration: { CodeRepository: { RepositoryUrl: repo.bare, SourceCodeVersion: { Type: 'BRANCH', Value: 'main' }, SourceDirectory: 'services/api', CodeConfiguration: API_NODE } },
      });
      const arn = (Service as Record<string, unknown>).ServiceArn as string;
      await poller.settle();
      const operations = async (): Promise<Record<string, unknown>[]> => (await poller.call('ListOperations', { ServiceArn: arn })).OperationSummaryList as Record<string, unknown>[];
      await repo.commit({ 'services/web/index.js': 'web v3' }, 'web only');
      await new Promise((resolve) => setTimeout(resolve, 2500));
      assert.equal((await operations()).length, 1, 'a commit outside services/api deploys nothing');
      const commit = await repo.commit({ 'services/api/index.js': 'api v4' }, 'api v4');
      await waitFor(async () => (await operations()).length === 2, 10_000, () => 'polling did not start a deployment');
      await poller.settle();
      const [latest] = await operations();
      assert.equal(latest?.Type, 'START_DEPLOYMENT');
      const { Operation } = await poller.call('Berth.DescribeOperation', { ServiceArn: arn, OperationId: latest?.Id });
      assert.equal((Operation as { Builds: Record<string, unknown>[] }).Builds[0]?.Commit, commit);
    } finally {
      await poller.close();
    }
  });
});

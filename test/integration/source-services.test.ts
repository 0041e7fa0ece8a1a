/**
 * Source-code services through the API (issue 4), with real git repositories and a fake builder
 * and runtime: what is checked here is the control plane's part (validation, the commit
 * recorded, build output through Berth.DescribeOperation, failed builds rolling back, monorepo
 * directories). Real builds and real containers are in test/e2e/source-services.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, startApiHarness, type ApiHarness } from '../support/api-harness.ts';
import { FakeBuilder } from '../support/fake-builder.ts';
import { GitFixture } from '../support/git-fixture.ts';

const API_NODE = { ConfigurationSource: 'API', CodeConfigurationValues: { Runtime: 'NODEJS_22', StartCommand: 'node server.js', Port: '3000' } };

describe('source-code services', () => {
  let h: ApiHarness;
  let builder: FakeBuilder;
  let root: string;
  let repo: GitFixture;
  let firstCommit: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-source-'));
    repo = await GitFixture.create(root);
    firstCommit = await repo.commit({ 'server.js': 'v1', 'services/api/index.js': 'api v1', 'services/web/index.js': 'web v1' }, 'first');
    builder = new FakeBuilder();
    h = await startApiHarness({}, { builder });
  });
  after(async () => {
    await h.close();
    await rm(root, { recursive: true, force: true });
  });

  const create = (name: string, code: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> =>
    h.call('CreateService', { ServiceName: name, SourceConfiguration: { CodeRepository: { RepositoryUrl: repo.bare, SourceCodeVersion: { Type: 'BRANCH', Value: 'main' }, ...code }, ...extra } });

  const operations = async (arn: string): Promise<Record<string, unknown>[]> =>
    (await h.call('ListOperations', { ServiceArn: arn })).OperationSummaryList as Record<string, unknown>[];

  const describeOperation = async (arn: string, id: string): Promise<Record<string, unknown>> =>
    (await h.call('Berth.DescribeOperation', { ServiceArn: arn, OperationId: id })).Operation as Record<string, unknown>;

  test('a service from a branch builds its latest commit, records it, and runs what was built', async () => {
    const created = await create('src-api', { CodeConfiguration: API_NODE });
    const service = created.Service as Record<string, unknown>;
    const source = service.SourceConfiguration as Record<string, unknown>;
    assert.deepEqual(source.CodeRepository, { RepositoryUrl: repo.bare, SourceCodeVersion: { Type: 'BRANCH', Value: 'main' }, CodeConfiguration: API_NODE });
    assert.equal(source.AutoDeploymentsEnabled, true, 'App Runner deploys pushes of code repositories by default');
    await h.settle();
    const described = (await h.call('DescribeService', { ServiceArn: service.ServiceArn })).Service as Record<string, unknown>;
    assert.equal(described.Status, 'RUNNING');

    const [op] = await operations(service.ServiceArn as string);
    assert.equal(op?.Status, 'SUCCEEDED');
    const detail = await describeOperation(service.ServiceArn as string, op?.Id as string);
    const [build] = detail.Builds as Record<string, unknown>[];
    assert.equal(build?.Status, 'SUCCEEDED');
    assert.equal(build?.Commit, firstCommit);
    assert.equal(build?.BuiltFrom, 'api');
    assert.match(String(build?.Log), /Checked out commit [0-9a-f]{40}\n/);
    assert.match(String(build?.Log), /fake build of 2 files/);
    // The runtime runs the built image on the port the build planned.
    const instance = h.runtime.specs().find((s) => s.serviceName === 'src-api');
    assert.equal(instance?.image, build?.Image);
    assert.equal(instance?.port, 3000);
    assert.equal(instance?.env.PORT, '3000');
  });

  test('a monorepo gives each service its own source directory', async () => {
    const api = ((await create('mono-api', { SourceDirectory: 'services/api', CodeConfiguration: API_NODE })).Service as Record<string, unknown>).ServiceArn as string;
    const web = ((await create('mono-web', { SourceDirectory: '/services/web/', CodeConfiguration: API_NODE })).Service as Record<string, unknown>).ServiceArn as string;
    void api;
    void web;
    await h.settle();
    const seen = builder.requests.filter((r) => r.request.serviceName.startsWith('mono-'));
    assert.deepEqual(seen.map((r) => [r.request.serviceName, r.files]).sort(), [['mono-api', ['index.js']], ['mono-web', ['index.js']]]);
    assert.match(seen.find((r) => r.request.serviceName === 'mono-web')?.request.sourceDirectory ?? '', /services\/web$/);
  });

  test('a failed build keeps the running revision serving and shows the command and its output', async () => {
    const arn = ((await create('src-fail', { CodeConfiguration: API_NODE })).Service as Record<string, unknown>).ServiceArn as string;
    await h.settle();
    const servingImage = h.runtime.specs().find((s) => s.serviceName === 'src-fail')?.image;
    const failing = await repo.commit({ FAIL: 'compiling...\nerror TS2322: broken.ts(3,1)' }, 'break the build');
    const { OperationId } = await h.call('StartDeployment', { ServiceArn: arn });
    await h.settle();
    const [op] = await operations(arn);
    assert.equal(op?.Id, OperationId);
    assert.equal(op?.Status, 'ROLLBACK_SUCCEEDED');
    assert.match(String(op?.StatusMessage), /Build failed: the command 'make build' exited with code 2; last output:\ncompiling\.\.\.\nerror TS2322/);
    const detail = await describeOperation(arn, OperationId as string);
    const [build] = detail.Builds as Record<string, unknown>[];
    assert.equal(build?.Status, 'FAILED');
    assert.equal(build?.Commit, failing);
    assert.deepEqual(build?.Failure, { Message: "the command 'make build' exited with code 2", Command: 'make build', OutputTail: ['compiling...', 'error TS2322: broken.ts(3,1)'] });
    const described = (await h.call('DescribeService', { ServiceArn: arn })).Service as Record<string, unknown>;
    assert.equal(described.Status, 'RUNNING');
    const running = h.runtime.specs().filter((s) => s.serviceName === 'src-fail');
    assert.deepEqual(running.map((s) => s.image), [servingImage], 'only the previous build runs');
    await repo.commit({ FAIL: null }, 'fix the build');
  });

  test('a first deployment whose build fails ends CREATE_FAILED with the reason', async () => {
    await repo.commit({ FAIL: 'npm ERR! missing script: build' }, 'break again');
    const arn = ((await create('src-born-broken', { CodeConfiguration: API_NODE })).Service as Record<string, unknown>).ServiceArn as string;
    await h.settle();
    const described = (await h.call('DescribeService', { ServiceArn: arn })).Service as Record<string, unknown>;
    assert.equal(described.Status, 'CREATE_FAILED');
    const [op] = await operations(arn);
    assert.equal(op?.Status, 'FAILED');
    assert.match(String(op?.StatusMessage), /npm ERR! missing script: build/);
    await repo.commit({ FAIL: null }, 'fix again');
  });

  test('apprunner.yaml problems fail the build with their line, and secrets are refused rather than ignored', async () => {
    await repo.commit({ 'yaml-bad/apprunner.yaml': 'version: 1.0\nruntime: nodejs99\nrun:\n  command: node server.js\n' }, 'bad yaml');
    await repo.commit({ 'yaml-secret/apprunner.yaml': 'version: 1.0\nruntime: nodejs22\nbuild:\n  commands:\n    build:\n      - npm ci\nrun:\n  command: node server.js\n  secrets:\n    - name: DB_PASSWORD\n      value-from: arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf\n' }, 'secrets');
    const REPOSITORY = { ConfigurationSource: 'REPOSITORY' };
    const bad = ((await create('yaml-bad', { SourceDirectory: 'yaml-bad', CodeConfiguration: REPOSITORY })).Service as Record<string, unknown>).ServiceArn as string;
    const secret = ((await create('yaml-secret', { SourceDirectory: 'yaml-secret', CodeConfiguration: REPOSITORY })).Service as Record<string, unknown>).ServiceArn as string;
    await h.settle();
    const [badOp] = await operations(bad);
    assert.equal(badOp?.Status, 'FAILED');
    assert.match(String(badOp?.StatusMessage), /apprunner\.yaml line 2, column 10: .*nodejs99/);
    const [secretOp] = await operations(secret);
    assert.equal(secretOp?.Status, 'FAILED');
    assert.match(String(secretOp?.StatusMessage), /asks for secrets \(run\.secrets: DB_PASSWORD\), which this version of Berth cannot resolve yet/);
  });

  test('bad source settings are refused with a clear error and change nothing', async () => {
    const before = h.dump();
    const refused = async (code: Record<string, unknown>, pattern: RegExp, extra: Record<string, unknown> = {}): Promise<void> => {
      await assert.rejects(create('src-bad', code, extra), (e: unknown) => {
        assert.ok(e instanceof ApiError);
        assert.equal(e.type, 'InvalidRequestException');
        assert.match(e.message, pattern);
        return true;
      });
    };
    await refused({ CodeConfiguration: API_NODE, SourceDirectory: '../outside' }, /sourceDirectory.*leads outside the repository/);
    await refused({ CodeConfiguration: API_NODE, SourceDirectory: '/../etc' }, /sourceDirectory.*leads outside the repository/);
    await refused({ CodeConfiguration: API_NODE, RepositoryUrl: 'https://user:secret@git.example.com/app.git' }, /repositoryUrl.*contains credentials/);
    await refused({ CodeConfiguration: API_NODE, SourceCodeVersion: { Type: 'BRANCH', Value: 'bad..name' } }, /sourceCodeVersion\.value.*not a valid git branch name/);
    await refused({}, /codeConfiguration' is required/);
    await refused({ CodeConfiguration: { ConfigurationSource: 'API', CodeConfigurationValues: { Runtime: 'NODEJS_22' } } }, /StartCommand is required/);
    await refused({ CodeConfiguration: API_NODE }, /accessRoleArn' applies to private image registries/, { AuthenticationConfiguration: { AccessRoleArn: 'arn:aws:iam::000000000000:role/x' } });
    assert.equal(h.dump(), before);
  });

  test('a connection must have completed its handshake to be used', async () => {
    const { Connection } = await h.call('CreateConnection', { ConnectionName: 'pending-conn', ProviderType: 'GITHUB' });
    const arn = (Connection as Record<string, unknown>).ConnectionArn;
    await assert.rejects(create('src-conn', { CodeConfiguration: API_NODE }, { AuthenticationConfiguration: { ConnectionArn: arn } }), /is PENDING_HANDSHAKE; complete its handshake/);
  });

  test('an image service cannot switch to a code repository, nor back', async () => {
    const arn = ((await create('src-switch', { CodeConfiguration: API_NODE })).Service as Record<string, unknown>).ServiceArn as string;
    await h.settle();
    await assert.rejects(
      h.call('UpdateService', { ServiceArn: arn, SourceConfiguration: { ImageRepository: { ImageIdentifier: 'localhost:5000/x:1', ImageRepositoryType: 'ECR' } } }),
      /deployed from a code repository cannot switch to an image/,
    );
  });

  test('an update without CodeConfiguration keeps the current one and builds the new branch', async () => {
    const feature = await repo.commit({ 'server.js': 'feature' }, 'feature work', 'feature');
    const arn = ((await create('src-branch', { CodeConfiguration: API_NODE })).Service as Record<string, unknown>).ServiceArn as string;
    await h.settle();
    const { OperationId } = await h.call('UpdateService', {
      ServiceArn: arn,
      SourceConfiguration: { CodeRepository: { RepositoryUrl: repo.bare, SourceCodeVersion: { Type: 'BRANCH', Value: 'feature' } } },
    });
    await h.settle();
    const service = (await h.call('DescribeService', { ServiceArn: arn })).Service as Record<string, unknown>;
    const code = (service.SourceConfiguration as Record<string, unknown>).CodeRepository as Record<string, unknown>;
    assert.deepEqual(code.CodeConfiguration, API_NODE);
    const [build] = (await describeOperation(arn, OperationId as string)).Builds as Record<string, unknown>[];
    assert.equal(build?.Commit, feature);
    assert.equal(build?.Branch, 'feature');
  });
});

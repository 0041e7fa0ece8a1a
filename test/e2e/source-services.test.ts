/**
 * End to end, deploying from source on the real Docker engine (issue 4): `berth up` as a
 * process, the official SDK as the client, a monorepo served by a real `git http-backend` behind
 * a token and a Python repository served by a real sshd with a deploy key, each reached through a
 * connection. Builds run in containers on Berth's own runtime images, made from Debian's
 * packages (no public registry is reachable here). Every service is then reached over HTTPS
 * through the router.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AppRunnerClient,
  CreateConnectionCommand,
  CreateServiceCommand,
  DescribeServiceCommand,
  ListOperationsCommand,
  StartDeploymentCommand,
  UpdateServiceCommand,
  type SourceConfiguration,
} from '@aws-sdk/client-apprunner';
import { DockerEngineClient } from '../../src/adapters/docker/engine-client.ts';
import { requireDocker } from '../support/docker.ts';
import { httpsGet, startBerth, waitFor, type BerthUp } from '../support/berth-process.ts';
import { GitFixture } from '../support/git-fixture.ts';
import { deleteServicesAndWait } from '../support/services.ts';
import { startGitHttpServer, type GitHttpServer } from '../support/git-http-server.ts';
import { ensureOsRuntimeImages } from '../support/runtime-images.ts';
import { signedFetch } from '../support/signed-request.ts';
import { startSshGitServer, type SshGitServer } from '../support/ssh-git-server.ts';

/** A Node.js server answering with a greeting from its environment and what its build wrote. */
const nodeServer = (name: string): string => `const http = require('node:http');
const fs = require('node:fs');
const built = fs.existsSync('built.txt') ? fs.readFileSync('built.txt', 'utf8').trim() : 'not built';
http.createServer((req, res) => res.end(\`${name}: \${process.env.GREETING ?? 'hi'}, \${built}\\n\`)).listen(Number(process.env.PORT), '0.0.0.0');
`;
const PACKAGE_JSON = (name: string, start = 'node server.js', dependencies: Record<string, string> = {}): string =>
  JSON.stringify({ name, version: '1.0.0', private: true, scripts: { start, build: 'echo npm-build > built.txt' }, dependencies }, null, 2);

const NODE_YAML = `version: 1.0
runtime: nodejs22
build:
  commands:
    pre-build:
      - node --version
    build:
      - npm install
      - echo yaml-build > built.txt
  env:
    - name: NODE_ENV
      value: production
run:
  command: node server.js
  network:
    port: 8000
    env: APP_PORT
  env:
    - name: GREETING
      value: hello from apprunner.yaml
`;

const PYTHON_YAML = `version: 1.0
runtime: python311
build:
  commands:
    build:
      - pip3 install -r requirements.txt
      - echo python-build > built.txt
run:
  command: python3 app.py
  network:
    port: 8000
  env:
    - name: GREETING
      value: hello from python
`;
const PYTHON_APP = `import http.server, os
built = open("built.txt").read().strip()
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(f"python: {os.environ['GREETING']}, {built}\\n".encode())
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
`;

const DOCKERFILE = (base: string): string => `FROM ${base}
WORKDIR /srv
COPY server.js .
RUN echo dockerfile-build > built.txt
ENV GREETING="from a Dockerfile"
CMD ["node", "server.js"]
`;

describe('deploy from source on Docker', () => {
  let root: string;
  let docker: DockerEngineClient;
  let mono: GitFixture;
  let pyRepo: GitFixture;
  let http: GitHttpServer;
  let ssh: SshGitServer | undefined;
  let berth: BerthUp;
  let client: AppRunnerClient;
  let nodeImage: string;
  const arns: string[] = [];
  let httpConnection: string;
  let sshConnection: string | undefined;

  before(async (t) => {
    if (!(await requireDocker(t))) return;
    docker = new DockerEngineClient();
    // Made once per machine (debootstrap, then apt in a container): minutes the first time.
    const { images } = await ensureOsRuntimeImages({ client: docker });
    nodeImage = images.NODEJS_22.run;
    root = await mkdtemp(join(tmpdir(), 'berth-source-e2e-'));
    mono = await GitFixture.create(join(root, 'projects'), 'mono');
    await mono.commit({
      'node-yaml/apprunner.yaml': NODE_YAML,
      // A real dependency from the npm registry, installed inside the build container.
      'node-yaml/package.json': PACKAGE_JSON('node-yaml', 'node server.js', { ms: '2.1.3' }),
      'node-yaml/server.js': `require('ms');\n${nodeServer('node-yaml')}`,
      'node-api/package.json': PACKAGE_JSON('node-api'),
      'node-api/index.js': nodeServer('node-api'),
      'detected/package.json': PACKAGE_JSON('detected'),
      'detected/server.js': nodeServer('detected'),
      'docker/Dockerfile': DOCKERFILE(nodeImage),
      'docker/server.js': nodeServer('docker'),
    }, 'monorepo');
    const token = `tok_${randomBytes(12).toString('hex')}`;
    http = await startGitHttpServer({ projectRoot: join(root, 'projects'), token });

    berth = await startBerth({ config: { reconcile: { intervalMs: 250, startupTimeoutSeconds: 60, stopGraceSeconds: 1 }, build: { pollIntervalSeconds: 0 } } });
    client = new AppRunnerClient({ region: berth.region, endpoint: berth.apiUrl, credentials: berth.credentials });
    const berthCall = async (target: string, input: unknown): Promise<void> => {
      const reply = await signedFetch({ apiUrl: berth.apiUrl, region: berth.region, credentials: berth.credentials }, target, JSON.stringify(input));
      assert.equal(reply.status, 200, JSON.stringify(reply.json()));
    };
    httpConnection = (await client.send(new CreateConnectionCommand({ ConnectionName: 'mono-http', ProviderType: 'GITHUB' }))).Connection?.ConnectionArn as string;
    await berthCall('Berth.CompleteConnectionHandshake', { ConnectionArn: httpConnection, Credential: { Token: token } });

    const sshServer = await startSshGitServer(join(root, 'sshd'));
    if (typeof sshServer === 'string') {
      if (process.env['CI'] !== undefined) assert.fail(sshServer);
    } else {
      ssh = sshServer;
      pyRepo = await GitFixture.create(join(root, 'ssh-projects'), 'python');
      await pyRepo.commit({ 'apprunner.yaml': PYTHON_YAML, 'app.py': PYTHON_APP, 'requirements.txt': '# the standard library is enough\n' }, 'python app');
      sshConnection = (await client.send(new CreateConnectionCommand({ ConnectionName: 'python-ssh', ProviderType: 'GITHUB' }))).Connection?.ConnectionArn as string;
      await berthCall('Berth.CompleteConnectionHandshake', { ConnectionArn: sshConnection, Credential: { SshPrivateKey: ssh.deployKey, SshKnownHosts: ssh.knownHosts } });
    }
  });

  after(async () => {
    await deleteServicesAndWait(client, arns);
    client?.destroy();
    await berth?.stop();
    await http?.stop();
    await ssh?.stop();
    await docker?.close();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  const create = async (name: string, source: SourceConfiguration): Promise<{ arn: string; host: string }> => {
    const { Service } = await client.send(new CreateServiceCommand({ ServiceName: name, SourceConfiguration: { AutoDeploymentsEnabled: false, ...source } }));
    arns.push(Service?.ServiceArn as string);
    return { arn: Service?.ServiceArn as string, host: Service?.ServiceUrl as string };
  };
  const fromMono = (directory: string, configuration: NonNullable<SourceConfiguration['CodeRepository']>['CodeConfiguration'] = { ConfigurationSource: 'REPOSITORY' }): SourceConfiguration => ({
    CodeRepository: { RepositoryUrl: `${http.url}/mono.git`, SourceCodeVersion: { Type: 'BRANCH', Value: 'main' }, SourceDirectory: directory, CodeConfiguration: configuration },
    AuthenticationConfiguration: { ConnectionArn: httpConnection },
  });
  const settled = async (arn: string, timeoutMs = 600_000): Promise<string> => {
    let status: string | undefined;
    await waitFor(async () => {
      status = (await client.send(new DescribeServiceCommand({ ServiceArn: arn }))).Service?.Status;
      return status !== 'OPERATION_IN_PROGRESS';
    }, timeoutMs, () => `service still in progress; berth output:\n${berth.output().slice(-4000)}`);
    return status as string;
  };

  test('a monorepo over HTTPS-with-token: apprunner.yaml, CodeConfigurationValues, a Dockerfile and a detected project each build and serve', { timeout: 900_000 }, async () => {
    const services = {
      yaml: await create('src-node-yaml', fromMono('node-yaml')),
      api: await create('src-node-api', fromMono('node-api', {
        ConfigurationSource: 'API',
        CodeConfigurationValues: { Runtime: 'NODEJS_22', BuildCommand: 'npm run build', StartCommand: 'node index.js', Port: '3000', RuntimeEnvironmentVariables: { GREETING: 'hello from the API' } },
      })),
      docker: await create('src-dockerfile', fromMono('/docker')),
      detected: await create('src-detected', fromMono('detected')),
    };
    for (const [name, service] of Object.entries(services)) assert.equal(await settled(service.arn), 'RUNNING', `${name}: ${berth.output().slice(-4000)}`);
    assert.equal((await httpsGet(berth, services.yaml.host)).body, 'node-yaml: hello from apprunner.yaml, yaml-build\n');
    assert.equal((await httpsGet(berth, services.api.host)).body, 'node-api: hello from the API, npm-build\n');
    assert.equal((await httpsGet(berth, services.docker.host)).body, 'docker: from a Dockerfile, dockerfile-build\n');
    assert.equal((await httpsGet(berth, services.detected.host)).body, 'detected: hi, npm-build\n');
  });

  test('a signed push through the webhook deploys the new commit, built and served', { timeout: 900_000 }, async () => {
    const yaml = { arn: arns[0] as string, host: '' };
    yaml.host = (await client.send(new DescribeServiceCommand({ ServiceArn: yaml.arn }))).Service?.ServiceUrl as string;
    await client.send(new UpdateServiceCommand({ ServiceArn: yaml.arn, SourceConfiguration: { ...fromMono('node-yaml'), AutoDeploymentsEnabled: true } }));
    assert.equal(await settled(yaml.arn), 'RUNNING');
    const hook = await signedFetch({ apiUrl: berth.apiUrl, region: berth.region, credentials: berth.credentials }, 'Berth.GetConnectionWebhook', JSON.stringify({ ConnectionArn: httpConnection }));
    const { WebhookPath, Secret } = hook.json() as { WebhookPath: string; Secret: string };
    const commit = await mono.commit({ 'node-yaml/server.js': `require('ms');\n${nodeServer('node-yaml v2')}` }, 'node-yaml v2');
    const body = JSON.stringify({
      ref: 'refs/heads/main',
      before: '0'.repeat(39) + '1',
      after: commit,
      repository: { clone_url: `${http.url}/mono.git` },
      commits: [{ id: commit, added: [], modified: ['node-yaml/server.js'], removed: [] }],
    });
    const reply = await fetch(`${berth.apiUrl}${WebhookPath}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${createHmac('sha256', Secret).update(body).digest('hex')}` },
      body,
    });
    assert.equal(reply.status, 202, await reply.text());
    await waitFor(async () => (await httpsGet(berth, yaml.host)).body === 'node-yaml v2: hello from apprunner.yaml, yaml-build\n', 300_000, () => `the new commit is not served; berth output:\n${berth.output().slice(-3000)}`);
  });

  test('a Python service from apprunner.yaml over SSH with a deploy key', { timeout: 900_000 }, async (t) => {
    if (ssh === undefined || sshConnection === undefined) {
      t.skip('sshd cannot run here');
      return;
    }
    const python = await create('src-python', {
      CodeRepository: { RepositoryUrl: ssh.urlFor(pyRepo.bare), SourceCodeVersion: { Type: 'BRANCH', Value: 'main' }, CodeConfiguration: { ConfigurationSource: 'REPOSITORY' } },
      AuthenticationConfiguration: { ConnectionArn: sshConnection },
    });
    assert.equal(await settled(python.arn), 'RUNNING', berth.output().slice(-4000));
    assert.equal((await httpsGet(berth, python.host)).body, 'python: hello from python, python-build\n');
  });

  test('a failing Docker build leaves the running revision serving, with the failing command in the operation', { timeout: 900_000 }, async () => {
    const arn = arns[2] as string;
    const host = (await client.send(new DescribeServiceCommand({ ServiceArn: arn }))).Service?.ServiceUrl as string;
    await mono.commit({ 'docker/Dockerfile': `${DOCKERFILE(nodeImage)}RUN echo "cannot reach the package index" >&2 && exit 7\n` }, 'break the Dockerfile');
    const { OperationId } = await client.send(new StartDeploymentCommand({ ServiceArn: arn }));
    assert.equal(await settled(arn), 'RUNNING');
    const [op] = (await client.send(new ListOperationsCommand({ ServiceArn: arn }))).OperationSummaryList ?? [];
    assert.equal(op?.Id, OperationId);
    assert.equal(op?.Status, 'ROLLBACK_SUCCEEDED');
    const reply = await signedFetch({ apiUrl: berth.apiUrl, region: berth.region, credentials: berth.credentials }, 'Berth.DescribeOperation', JSON.stringify({ ServiceArn: arn, OperationId }));
    const build = (reply.json().Operation as { Builds: Record<string, unknown>[] }).Builds[0];
    assert.equal(build?.Status, 'FAILED');
    const failure = build?.Failure as { Message: string; Command?: string; OutputTail: string[] };
    assert.match(failure.Command ?? '', /echo "cannot reach the package index" >&2 && exit 7/);
    assert.ok(failure.OutputTail.some((line) => line.includes('cannot reach the package index')), failure.OutputTail.join('\n'));
    assert.equal((await httpsGet(berth, host)).body, 'docker: from a Dockerfile, dockerfile-build\n');
  });
});

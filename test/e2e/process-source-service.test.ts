/**
 * End to end without a container engine (issue 4): `berth up` with its Docker socket pointing
 * at nothing falls back to local processes, builds source services from a git repository with
 * the machine's own node and python3, and serves them through the router. A failing build
 * leaves the running version serving, with the failing command and its output shown by the
 * API and by `berth operations` / `berth build-log`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppRunnerClient, CreateServiceCommand, DescribeServiceCommand, ListOperationsCommand, StartDeploymentCommand } from '@aws-sdk/client-apprunner';
import { httpsGet, startBerth, waitFor, type BerthUp } from '../support/berth-process.ts';
import { GitFixture } from '../support/git-fixture.ts';
import { deleteServicesAndWait } from '../support/services.ts';

const ROOT = join(import.meta.dirname, '..', '..');

const NODE_SERVER = `const http = require('node:http');
const fs = require('node:fs');
const built = fs.readFileSync('built.txt', 'utf8').trim();
http.createServer((req, res) => res.end(\`\${process.env.GREETING} from node, \${built}\\n\`)).listen(Number(process.env.PORT));
`;
const apprunnerYaml = (build: string): string => `version: 1.0
runtime: nodejs22
build:
  commands:
    build:
      - ${build}
run:
  command: node server.js
  network:
    port: 8000
  env:
    - name: GREETING
      value: hello
`;
const PYTHON_APP = `import http.server, os
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"python detected\\n")
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
`;

describe('source services as local processes (no Docker engine)', () => {
  let root: string;
  let repo: GitFixture;
  let berth: BerthUp;
  let client: AppRunnerClient;
  const arns: string[] = [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-process-e2e-'));
    repo = await GitFixture.create(root, 'apps');
    await repo.commit({
      'node/server.js': NODE_SERVER,
      'node/apprunner.yaml': apprunnerYaml('echo v1 > built.txt'),
      'python/app.py': PYTHON_APP,
      'python/requirements.txt': '# no dependencies: the standard library serves\n',
    }, 'two apps');
    berth = await startBerth({ config: { docker: { socket: join(root, 'no-docker.sock') }, build: { pollIntervalSeconds: 0 } } });
    client = new AppRunnerClient({ region: berth.region, endpoint: berth.apiUrl, credentials: berth.credentials });
  });

  after(async () => {
    await deleteServicesAndWait(client, arns);
    client?.destroy();
    await berth?.stop();
    await rm(root, { recursive: true, force: true });
  });

  const create = async (name: string, sourceDirectory: string): Promise<{ arn: string; host: string }> => {
    const { Service } = await client.send(new CreateServiceCommand({
      ServiceName: name,
      SourceConfiguration: {
        CodeRepository: { RepositoryUrl: repo.bare, SourceCodeVersion: { Type: 'BRANCH', Value: 'main' }, SourceDirectory: sourceDirectory, CodeConfiguration: { ConfigurationSource: 'REPOSITORY' } },
        AutoDeploymentsEnabled: false,
      },
    }));
    arns.push(Service?.ServiceArn as string);
    return { arn: Service?.ServiceArn as string, host: Service?.ServiceUrl as string };
  };

  const settled = async (arn: string): Promise<string> => {
    let status: string | undefined;
    await waitFor(async () => {
      status = (await client.send(new DescribeServiceCommand({ ServiceArn: arn }))).Service?.Status;
      return status !== 'OPERATION_IN_PROGRESS';
    }, 120_000, () => `service still in progress; berth output:\n${berth.output().slice(-4000)}`);
    return status as string;
  };

  const cli = (...args: string[]): { status: number | null; stdout: string; stderr: string } => {
    const result = spawnSync(process.execPath, [join(ROOT, 'bin/berth.mjs'), ...args, '--home', berth.home, '--endpoint', berth.apiUrl], { encoding: 'utf8' });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };

  test('an apprunner.yaml Node.js service and a detected Python service deploy as processes and serve through the router', async () => {
    assert.match(berth.output(), /no Docker engine answers at .*no-docker\.sock.*running services as local processes/);
    const node = await create('proc-node', 'node');
    const python = await create('proc-python', 'python');
    assert.equal(await settled(node.arn), 'RUNNING', berth.output().slice(-4000));
    assert.equal(await settled(python.arn), 'RUNNING', berth.output().slice(-4000));
    assert.equal((await httpsGet(berth, node.host)).body, 'hello from node, v1\n');
    assert.equal((await httpsGet(berth, python.host)).body, 'python detected\n');
  });

  test('a failing build keeps the running version serving; the API and the CLI show the command and its output', async () => {
    const node = { arn: arns[0] as string, host: '' };
    node.host = (await client.send(new DescribeServiceCommand({ ServiceArn: node.arn }))).Service?.ServiceUrl as string;
    await repo.commit({ 'node/apprunner.yaml': apprunnerYaml(`node -e "console.error('boom, cannot find module left-pad'); process.exit(3)"`) }, 'break the build');
    const { OperationId } = await client.send(new StartDeploymentCommand({ ServiceArn: node.arn }));
    assert.equal(await settled(node.arn), 'RUNNING');
    const operations = (await client.send(new ListOperationsCommand({ ServiceArn: node.arn }))).OperationSummaryList ?? [];
    assert.equal(operations[0]?.Id, OperationId);
    assert.equal(operations[0]?.Status, 'ROLLBACK_SUCCEEDED');
    assert.equal((await httpsGet(berth, node.host)).body, 'hello from node, v1\n', 'the previous version keeps serving');

    const listed = cli('operations', 'proc-node');
    assert.equal(listed.status, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`${OperationId}\\s+START_DEPLOYMENT\\s+ROLLBACK_SUCCEEDED`));
    assert.match(listed.stdout, /Build failed: the command 'node -e .*' exited with code 3; last output:\n\s+boom, cannot find module left-pad/);

    const log = cli('build-log', 'proc-node');
    assert.equal(log.status, 1, 'a failed build is a failing exit status');
    assert.match(log.stdout, /== build [0-9a-f]{32} of commit [0-9a-f]{40} ==/);
    assert.match(log.stdout, /boom, cannot find module left-pad/);
    assert.match(log.stdout, /== build failed at: node -e/);
  });
});

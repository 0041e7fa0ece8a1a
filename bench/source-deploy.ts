/**
 * Time from StartDeployment to the router serving the new commit, for a small Node.js app
 * deployed from a git repository (apprunner.yaml, one npm dependency), on the real Docker engine:
 *
 * - cold: nothing of this app cached: its built images, their layers and Berth's git cache are
 *   removed before the deployment (Berth's runtime base images stay; they are made once per
 *   machine, and that one-off time is reported separately when they were missing);
 * - warm: the previous build's layers and the git cache are there; the commit changes app code.
 *
 * App Runner takes 15 to 20 minutes for a source build; the goal for warm is under 15 s.
 * Not part of the test suite.
 *
 *   npm run bench:source -- [runs]        (default 5 of each)
 */
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppRunnerClient, CreateServiceCommand, DeleteServiceCommand, DescribeServiceCommand, ListOperationsCommand, StartDeploymentCommand } from '@aws-sdk/client-apprunner';
import { Client } from 'undici';
import { DockerEngineClient } from '../src/adapters/docker/engine-client.ts';
import { httpsGet, startBerth } from '../test/support/berth-process.ts';
import { GitFixture } from '../test/support/git-fixture.ts';
import { signedFetch } from '../test/support/signed-request.ts';
import { ensureOsRuntimeImages } from '../test/support/runtime-images.ts';

const runs = Number(process.argv[2] ?? 5);
const docker = new DockerEngineClient();
const engineSocket = new Client('http://localhost', { socketPath: '/var/run/docker.sock' });
const baseStarted = performance.now();
await ensureOsRuntimeImages({ client: docker, languages: ['nodejs'] });
const baseSeconds = (performance.now() - baseStarted) / 1000;

const root = await mkdtemp(join(tmpdir(), 'berth-bench-source-'));
const repo = await GitFixture.create(root, 'app');
const APPRUNNER_YAML = `version: 1.0
runtime: nodejs22
build:
  commands:
    build:
      - npm install --no-audit --no-fund
run:
  command: node server.js
  network:
    port: 8080
`;
const server = (version: number): string => `const ms = require('ms');
require('node:http').createServer((req, res) => res.end('v${version} ' + ms(60000) + '\\n')).listen(Number(process.env.PORT));
`;
let version = 1;
await repo.commit({
  'apprunner.yaml': APPRUNNER_YAML,
  'package.json': JSON.stringify({ name: 'bench-app', version: '1.0.0', private: true, dependencies: { ms: '2.1.3' } }),
  'server.js': server(version),
}, 'v1');

const berth = await startBerth({ config: { reconcile: { intervalMs: 250, startupTimeoutSeconds: 120, stopGraceSeconds: 1 }, build: { pollIntervalSeconds: 0 } } });
const client = new AppRunnerClient({ region: berth.region, endpoint: berth.apiUrl, credentials: berth.credentials });

async function serves(host: string, body: string, arn?: string, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; ; i++) {
    if (arn !== undefined && i % 25 === 0) {
      // A deployment that failed will never serve: say why instead of waiting out the deadline.
      const status = (await client.send(new DescribeServiceCommand({ ServiceArn: arn }))).Service?.Status;
      const [op] = (await client.send(new ListOperationsCommand({ ServiceArn: arn }))).OperationSummaryList ?? [];
      if (status === 'CREATE_FAILED' || (op?.Status !== undefined && op.Status !== 'IN_PROGRESS' && op.Status !== 'SUCCEEDED')) {
        // StatusMessage is Berth's extension member, which the SDK drops: read the raw answer.
        const raw = await signedFetch({ apiUrl: berth.apiUrl, region: berth.region, credentials: berth.credentials }, 'AppRunner.ListOperations', JSON.stringify({ ServiceArn: arn }));
        const message = (raw.json().OperationSummaryList as { StatusMessage?: string }[] | undefined)?.[0]?.StatusMessage;
        throw new Error(`the deployment failed (${status}, ${op?.Status}): ${message ?? 'no message'}`);
      }
    }
    try {
      const reply = await httpsGet(berth, host, '/', 2000);
      if (reply.status === 200 && reply.body === body) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${host} did not serve ${JSON.stringify(body)} in time; berth output:\n${berth.output().slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** One Engine API call for the benchmark's own housekeeping. */
async function engine(method: 'GET' | 'POST' | 'DELETE', path: string): Promise<unknown> {
  const response = await engineSocket.request({ method, path });
  const text = await response.body.text();
  if (response.statusCode >= 400) throw new Error(`${method} ${path}: ${response.statusCode} ${text}`);
  return text === '' ? undefined : JSON.parse(text);
}

/** Removes every image built for the service (the layer cache) and Berth's git cache. */
async function dropCaches(serviceId: string): Promise<void> {
  const filters = encodeURIComponent(JSON.stringify({ label: [`berth.build.service-id=${serviceId}`] }));
  const images = (await engine('GET', `/images/json?filters=${filters}`)) as { Id: string }[];
  for (const image of images) await engine('DELETE', `/images/${image.Id}?force=1`).catch(() => undefined);
  // The build stages are untagged images without labels of their own: prune what is dangling.
  await engine('POST', `/images/prune?filters=${encodeURIComponent(JSON.stringify({ dangling: ['true'] }))}`);
  rmSync(join(berth.home, 'git-cache'), { recursive: true, force: true });
}

const cold: number[] = [];
const warm: number[] = [];
try {
  const { Service } = await client.send(new CreateServiceCommand({
    ServiceName: 'bench-source',
    SourceConfiguration: {
      CodeRepository: { RepositoryUrl: repo.bare, SourceCodeVersion: { Type: 'BRANCH', Value: 'main' }, CodeConfiguration: { ConfigurationSource: 'REPOSITORY' } },
      AutoDeploymentsEnabled: false,
    },
  }));
  const arn = Service?.ServiceArn as string;
  const host = Service?.ServiceUrl as string;
  const serviceId = Service?.ServiceId as string;
  await serves(host, 'v1 1m\n', arn);

  const deploy = async (): Promise<number> => {
    version += 1;
    await repo.commit({ 'server.js': server(version) }, `v${version}`);
    const started = performance.now();
    await client.send(new StartDeploymentCommand({ ServiceArn: arn }));
    await serves(host, `v${version} 1m\n`, arn);
    const seconds = (performance.now() - started) / 1000;
    // The operation ends once the old instance is gone; wait so the next run starts clean.
    for (;;) {
      const status = (await client.send(new DescribeServiceCommand({ ServiceArn: arn }))).Service?.Status;
      if (status === 'RUNNING') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return seconds;
  };

  for (let i = 0; i < runs; i++) {
    await dropCaches(serviceId);
    cold.push(await deploy());
    warm.push(await deploy());
    console.log(`run ${i + 1}: cold ${cold.at(-1)?.toFixed(2)} s, warm ${warm.at(-1)?.toFixed(2)} s`);
  }
  await client.send(new DeleteServiceCommand({ ServiceArn: arn }));
  // Containers outlive a stopped control plane by design: leave only once the service is gone.
  while ((await client.send(new DescribeServiceCommand({ ServiceArn: arn }))).Service?.Status !== 'DELETED') {
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
} finally {
  client.destroy();
  await berth.stop();
  await docker.close();
  await engineSocket.close();
  await rm(root, { recursive: true, force: true });
}

const stats = (xs: number[]): string => {
  const sorted = [...xs].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? NaN;
  return `median ${median.toFixed(2)} s, min ${(sorted[0] ?? NaN).toFixed(2)} s, max ${(sorted.at(-1) ?? NaN).toFixed(2)} s (${xs.length} runs)`;
};
console.log('\nStartDeployment → router serves the new commit (small Node.js app, 1 npm dependency, apprunner.yaml, Docker):');
console.log(`  cold cache: ${stats(cold)}`);
console.log(`  warm cache: ${stats(warm)}`);
console.log(`  runtime base images (one-off per machine; 0 when present): ${baseSeconds.toFixed(1)} s`);
console.log('  App Runner, for reference: 15-20 minutes per source build (app-runner-api.md, issue 4)');

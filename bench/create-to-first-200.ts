/**
 * Time from CreateService to the first 200 through the router, for an image already in a local
 * registry, over several runs; next to the time `docker run` of the same image takes to answer
 * its first 200 on the same machine, in the same run. Not part of the test suite.
 *
 *   npm run bench:create -- [runs]        (default 7)
 */
import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { AppRunnerClient, CreateServiceCommand, DeleteServiceCommand, DescribeServiceCommand } from '@aws-sdk/client-apprunner';
import { DockerEngineClient } from '../src/adapters/docker/engine-client.ts';
import { buildHttpImage, pushImage } from '../test/support/images.ts';
import { startRegistry } from '../test/support/registry.ts';
import { freePort, httpsGet, startBerth } from '../test/support/berth-process.ts';

const runs = Number(process.argv[2] ?? 7);
const docker = new DockerEngineClient();
const registry = await startRegistry();
const image = `${registry.host}/bench/hello:1`;
await buildHttpImage(docker, image);
await pushImage(docker, image);
const berth = await startBerth();
const client = new AppRunnerClient({ region: berth.region, endpoint: berth.apiUrl, credentials: berth.credentials });

async function until200(get: () => Promise<number>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await get()) === 200) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error('no 200 in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function plainGet(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('error', reject);
    req.end();
  });
}

const berthTimes: number[] = [];
const dockerTimes: number[] = [];
try {
  for (let i = 0; i < runs; i++) {
    // Berth: CreateService → first 200 over HTTPS through the router.
    const started = performance.now();
    const created = await client.send(new CreateServiceCommand({
      ServiceName: `bench-${i}`,
      SourceConfiguration: { ImageRepository: { ImageIdentifier: image, ImageRepositoryType: 'ECR', ImageConfiguration: { Port: '8080' } } },
    }));
    const host = created.Service?.ServiceUrl as string;
    await until200(async () => (await httpsGet(berth, host, '/', 2000)).status);
    berthTimes.push(performance.now() - started);
    // The route goes live as soon as an instance is healthy; the operation ends a moment later.
    while ((await client.send(new DescribeServiceCommand({ ServiceArn: created.Service?.ServiceArn }))).Service?.Status !== 'RUNNING') {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await client.send(new DeleteServiceCommand({ ServiceArn: created.Service?.ServiceArn }));
    while ((await client.send(new DescribeServiceCommand({ ServiceArn: created.Service?.ServiceArn }))).Service?.Status !== 'DELETED') {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    // docker run of the same image (already pulled), published on loopback → first 200.
    const port = await freePort();
    const name = `berth-bench-${process.pid}-${i}`;
    const dockerStarted = performance.now();
    const result = spawnSync('docker', ['run', '-d', '--rm', '--name', name, '-p', `127.0.0.1:${port}:8080`, image], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`docker run failed: ${result.stderr}`);
    await until200(() => plainGet(port));
    dockerTimes.push(performance.now() - dockerStarted);
    spawnSync('docker', ['rm', '-f', name]);
  }
} finally {
  await berth.stop();
  await registry.stop();
  await docker.close();
}

function summary(label: string, times: number[]): string {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  const median = sorted.length % 2 ? at(0.5) : ((sorted[sorted.length / 2 - 1] as number) + (sorted[sorted.length / 2] as number)) / 2;
  return `${label.padEnd(38)} median ${median.toFixed(0).padStart(5)} ms   min ${at(0).toFixed(0).padStart(5)} ms   max ${at(1).toFixed(0).padStart(5)} ms   (n=${times.length})`;
}
console.log(summary('Berth CreateService -> first 200 (HTTPS)', berthTimes));
console.log(summary('docker run -> first 200 (HTTP)', dockerTimes));
console.log(`runs: berth ${berthTimes.map((t) => t.toFixed(0)).join(' ')} | docker ${dockerTimes.map((t) => t.toFixed(0)).join(' ')}`);

/**
 * How fast deployments switch traffic and failed ones roll back, under steady HTTPS load through
 * the router (4 connections polling the service as fast as they can, on loopback), over several
 * runs. Not part of the test suite.
 *
 * - rollout: UpdateService to the other of two image tags (v1/v2, from a local registry) until
 *   the new revision's first response, the operation SUCCEEDED, the last response of the old
 *   revision (from then on only the new one answers), and the old instance stopped;
 * - rollback: UpdateService to an image that crashes at start, and to one that fails its HTTP
 *   health check (rolled back after the startup limit, 10 s here), from the failure's detection
 *   (ListOperations polled every 20 ms shows ROLLBACK_IN_PROGRESS or ROLLBACK_SUCCEEDED) until
 *   the old revision serves alone (the operation ended ROLLBACK_SUCCEEDED and no container of
 *   the failed revision is left).
 *
 *   node scripts/node24.mjs bench/rollout.ts [runs]        (default 10 of each)
 */
import { AppRunnerClient, CreateServiceCommand, UpdateServiceCommand } from '@aws-sdk/client-apprunner';
import { DockerEngineClient } from '../src/adapters/docker/engine-client.ts';
import { httpsGet, startBerth, waitFor } from '../test/support/berth-process.ts';
import { buildHttpImage, pushImage } from '../test/support/images.ts';
import { startLoad } from '../test/support/load.ts';
import { startRegistry } from '../test/support/registry.ts';
import { deleteServicesAndWait, serviceContainers, waitForOperation } from '../test/support/services.ts';

const runs = Number(process.argv[2] ?? 10);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`runs is ${JSON.stringify(process.argv[2])}; expected a whole number of at least 1`);
const STARTUP_SECONDS = 10;
const V1 = 'v1\n';
const V2 = 'v2\n';

const docker = new DockerEngineClient();
const registry = await startRegistry();
const tags = {
  v1: `${registry.host}/bench-rollout/app:1`,
  v2: `${registry.host}/bench-rollout/app:2`,
  crash: `${registry.host}/bench-rollout/crash:1`,
  unhealthy: `${registry.host}/bench-rollout/unhealthy:1`,
};
await buildHttpImage(docker, tags.v1, { body: V1, files: { healthz: 'ok\n' } });
await buildHttpImage(docker, tags.v2, { body: V2, files: { healthz: 'ok\n' } });
await buildHttpImage(docker, tags.crash, { behaviour: 'exit' });
await buildHttpImage(docker, tags.unhealthy, { body: 'unhealthy\n' });
for (const tag of Object.values(tags)) await pushImage(docker, tag);
const berth = await startBerth({ config: { reconcile: { intervalMs: 250, startupTimeoutSeconds: STARTUP_SECONDS, stopGraceSeconds: 1 }, build: { pollIntervalSeconds: 0 } } });
const client = new AppRunnerClient({ region: berth.region, endpoint: berth.apiUrl, credentials: berth.credentials });
const source = (image: string) => ({ ImageRepository: { ImageIdentifier: image, ImageRepositoryType: 'ECR' as const, ImageConfiguration: { Port: '8080' } } });
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

type Metric = { label: string; values: number[] };
const metric = (label: string): Metric => ({ label, values: [] });
const rollout = {
  firstNew: metric('UpdateService -> first response of the new revision'),
  succeeded: metric('UpdateService -> operation SUCCEEDED'),
  allNew: metric('UpdateService -> all traffic on the new revision'),
  oldGone: metric('UpdateService -> old instance stopped'),
};
const rollback = {
  crash: { detected: metric('crash: UpdateService -> failure detected'), alone: metric('crash: detected -> old revision serving alone') },
  unhealthy: { detected: metric('unhealthy: UpdateService -> failure detected'), alone: metric('unhealthy: detected -> old revision serving alone') },
};
const loadSummaries: string[] = [];
let arn: string | undefined;

try {
  const created = await client.send(new CreateServiceCommand({
    ServiceName: 'bench-rollout',
    SourceConfiguration: source(tags.v1),
    HealthCheckConfiguration: { Protocol: 'HTTP', Path: '/healthz', Interval: 1, HealthyThreshold: 1 },
  }));
  arn = created.Service?.ServiceArn as string;
  const serviceId = created.Service?.ServiceId as string;
  const host = created.Service?.ServiceUrl as string;
  await waitForOperation(client, arn, created.OperationId as string, (s) => s !== 'IN_PROGRESS', { timeoutMs: 60_000 });
  await waitFor(async () => (await httpsGet(berth, host)).body === V1, 10_000, () => 'the service never served v1');
  let current = { body: V1, container: (await serviceContainers(docker, serviceId))[0] };

  // Rollouts, alternating v1 and v2.
  const rolloutLoad = startLoad(berth, { host, concurrency: 4, durationMs: runs * 30_000, expectedBodies: [V1, V2] });
  await sleep(500);
  for (let i = 0; i < runs; i++) {
    const [image, body] = current.body === V1 ? [tags.v2, V2] : [tags.v1, V1];
    const t0 = performance.now();
    const updated = await client.send(new UpdateServiceCommand({ ServiceArn: arn, SourceConfiguration: source(image) }));
    const ended = await waitForOperation(client, arn, updated.OperationId as string, (s) => s !== 'IN_PROGRESS', { timeoutMs: 60_000, intervalMs: 20 });
    if (ended.operation.Status !== 'SUCCEEDED') throw new Error(`rollout ${i + 1} ended ${ended.operation.Status}`);
    let now = await serviceContainers(docker, serviceId);
    while (now.length !== 1 || now[0]?.id === current.container?.id) {
      if (performance.now() - t0 > 60_000) throw new Error(`the old instance was not stopped: ${JSON.stringify(now)}`);
      await sleep(20);
      now = await serviceContainers(docker, serviceId);
    }
    const oldGoneAt = performance.now();
    // Some traffic on the new revision alone, so that a late old response would show.
    await sleep(500);
    const window = rolloutLoad.samples.filter((s) => s.start >= t0);
    const firstNew = window.filter((s) => s.body === body).reduce((first, s) => Math.min(first, s.end), Infinity);
    const lastOld = window.filter((s) => s.body === current.body).reduce((last, s) => Math.max(last, s.end), t0);
    rollout.firstNew.values.push(firstNew - t0);
    rollout.succeeded.values.push(ended.seenAt - t0);
    rollout.allNew.values.push(lastOld - t0);
    rollout.oldGone.values.push(oldGoneAt - t0);
    console.log(`rollout ${i + 1} -> ${body.trim()}: first new ${(firstNew - t0).toFixed(0)} ms, SUCCEEDED ${(ended.seenAt - t0).toFixed(0)} ms, last old ${(lastOld - t0).toFixed(0)} ms, old stopped ${(oldGoneAt - t0).toFixed(0)} ms`);
    current = { body, container: now[0] };
  }
  loadSummaries.push(`rollouts:  ${rolloutLoad.describe(await rolloutLoad.stop())}`);

  // Rollbacks: the failure's detection until the old revision serves alone.
  for (const kind of ['crash', 'unhealthy'] as const) {
    const load = startLoad(berth, { host, concurrency: 4, durationMs: runs * (STARTUP_SECONDS + 20) * 1000, expectedBodies: [current.body] });
    await sleep(500);
    for (let i = 0; i < runs; i++) {
      const goodRevision = current.container?.revisionId;
      const t0 = performance.now();
      const updated = await client.send(new UpdateServiceCommand({ ServiceArn: arn, SourceConfiguration: source(tags[kind]) }));
      const operationId = updated.OperationId as string;
      // Watch the engine meanwhile: when the failed revision's last container is gone.
      let watching = true;
      let failedGoneAt = Infinity;
      const watcher = (async () => {
        while (watching) {
          const others = (await serviceContainers(docker, serviceId)).filter((c) => c.revisionId !== goodRevision);
          if (others.length === 0 && failedGoneAt === Infinity) failedGoneAt = performance.now();
          if (others.length > 0) failedGoneAt = Infinity;
          await sleep(20);
        }
      })();
      const detected = await waitForOperation(client, arn, operationId, (s) => s !== 'IN_PROGRESS', { timeoutMs: (STARTUP_SECONDS + 30) * 1000, intervalMs: 20 });
      const ended = detected.operation.Status === 'ROLLBACK_IN_PROGRESS'
        ? await waitForOperation(client, arn, operationId, (s) => s !== 'ROLLBACK_IN_PROGRESS', { timeoutMs: 60_000, intervalMs: 20 })
        : detected;
      if (ended.operation.Status !== 'ROLLBACK_SUCCEEDED') throw new Error(`${kind} rollback ${i + 1} ended ${ended.operation.Status}`);
      // Only the good revision's containers, seen after the rollback ended.
      await waitFor(() => failedGoneAt !== Infinity, 30_000, () => `the ${kind} revision's container was not removed`);
      watching = false;
      await watcher;
      const aloneAt = Math.max(ended.seenAt, failedGoneAt);
      rollback[kind].detected.values.push(detected.seenAt - t0);
      rollback[kind].alone.values.push(aloneAt - detected.seenAt);
      console.log(`${kind} rollback ${i + 1}: detected (${detected.operation.Status}) ${(detected.seenAt - t0).toFixed(0)} ms, ROLLBACK_SUCCEEDED ${(ended.seenAt - t0).toFixed(0)} ms, failed instance gone ${(failedGoneAt - t0).toFixed(0)} ms`);
    }
    loadSummaries.push(`${kind} rollbacks: ${load.describe(await load.stop())}`);
  }
} finally {
  await deleteServicesAndWait(client, arn === undefined ? [] : [arn]);
  client.destroy();
  await berth.stop();
  await registry.stop();
  for (const tag of Object.values(tags)) await docker.removeImage(tag, { force: true }).catch(() => undefined);
  await docker.close();
}

function row(m: Metric): string {
  const sorted = [...m.values].sort((a, b) => a - b);
  const rank = (q: number): number => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? NaN;
  const median = sorted.length % 2 ? rank(0.5) : ((sorted[sorted.length / 2 - 1] ?? NaN) + (sorted[sorted.length / 2] ?? NaN)) / 2;
  const cell = (ms: number): string => `${ms.toFixed(0)} ms`.padStart(9);
  return `${m.label.padEnd(54)}${cell(median)}${cell(rank(0.9))}${cell(sorted[0] ?? NaN)}${cell(sorted.at(-1) ?? NaN)}${String(m.values.length).padStart(5)}`;
}
console.log(`\nRollouts and rollbacks under load (startup limit ${STARTUP_SECONDS} s; health check HTTP /healthz every 1 s, healthy after 1):`);
console.log(`${''.padEnd(54)}${'median'.padStart(9)}${'p90'.padStart(9)}${'min'.padStart(9)}${'max'.padStart(9)}${'n'.padStart(5)}`);
for (const m of [...Object.values(rollout), rollback.crash.detected, rollback.crash.alone, rollback.unhealthy.detected, rollback.unhealthy.alone]) console.log(row(m));
console.log('\nLoad through the router (4 connections, keep-alive, HTTPS):');
for (const line of loadSummaries) console.log(`  ${line}`);

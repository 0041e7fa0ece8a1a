/**
 * How Berth's autoscaler follows a step load, and how fast a service at zero answers its first
 * request next to a bare container start of the same image. Not part of the test suite.
 *
 * - Step load: a service of the work app (test/support/images.ts: a handler that takes 200 ms)
 *   with MaxConcurrency C, MinSize 1 and MaxSize M sits idle, then takes a burst of N × C
 *   concurrent requests (N times one instance's capacity) through the router over HTTPS for B
 *   seconds, then idles again until it is back at MinSize. Reported: the time from the burst's
 *   start until N instances are ready (DescribeService's `Scaling`) and until N instances have
 *   answered (the app names itself on every response), failed requests, p50/p99 latency during
 *   the burst, and the instance-seconds used (the engine's containers of the service, sampled
 *   every 100 ms) against the minimum needed: N instances during the burst, MinSize otherwise.
 * - From zero: a service with MinSize 0 and a short idle period is left to reach zero
 *   containers, then one GET through the router is timed until its 200; next to it, a container
 *   of the same image created and started through the Engine API (no CLI), timed until a GET to
 *   it answers 200. Each `runs` times, interleaved.
 *
 * Goals (issue 6): no failed request while the burst is within MaxSize; capacity within 3 s of
 * the burst; from zero, at most 150 ms over the bare container start.
 *
 *   node scripts/node24.mjs bench/scaling.ts [--times N] [--capacity C] [--max-size M] [--burst S] [--runs R]
 *   (defaults: N 3, C 5, M 5, B 20 s, R 5)
 */
import { parseArgs } from 'node:util';
import { AppRunnerClient, CreateAutoScalingConfigurationCommand, CreateServiceCommand } from '@aws-sdk/client-apprunner';
import { DockerEngineClient } from '../src/adapters/docker/engine-client.ts';
import { httpsGet, startBerth, waitFor } from '../test/support/berth-process.ts';
import { buildHttpImage, DEFAULT_BODY, pushImage, runBareContainer, WORK_BODY, WORK_HEADERS, WORK_PATH } from '../test/support/images.ts';
import { startLoad } from '../test/support/load.ts';
import { startRegistry } from '../test/support/registry.ts';
import { deleteServicesAndWait, listServiceEvents, readyInstances, ScalingWatcher, updateServiceSettings, waitForOperation } from '../test/support/services.ts';

const { values: flags } = parseArgs({
  options: {
    times: { type: 'string', default: '3' },
    capacity: { type: 'string', default: '5' },
    'max-size': { type: 'string', default: '5' },
    burst: { type: 'string', default: '20' },
    runs: { type: 'string', default: '5' },
  },
  strict: true,
});
function wholeNumber(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} is ${JSON.stringify(value)}; expected a whole number from ${min} to ${max}`);
  return n;
}
const TIMES = wholeNumber('times', flags.times, 1, 25);
const CAPACITY = wholeNumber('capacity', flags.capacity, 1, 200);
const MAX_SIZE = wholeNumber('max-size', flags['max-size'], 1, 25);
const BURST_S = wholeNumber('burst', flags.burst, 1, 600);
const RUNS = wholeNumber('runs', flags.runs, 1, 50);
const MIN_SIZE = 1;
const WORK_MS = 200;
const IDLE_BEFORE_MS = 5_000;
/** After the burst: up to a stable window (60 s) and more before the scale-in, then a stop. */
const SCALE_IN_WAIT_MS = 150_000;
const ZERO_IDLE_SECONDS = 2;
const GOALS = { capacityMs: 3_000, overBareMs: 150 };

const docker = new DockerEngineClient();
const registry = await startRegistry();
const image = `${registry.host}/bench-scaling/work:1`;
await buildHttpImage(docker, image, { work: { ms: WORK_MS } });
await pushImage(docker, image);
const berth = await startBerth({ config: { reconcile: { intervalMs: 250, startupTimeoutSeconds: 20, stopGraceSeconds: 1 }, build: { pollIntervalSeconds: 0 } } });
const client = new AppRunnerClient({ region: berth.region, endpoint: berth.apiUrl, credentials: berth.credentials });
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const arns: string[] = [];
const watchers: ScalingWatcher[] = [];

async function createService(name: string, asc: { MaxConcurrency: number; MinSize: number; MaxSize: number }): Promise<{ arn: string; id: string; host: string }> {
  const config = await client.send(new CreateAutoScalingConfigurationCommand({ AutoScalingConfigurationName: `${name}-asc`, ...asc }));
  const created = await client.send(new CreateServiceCommand({
    ServiceName: name,
    SourceConfiguration: { ImageRepository: { ImageIdentifier: image, ImageRepositoryType: 'ECR', ImageConfiguration: { Port: '8080' } } },
    HealthCheckConfiguration: { Protocol: 'HTTP', Path: '/', Interval: 1, HealthyThreshold: 1 },
    AutoScalingConfigurationArn: config.AutoScalingConfiguration?.AutoScalingConfigurationArn as string,
  }));
  const arn = created.Service?.ServiceArn as string;
  arns.push(arn);
  const ended = await waitForOperation(client, arn, created.OperationId as string, (s) => s !== 'IN_PROGRESS', { timeoutMs: 60_000 });
  if (ended.operation.Status !== 'SUCCEEDED') throw new Error(`creating ${name} ended ${ended.operation.Status}`);
  const host = created.Service?.ServiceUrl as string;
  await waitFor(async () => (await httpsGet(berth, host)).body === DEFAULT_BODY, 10_000, () => `${name} never served`);
  return { arn, id: created.Service?.ServiceId as string, host };
}

function watch(service: { arn: string; id: string }): ScalingWatcher {
  const watcher = new ScalingWatcher(docker, berth, service.arn, service.id, 100);
  watchers.push(watcher);
  return watcher;
}

/** Polls `get` every 5 ms until it answers 200; resolves with when it did. */
async function until200(get: () => Promise<number>, timeoutMs = 30_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      if ((await get()) === 200) return performance.now();
    } catch {
      // Not listening yet.
    }
    if (performance.now() > deadline) throw new Error('no 200 in time');
    await sleep(5);
  }
}

const step: { rows: [string, string, string][]; timeline: string; events: string } = { rows: [], timeline: '', events: '' };
const fromZero = { berth: [] as number[], bare: [] as number[] };

try {
  // Step load.
  const stepService = await createService('bench-step', { MaxConcurrency: CAPACITY, MinSize: MIN_SIZE, MaxSize: MAX_SIZE });
  const watcher = watch(stepService);
  await sleep(IDLE_BEFORE_MS);
  const concurrency = TIMES * CAPACITY;
  console.log(`burst: ${concurrency} concurrent requests for ${BURST_S} s`);
  const load = startLoad(berth, {
    host: stepService.host,
    path: WORK_PATH,
    concurrency,
    durationMs: BURST_S * 1000,
    expectedBodies: [WORK_BODY],
    recordHeaders: [WORK_HEADERS.instance],
  });
  await load.done();
  const report = await load.stop();
  const burstStart = load.startedAt;
  const burstEnd = burstStart + BURST_S * 1000;
  console.log(`burst over; waiting up to ${SCALE_IN_WAIT_MS / 1000} s for the scale-in to ${MIN_SIZE}`);
  const backAt = await watcher.until((s) => s.live === MIN_SIZE && s.running === MIN_SIZE, SCALE_IN_WAIT_MS, `back at ${MIN_SIZE}`).then((s) => s.at, () => undefined);
  const windowEnd = backAt ?? performance.now();
  await watcher.stop();

  const readyAt = watcher.between(burstStart).find((s) => (readyInstances(s) ?? -1) >= TIMES)?.at;
  const firstAnswer = new Map<string, number>();
  for (const s of load.samples) {
    const instance = s.headers?.[WORK_HEADERS.instance];
    if (instance !== undefined && s.status === 200) firstAnswer.set(instance, Math.min(firstAnswer.get(instance) ?? Infinity, s.end));
  }
  const answeringAt = [...firstAnswer.values()].sort((a, b) => a - b)[TIMES - 1];
  const used = watcher.instanceSeconds(burstStart, windowEnd);
  const usedBurst = watcher.instanceSeconds(burstStart, burstEnd);
  const minimumBurst = TIMES * BURST_S;
  const minimum = minimumBurst + MIN_SIZE * Math.max(0, (windowEnd - burstEnd) / 1000);
  const seconds = (at: number | undefined, from: number): string => (at === undefined ? 'never' : `${((at - from) / 1000).toFixed(2)} s`);
  const verdict = (met: boolean): string => (met ? 'met' : 'MISSED');
  step.rows.push(
    [`${TIMES} instances ready (Scaling), from the burst's start`, seconds(readyAt, burstStart), `<= ${GOALS.capacityMs / 1000} s ${verdict(readyAt !== undefined && readyAt - burstStart <= GOALS.capacityMs)}`],
    [`${TIMES} instances answering (responses), from the burst's start`, seconds(answeringAt, burstStart), `<= ${GOALS.capacityMs / 1000} s ${verdict(answeringAt !== undefined && answeringAt - burstStart <= GOALS.capacityMs)}`],
    ['requests failed during the burst', `${report.failures} of ${report.requests}`, TIMES <= MAX_SIZE ? `0 ${verdict(report.failures === 0)}` : '(burst above MaxSize)'],
    ['latency during the burst, p50 / p99', `${report.p50Ms.toFixed(0)} / ${report.p99Ms.toFixed(0)} ms`, `handler ${WORK_MS} ms`],
    ['instance-seconds during the burst', `${usedBurst.toFixed(0)} vs ${minimumBurst} min`, `${(usedBurst / minimumBurst).toFixed(2)}x`],
    [`instance-seconds, burst start to back at ${MIN_SIZE}`, `${used.toFixed(0)} vs ${minimum.toFixed(0)} min`, `${(used / minimum).toFixed(2)}x`],
    [`back at MinSize ${MIN_SIZE}, from the burst's end`, seconds(backAt, burstEnd), ''],
    ['most containers at once', String(watcher.samples.reduce((max, s) => Math.max(max, s.live), 0)), `MaxSize ${MAX_SIZE}`],
  );
  step.timeline = watcher.timeline(burstStart, burstStart - 1000, burstEnd + 5000);
  step.events = (await listServiceEvents(berth, stepService.arn).catch(() => []))
    .filter((e) => e.Type === 'SCALED')
    .reverse()
    .map((e) => `  ${new Date(e.At * 1000).toISOString().slice(11, 19)} ${e.Message}`)
    .join('\n');
  console.log(`burst load: ${load.describe(report)}`);
  await deleteServicesAndWait(client, [stepService.arn]);

  // From zero, next to a bare container start.
  const zeroService = await createService('bench-zero', { MaxConcurrency: CAPACITY, MinSize: 0, MaxSize: MAX_SIZE });
  await updateServiceSettings(berth, { ServiceArn: zeroService.arn, ScaleToZeroIdleSeconds: ZERO_IDLE_SECONDS });
  const zeroWatcher = watch(zeroService);
  for (let i = 0; i < RUNS; i++) {
    await zeroWatcher.until((s) => s.live === 0, 120_000, 'zero containers');
    // A moment at zero, so that the router's table has caught up with the empty service.
    await sleep(500);
    const sent = performance.now();
    const reply = await httpsGet(berth, zeroService.host, '/', 15_000);
    if (reply.status !== 200) throw new Error(`the first request from zero answered ${reply.status} ${String(reply.headers['x-berth-error'] ?? '')}: ${reply.body}`);
    fromZero.berth.push(performance.now() - sent);

    const started = performance.now();
    const bare = await runBareContainer(docker, image, { name: `berth-bench-scaling-${process.pid}-${i}` });
    try {
      const answered = await until200(async () => (await fetch(`http://${bare.address}/`, { signal: AbortSignal.timeout(1000) })).status);
      fromZero.bare.push(answered - started);
    } finally {
      await bare.remove();
    }
    console.log(`from zero ${i + 1}: berth ${fromZero.berth.at(-1)?.toFixed(0)} ms, bare container ${fromZero.bare.at(-1)?.toFixed(0)} ms`);
  }
  await zeroWatcher.stop();
} finally {
  for (const watcher of watchers) await watcher.stop();
  await deleteServicesAndWait(client, arns);
  client.destroy();
  await berth.stop();
  await registry.stop();
  await docker.removeImage(image, { force: true }).catch(() => undefined);
  await docker.close();
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

console.log(`\nStep load: idle ${IDLE_BEFORE_MS / 1000} s, then ${TIMES} x one instance's capacity (${TIMES} x MaxConcurrency ${CAPACITY} = ${TIMES * CAPACITY} concurrent requests of ${WORK_MS} ms, HTTPS through the router) for ${BURST_S} s, then idle; MinSize ${MIN_SIZE}, MaxSize ${MAX_SIZE}`);
for (const [label, value, goal] of step.rows) console.log(`  ${label.padEnd(56)}${value.padStart(20)}   ${goal}`);
console.log(`\nScale around the burst (seconds from its start; live = containers holding compute):\n${step.timeline.replace(/^/gm, '  ')}`);
if (step.events !== '') console.log(`SCALED events:\n${step.events}`);

const cell = (ms: number): string => `${ms.toFixed(0)} ms`.padStart(9);
const zeroRow = (label: string, values: number[]): string => `  ${label.padEnd(56)}${cell(median(values))}${cell(Math.min(...values))}${cell(Math.max(...values))}${String(values.length).padStart(5)}`;
console.log(`\nFirst request from zero (MinSize 0, ScaleToZeroIdleSeconds ${ZERO_IDLE_SECONDS}), next to a bare container start of the same image:`);
console.log(`  ${''.padEnd(56)}${'median'.padStart(9)}${'min'.padStart(9)}${'max'.padStart(9)}${'n'.padStart(5)}`);
console.log(zeroRow('Berth at zero: GET through the router -> 200 (HTTPS)', fromZero.berth));
console.log(zeroRow('bare container: create + start -> GET 200 (HTTP)', fromZero.bare));
const over = median(fromZero.berth) - median(fromZero.bare);
console.log(`  difference of the medians: ${over.toFixed(0)} ms (goal <= ${GOALS.overBareMs} ms: ${over <= GOALS.overBareMs ? 'met' : 'MISSED'})`);

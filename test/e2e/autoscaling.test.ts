/**
 * Request-driven autoscaling, end to end (issue 6): `berth up` as a process, the official SDK,
 * the real Docker engine and registry, and HTTPS load through the real router against an app
 * whose handler takes a fixed 200 ms and reports, on every response, how many requests its
 * instance was handling at once (test/support/images.ts, the `work` option). Proves that:
 *
 * - a load above MaxConcurrency × instances scales out up to MaxSize and never beyond, that no
 *   instance is ever sent more than MaxConcurrency requests (the app's own count, on every
 *   response and read from each instance directly), and that the router's queue absorbs the
 *   excess without a failed request;
 * - once the load is removed the service scales in to MinSize, without a failed request from a
 *   trickle of load meanwhile;
 * - a service with MinSize 0 goes to no container at all after its idle period, and its next
 *   request is held by the router while an instance starts, then served 200.
 *
 * The scale is watched every 250 ms from both sides: the engine's containers of the service
 * and DescribeService's `Scaling` extension.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { AppRunnerClient, CreateAutoScalingConfigurationCommand, CreateServiceCommand, DescribeServiceCommand } from '@aws-sdk/client-apprunner';
import { DockerEngineClient } from '../../src/adapters/docker/engine-client.ts';
import { httpsGet, startBerth, waitFor, type BerthUp, type Reply } from '../support/berth-process.ts';
import { requireDocker } from '../support/docker.ts';
import { buildHttpImage, DEFAULT_BODY, PEAK_PATH, pushImage, runBareContainer, WORK_BODY, WORK_HEADERS, WORK_PATH } from '../support/images.ts';
import { startLoad, type LoadGenerator, type Sample } from '../support/load.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import {
  currentInstances,
  deleteServicesAndWait,
  listServiceEvents,
  readyInstances,
  ScalingWatcher,
  serviceContainers,
  updateServiceSettings,
  type ScalingSample,
  type ServiceEventOutput,
} from '../support/services.ts';

const docker = new DockerEngineClient();
const run = `scale${process.pid}`;
const WORK_MS = 200;
/** The scaled service's auto scaling configuration. */
const ASC = { MaxConcurrency: 2, MinSize: 1, MaxSize: 3 } as const;
/**
 * More than MaxConcurrency × MaxSize (6), so that requests queue in the router even at MaxSize.
 * Throughput at one instance is 2 / 0.2 s = 10 requests/s, so the 8 queued then wait about
 * 0.8 s; at three instances the 4 queued wait about 0.15 s: far inside the router's 10 s wait.
 */
const LOAD_CONCURRENCY = 10;
const LOAD_MS = 15_000;
/**
 * Scale-in: with Knative's rules the autoscaler stays in panic (no scale-down) until a stable
 * window (60 s) has passed without the panic condition, and its 60 s stable average must fall
 * to MinSize's worth of load; both end about 60 s after the load stops. Then a decision tick
 * (2 s), draining (a 200 ms request) and the stop (1 s grace): 100 s leaves room on a busy CI.
 */
const SCALE_IN_BOUND_MS = 100_000;
const IDLE_SECONDS = 5;
/** Idle period, then a decision tick or two, the stop (1 s grace) and the removal. */
const TO_ZERO_BOUND_MS = (IDLE_SECONDS + 25) * 1000;
/** Scale-out: the panic window (6 s) sees the burst within a decision or two (1 s each), then instances start (well under a second here). */
const SCALE_OUT_BOUND_MS = 10_000;
const HEALTH_CHECK = { Protocol: 'HTTP' as const, Path: '/', Interval: 1, HealthyThreshold: 1 };
const APP_HEADERS = Object.values(WORK_HEADERS);

let registry: TestRegistry | undefined;
let berth: BerthUp | undefined;
let client: AppRunnerClient | undefined;
let image: string | undefined;
const arns: string[] = [];
const watchers: ScalingWatcher[] = [];

before(async (t) => {
  if (!(await requireDocker(t))) return;
  registry = await startRegistry();
  image = `${registry.host}/${run}/work:1`;
  await buildHttpImage(docker, image, { work: { ms: WORK_MS } });
  await pushImage(docker, image);
  berth = await startBerth({ config: { reconcile: { intervalMs: 250, startupTimeoutSeconds: 20, stopGraceSeconds: 1 }, build: { pollIntervalSeconds: 0 } } });
  client = new AppRunnerClient({ region: berth.region, endpoint: berth.apiUrl, credentials: berth.credentials });
});

after(async () => {
  for (const watcher of watchers) await watcher.stop();
  await deleteServicesAndWait(client, arns);
  client?.destroy();
  await berth?.stop();
  await registry?.stop();
  if (image !== undefined) await docker.removeImage(image, { force: true }).catch(() => undefined);
  await docker.close();
});

interface CreatedService {
  arn: string;
  id: string;
  host: string;
}

/** Creates a service of the work image with its own auto scaling configuration; resolves once RUNNING and serving. */
async function createWorkService(name: string, asc: { MaxConcurrency: number; MinSize: number; MaxSize: number }): Promise<CreatedService> {
  const api = client as AppRunnerClient;
  const config = await api.send(new CreateAutoScalingConfigurationCommand({ AutoScalingConfigurationName: `${name}-asc`, ...asc }));
  const created = await api.send(new CreateServiceCommand({
    ServiceName: name,
    SourceConfiguration: { ImageRepository: { ImageIdentifier: image as string, ImageRepositoryType: 'ECR', ImageConfiguration: { Port: '8080' } } },
    HealthCheckConfiguration: HEALTH_CHECK,
    AutoScalingConfigurationArn: config.AutoScalingConfiguration?.AutoScalingConfigurationArn as string,
  }));
  const arn = created.Service?.ServiceArn as string;
  arns.push(arn);
  await waitFor(
    async () => (await api.send(new DescribeServiceCommand({ ServiceArn: arn }))).Service?.Status === 'RUNNING',
    30_000,
    () => `${name} never RUNNING; berth output:\n${berth?.output().slice(-3000)}`,
  );
  const host = created.Service?.ServiceUrl as string;
  await waitFor(async () => (await httpsGet(berth as BerthUp, host)).body === DEFAULT_BODY, 10_000, () => `${name} never served its body`);
  return { arn, id: created.Service?.ServiceId as string, host };
}

function watch(service: CreatedService): ScalingWatcher {
  const watcher = new ScalingWatcher(docker, berth as BerthUp, service.arn, service.id);
  watchers.push(watcher);
  return watcher;
}

/** The highest value of a numeric app header over the samples; -Infinity when none carried it. */
function maxHeader(samples: readonly Sample[], name: string): number {
  return samples.reduce((max, s) => Math.max(max, Number(s.headers?.[name] ?? -Infinity)), -Infinity);
}

/** Per instance (the app's host name): requests answered and the highest concurrency and peak it reported. */
function perInstance(samples: readonly Sample[]): string {
  const by = new Map<string, { requests: number; concurrency: number; peak: number }>();
  for (const s of samples) {
    const instance = s.headers?.[WORK_HEADERS.instance];
    if (instance === undefined) continue;
    const entry = by.get(instance) ?? { requests: 0, concurrency: 0, peak: 0 };
    entry.requests++;
    entry.concurrency = Math.max(entry.concurrency, Number(s.headers?.[WORK_HEADERS.concurrency] ?? 0));
    entry.peak = Math.max(entry.peak, Number(s.headers?.[WORK_HEADERS.peak] ?? 0));
    by.set(instance, entry);
  }
  return [...by].map(([instance, e]) => `${instance}: ${e.requests} requests, concurrency up to ${e.concurrency}, peak ${e.peak}`).join('; ');
}

/** Each running container's own peak, read from it directly (its address on Berth's network), by container id. */
async function peaksFromInstances(serviceId: string): Promise<Record<string, number>> {
  const peaks: Record<string, number> = {};
  for (const container of await serviceContainers(docker, serviceId)) {
    if (container.state !== 'running') continue;
    const networks = (await docker.inspectContainer(container.id))?.NetworkSettings.Networks ?? {};
    const ip = Object.values(networks)[0]?.IPAddress;
    if (ip === undefined || ip === '') continue;
    const reply = await fetch(`http://${ip}:8080${PEAK_PATH}`, { signal: AbortSignal.timeout(5_000) });
    peaks[container.id.slice(0, 12)] = Number((await reply.text()).trim());
  }
  return peaks;
}

/** The service's SCALED events, oldest first, and one line each for diagnostics. */
async function scaledEvents(arn: string): Promise<{ events: ServiceEventOutput[]; text: string; error?: string }> {
  try {
    const events = (await listServiceEvents(berth as BerthUp, arn)).filter((e) => e.Type === 'SCALED').reverse();
    return { events, text: events.map((e) => `${new Date(e.At * 1000).toISOString().slice(11, 19)} ${e.Message}`).join('\n') };
  } catch (error) {
    return { events: [], text: '', error: (error as Error).message };
  }
}

const desired = (s: ScalingSample): number | undefined => s.scaling?.DesiredInstances;
const maxOf = (samples: readonly ScalingSample[], f: (s: ScalingSample) => number | undefined): number =>
  samples.reduce((max, s) => Math.max(max, f(s) ?? -Infinity), -Infinity);

describe('the work app', () => {
  test('counts its own concurrency: 8 parallel requests of 500 ms each see 1 to 8, and the peak is 8', async () => {
    const container = await runBareContainer(docker, image as string, { name: `${run}-count` });
    try {
      await waitFor(async () => (await fetch(`http://${container.address}/`)).status === 200, 10_000, () => 'the bare container never answered');
      // Eight, under busybox httpd's listen backlog: more connections at once could wait for a SYN retry.
      const replies = await Promise.all(Array.from({ length: 8 }, async () => {
        const reply = await fetch(`http://${container.address}${WORK_PATH}?500`, { signal: AbortSignal.timeout(10_000) });
        return { status: reply.status, body: await reply.text(), concurrency: Number(reply.headers.get(WORK_HEADERS.concurrency)), peak: Number(reply.headers.get(WORK_HEADERS.peak)) };
      }));
      assert.deepEqual(replies.map((r) => [r.status, r.body]), Array.from({ length: 8 }, () => [200, WORK_BODY]));
      assert.deepEqual(replies.map((r) => r.concurrency).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8]);
      assert.equal(Math.max(...replies.map((r) => r.peak)), 8);
      assert.equal((await (await fetch(`http://${container.address}${PEAK_PATH}`)).text()).trim(), '8');
      // Everything counted out: a reset lowers the peak to the current count, 0.
      assert.equal((await (await fetch(`http://${container.address}${PEAK_PATH}?reset`)).text()).trim(), '0');
    } finally {
      await container.remove();
    }
  });
});

describe('request-driven autoscaling', { timeout: 240_000 }, () => {
  /** The scale-out test's service, watched from its start on; the scale-in test goes on from where it left. */
  let scaled: { service: CreatedService; watcher: ScalingWatcher; load: LoadGenerator; loadEnd: number } | undefined;

  test(`concurrency ${LOAD_CONCURRENCY} against MaxConcurrency ${ASC.MaxConcurrency} × MaxSize ${ASC.MaxSize}: out to ${ASC.MaxSize} instances and never beyond, never over ${ASC.MaxConcurrency} requests on an instance, no failed request`, async (t: TestContext) => {
    const service = await createWorkService('scale-out', ASC);
    const watcher = watch(service);
    await watcher.until((s) => s.running === ASC.MinSize, 10_000, `${ASC.MinSize} instance before the load`);
    const load = startLoad(berth as BerthUp, {
      host: service.host,
      path: WORK_PATH,
      concurrency: LOAD_CONCURRENCY,
      durationMs: LOAD_MS,
      expectedBodies: [WORK_BODY],
      recordHeaders: APP_HEADERS,
    });
    await load.done();
    const report = await load.stop();
    const loadStart = load.startedAt;
    const loadEnd = performance.now();
    scaled = { service, watcher, load, loadEnd };
    // Read while the instances still run: the scale-in comes a minute later at the earliest.
    const peaks = await peaksFromInstances(service.id);
    const during = watcher.between(loadStart, loadEnd);
    const fullAt = during.find((s) => (readyInstances(s) ?? s.running) >= ASC.MaxSize)?.at;
    t.diagnostic(`load: ${load.describe(report)}`);
    t.diagnostic(`per instance, from its responses: ${perInstance(load.samples)}`);
    t.diagnostic(`per instance, read from it directly: ${JSON.stringify(peaks)}`);
    t.diagnostic(`${ASC.MaxSize} instances ready ${fullAt === undefined ? 'never' : `${((fullAt - loadStart) / 1000).toFixed(1)} s after the load started`}`);
    t.diagnostic(`scale during the load (from its start):\n${watcher.timeline(loadStart, 0, loadEnd)}`);
    const scaledOut = await scaledEvents(service.arn);
    t.diagnostic(`SCALED events:\n${scaledOut.text}`);

    await t.test('no request failed: the router queued what the instances had no room for', () => {
      assert.equal(report.failures, 0, load.describe(report));
    });
    await t.test(`the engine never held more than ${ASC.MaxSize} containers of the service, and held ${ASC.MaxSize} during the load`, () => {
      assert.ok(maxOf(watcher.samples, (s) => s.live) <= ASC.MaxSize, `up to ${maxOf(watcher.samples, (s) => s.live)} containers:\n${watcher.timeline(loadStart)}`);
      assert.equal(maxOf(during, (s) => s.running), ASC.MaxSize, `at most ${maxOf(during, (s) => s.running)} running during the load:\n${watcher.timeline(loadStart)}`);
    });
    await t.test(`${ASC.MaxSize} instances ready within ${SCALE_OUT_BOUND_MS / 1000} s of the load's start, and a SCALED event says so`, () => {
      assert.ok(fullAt !== undefined && fullAt - loadStart <= SCALE_OUT_BOUND_MS, watcher.timeline(loadStart));
      assert.ok(scaledOut.events.length > 0, `no SCALED event${scaledOut.error === undefined ? '' : `: ${scaledOut.error}`}`);
    });
    await t.test(`Scaling: DesiredInstances rose to ${ASC.MaxSize} and never above, nor did CurrentInstances`, () => {
      const withScaling = watcher.samples.filter((s) => s.scaling !== undefined);
      assert.ok(withScaling.length > 0, `DescribeService never had a Scaling member: ${watcher.latest()?.scalingError ?? 'no sample'}`);
      assert.equal(maxOf(withScaling, desired), ASC.MaxSize, watcher.timeline(loadStart));
      assert.ok(maxOf(withScaling, currentInstances) <= ASC.MaxSize, watcher.timeline(loadStart));
    });
    await t.test(`no instance handled more than MaxConcurrency (${ASC.MaxConcurrency}) requests at once, by its own count`, () => {
      const answered = load.samples.filter((s) => s.status === 200);
      assert.ok(answered.every((s) => s.headers?.[WORK_HEADERS.concurrency] !== undefined), 'every 200 carries the app headers');
      assert.ok(maxHeader(answered, WORK_HEADERS.concurrency) <= ASC.MaxConcurrency, perInstance(answered));
      assert.ok(maxHeader(answered, WORK_HEADERS.peak) <= ASC.MaxConcurrency, perInstance(answered));
      assert.ok(Object.keys(peaks).length > 0, 'some instance was read directly');
      assert.ok(Object.values(peaks).every((peak) => peak <= ASC.MaxConcurrency), JSON.stringify(peaks));
      // The cap was reached, so the test could have seen it broken.
      assert.equal(maxHeader(answered, WORK_HEADERS.peak), ASC.MaxConcurrency, perInstance(answered));
    });
  });

  test(`once the load is gone: in to MinSize (${ASC.MinSize}) within ${SCALE_IN_BOUND_MS / 1000} s, without a failed request from a trickle meanwhile`, async (t: TestContext) => {
    assert.ok(scaled !== undefined, 'the scale-out test made no service');
    const { service, watcher, loadEnd } = scaled;
    // One loop, a 200 ms request then a 300 ms pause: about 0.4 requests in flight, under one
    // instance's 70 % target of 1.4.
    const trickle = startLoad(berth as BerthUp, {
      host: service.host,
      path: WORK_PATH,
      concurrency: 1,
      pauseMs: 300,
      durationMs: SCALE_IN_BOUND_MS + 10_000,
      expectedBodies: [WORK_BODY],
      recordHeaders: APP_HEADERS,
    });
    let inAt: number | undefined;
    try {
      const remaining = Math.max(0, loadEnd + SCALE_IN_BOUND_MS - performance.now());
      const settled = await watcher
        .until((s) => s.live === ASC.MinSize && s.running === ASC.MinSize && (s.scaling === undefined || desired(s) === ASC.MinSize), remaining, `${ASC.MinSize} container left`)
        .catch(() => undefined);
      inAt = settled?.at;
      // A little more trickle on the one instance left, so a request cut by the last stop would show.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    } finally {
      const report = await trickle.stop();
      t.diagnostic(`trickle: ${trickle.describe(report)}`);
    }
    const report = trickle.report();
    const samples = watcher.between(loadEnd);
    const desiredInAt = samples.find((s) => desired(s) === ASC.MinSize)?.at;
    t.diagnostic(`after the load: DesiredInstances ${ASC.MinSize} ${desiredInAt === undefined ? 'never' : `after ${((desiredInAt - loadEnd) / 1000).toFixed(1)} s`}, ${ASC.MinSize} container left ${inAt === undefined ? 'never' : `after ${((inAt - loadEnd) / 1000).toFixed(1)} s`}`);
    t.diagnostic(`scale after the load (from its end):\n${watcher.timeline(loadEnd, loadEnd)}`);
    const scaledIn = await scaledEvents(service.arn);
    t.diagnostic(`SCALED events:\n${scaledIn.text}`);
    t.diagnostic(`LastDecision: ${JSON.stringify(watcher.latest()?.scaling?.LastDecision)}`);

    await t.test(`scaled in to ${ASC.MinSize} container within ${SCALE_IN_BOUND_MS / 1000} s of the load's end`, () => {
      assert.ok(inAt !== undefined, `still ${watcher.latest()?.live} containers ${((performance.now() - loadEnd) / 1000).toFixed(0)} s after the load:\n${watcher.timeline(loadEnd, loadEnd)}`);
      assert.ok(scaledIn.events.some((e) => e.At * 1000 >= Date.now() - (performance.now() - loadEnd) - 1000), `no SCALED event after the load:\n${scaledIn.text}`);
    });
    await t.test('no request of the trickle failed while instances were withdrawn and stopped', () => {
      assert.ok(report.requests > 0, 'the trickle sent requests');
      assert.equal(report.failures, 0, trickle.describe(report));
    });
    await t.test(`never below MinSize (${ASC.MinSize}) running while scaling in`, () => {
      const lowest = samples.reduce((min, s) => Math.min(min, s.running), Infinity);
      assert.ok(lowest >= ASC.MinSize, `${lowest} running at some point:\n${watcher.timeline(loadEnd, loadEnd)}`);
    });
    await t.test(`never over MaxConcurrency (${ASC.MaxConcurrency}) on an instance, nor over MaxSize (${ASC.MaxSize}) containers`, () => {
      assert.ok(maxHeader(trickle.samples, WORK_HEADERS.peak) <= ASC.MaxConcurrency, perInstance(trickle.samples));
      assert.ok(maxOf(watcher.samples, (s) => s.live) <= ASC.MaxSize, watcher.timeline(loadEnd, loadEnd));
    });
    await watcher.stop();
    await deleteServicesAndWait(client, [service.arn]);
  });

  test(`scale to zero: MinSize 0 and ${IDLE_SECONDS} s idle leave no container; the next request is held while an instance starts, then served 200`, async (t: TestContext) => {
    const service = await createWorkService('to-zero', { MaxConcurrency: 2, MinSize: 0, MaxSize: 2 });
    const settingsSetAt = performance.now();
    await updateServiceSettings(berth as BerthUp, { ServiceArn: service.arn, ScaleToZeroIdleSeconds: IDLE_SECONDS });
    const watcher = watch(service);
    // Wait past the bound, so that a late scale to zero is measured rather than only refused.
    const zero = await watcher.until((s) => s.live === 0 && (s.scaling === undefined || desired(s) === 0), TO_ZERO_BOUND_MS + 60_000, 'no container left').catch(() => undefined);
    t.diagnostic(`no container left ${zero === undefined ? 'never' : `${((zero.at - settingsSetAt) / 1000).toFixed(1)} s after the idle period was set (the last request was just before)`}`);
    t.diagnostic(`scale while idle:\n${watcher.timeline(settingsSetAt)}`);

    await t.test(`no container of the service left within ${TO_ZERO_BOUND_MS / 1000} s of idle, and Scaling says 0 desired`, () => {
      assert.ok(zero !== undefined, `${watcher.latest()?.live} containers left:\n${watcher.timeline(settingsSetAt)}`);
      assert.ok(zero.at - settingsSetAt <= TO_ZERO_BOUND_MS, `took ${((zero.at - settingsSetAt) / 1000).toFixed(1)} s`);
      assert.equal(zero.scaling?.DesiredInstances, 0, `Scaling: ${JSON.stringify(zero.scaling) ?? zero.scalingError}`);
    });
    if (zero === undefined) return;
    await t.test('Scaling then shows no instance current or ready', async () => {
      const empty = await watcher.until((s) => s.live === 0 && currentInstances(s) === 0 && readyInstances(s) === 0, 5_000, 'Scaling with no instance').catch(() => undefined);
      assert.ok(empty !== undefined, `with no container, Scaling still says ${JSON.stringify(watcher.latest()?.scaling?.Revisions)}:\n${watcher.timeline(settingsSetAt)}`);
    });

    // The first request from zero: the router holds it (up to its 10 s queue wait) while an instance starts.
    const sentAt = performance.now();
    const failed = (error: unknown): Reply => ({ status: 0, body: (error as Error).message, headers: {} });
    const first = await httpsGet(berth as BerthUp, service.host, '/', 15_000).catch(failed);
    const firstMs = performance.now() - sentAt;
    const next = await httpsGet(berth as BerthUp, service.host, WORK_PATH, 15_000).catch(failed);
    t.diagnostic(`first request from zero: ${first.status} after ${firstMs.toFixed(0)} ms ${JSON.stringify(first.body)}${first.headers['x-berth-error'] === undefined ? '' : ` (${String(first.headers['x-berth-error'])})`}; then ${WORK_PATH}: ${next.status}`);
    const zeroEvents = await scaledEvents(service.arn);
    t.diagnostic(`SCALED events:\n${zeroEvents.text}`);

    await t.test('the first request from zero is served 200, and so is the next', () => {
      assert.deepEqual({ status: first.status, body: first.body }, { status: 200, body: DEFAULT_BODY });
      assert.deepEqual({ status: next.status, body: next.body }, { status: 200, body: WORK_BODY });
    });
    await t.test('SCALED events: to zero, then from zero', () => {
      assert.ok(zeroEvents.events.length >= 2, `${zeroEvents.events.length} SCALED events${zeroEvents.error === undefined ? '' : `: ${zeroEvents.error}`}:\n${zeroEvents.text}`);
    });
    await t.test('one instance serves it, within MaxSize', async () => {
      const after = await watcher.until((s) => s.running >= 1, 5_000, 'an instance running').catch(() => undefined);
      assert.ok(after !== undefined && after.live <= 2, watcher.timeline(settingsSetAt));
    });
    await watcher.stop();
  });
});

/**
 * Zero-downtime rollouts, end to end: `berth up` as a process, the official SDK, the real Docker
 * engine and registry, and steady HTTPS load through the real router while deployments switch
 * revisions. Proves that no request fails across 20 deployments, that traffic never goes back to
 * a revision once the new one has answered, and that a request in flight on the old revision
 * finishes after the switch (the router drains old instances before they are stopped).
 *
 * Versions alternate between two image tags pushed to the local registry (`app:1` answers
 * "v1", `app:2` answers "v2"): each UpdateService names the other tag, which makes a new
 * revision with new containers and a real (if quick) pull from the registry, while the images
 * stay tiny. An environment variable would not change what busybox httpd serves statically.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateServiceCommand, DescribeServiceCommand, UpdateServiceCommand, type HealthCheckConfiguration } from '@aws-sdk/client-apprunner';
import { httpsGet, waitFor } from '../support/berth-process.ts';
import { E2eInstallation, imageSource } from '../support/e2e-installation.ts';
import { SLOW_PATH } from '../support/images.ts';
import { startLoad, type Sample } from '../support/load.ts';
import { serviceContainers, waitForOperation, type ServiceContainer } from '../support/services.ts';

const V1 = 'v1\n';
const V2 = 'v2\n';
/** HTTP on `/`, probed every second: a revision takes traffic once it answers 200 there. */
const HEALTH_CHECK: HealthCheckConfiguration = { Protocol: 'HTTP', Path: '/', Interval: 1, HealthyThreshold: 1 };
const DEPLOYMENTS = 20;

const e2e = new E2eInstallation({ images: { v1: { tag: 'app:1', body: V1, slow: true }, v2: { tag: 'app:2', body: V2, slow: true } } });
const docker = e2e.docker;
before((t) => e2e.start(t));
after(() => e2e.close());

/** Creates a service on `image` and resolves once it is RUNNING and serves `body` through the router. */
async function createService(name: string, image: string, body: string): Promise<{ arn: string; host: string; id: string }> {
  const api = e2e.client;
  const created = await api.send(new CreateServiceCommand({ ServiceName: name, SourceConfiguration: imageSource(image), HealthCheckConfiguration: HEALTH_CHECK }));
  const arn = created.Service?.ServiceArn as string;
  e2e.created.push(arn);
  await waitFor(
    async () => (await api.send(new DescribeServiceCommand({ ServiceArn: arn }))).Service?.Status === 'RUNNING',
    30_000,
    () => `${name} never RUNNING; berth output:\n${e2e.output()}`,
  );
  const host = created.Service?.ServiceUrl as string;
  await waitFor(async () => (await httpsGet(e2e.berth, host)).body === body, 10_000, () => `${name} never served ${JSON.stringify(body)}`);
  return { arn, host, id: created.Service?.ServiceId as string };
}

/** Resolves once the service runs exactly one container and it is none of `previous`. */
async function waitForOnlyNewContainer(serviceId: string, previous: readonly ServiceContainer[], timeoutMs = 20_000): Promise<ServiceContainer> {
  let now: ServiceContainer[] = [];
  await waitFor(
    async () => {
      now = await serviceContainers(docker, serviceId);
      return now.length === 1 && now[0]?.state === 'running' && !previous.some((p) => p.id === now[0]?.id || p.revisionId === now[0]?.revisionId);
    },
    timeoutMs,
    () => `the old revision's containers were not stopped, or no new one runs: ${JSON.stringify(now)}; berth output:\n${e2e.output()}`,
  );
  return now[0] as ServiceContainer;
}

interface Window {
  /** performance.now() just before UpdateService. */
  from: number;
  /** Until the next deployment's UpdateService (or the end of the load). */
  to: number;
  oldBody: string;
  newBody: string;
}

/**
 * What traffic did during one deployment: when the new version first answered and the old one
 * last answered, and the requests answered by the old version although they were sent after a
 * response of the new version had arrived (traffic went back to an old revision).
 */
function analyse(samples: readonly Sample[], window: Window): { firstNewMs: number; lastOldMs: number; wentBack: Sample[] } {
  const inWindow = samples.filter((s) => s.start >= window.from && s.start < window.to);
  const firstNewEnd = inWindow.filter((s) => s.body === window.newBody).reduce((first, s) => Math.min(first, s.end), Infinity);
  const lastOldEnd = inWindow.filter((s) => s.body === window.oldBody).reduce((last, s) => Math.max(last, s.end), window.from);
  return {
    firstNewMs: firstNewEnd - window.from,
    lastOldMs: lastOldEnd - window.from,
    wentBack: inWindow.filter((s) => s.body === window.oldBody && s.start > firstNewEnd),
  };
}

describe('rolling deployments under load', () => {
  test(`${DEPLOYMENTS} deployments of alternating versions: no failed request, every response from a healthy revision, traffic never goes back`, async (t) => {
    const api = e2e.client;
    const { v1, v2 } = e2e.images;
    const { arn, host, id } = await createService('rolling', v1, V1);
    let containers = await serviceContainers(docker, id);
    const load = startLoad(e2e.berth, { host, durationMs: 170_000, expectedBodies: [V1, V2] });
    const windows: Window[] = [];
    const timings: string[] = [];
    try {
      await new Promise((resolve) => setTimeout(resolve, 500));
      for (let i = 1; i <= DEPLOYMENTS; i++) {
        const [image, oldBody, newBody] = i % 2 === 1 ? [v2, V1, V2] : [v1, V2, V1];
        const from = performance.now();
        const previous = windows.at(-1);
        if (previous !== undefined) previous.to = from;
        windows.push({ from, to: Infinity, oldBody, newBody });
        const updated = await api.send(new UpdateServiceCommand({ ServiceArn: arn, SourceConfiguration: imageSource(image) }));
        const { operation, seenAt } = await waitForOperation(api, arn, updated.OperationId as string, (s) => s !== 'IN_PROGRESS', { timeoutMs: 30_000 });
        assert.equal(operation.Status, 'SUCCEEDED', `deployment ${i} to ${newBody.trim()} ended ${operation.Status}; berth output:\n${e2e.output()}`);
        const fresh = await waitForOnlyNewContainer(id, containers);
        const oldGoneAt = performance.now();
        containers = [fresh];
        timings.push(`deployment ${String(i).padStart(2)} -> ${newBody.trim()}: SUCCEEDED after ${(seenAt - from).toFixed(0)} ms, old instance gone after ${(oldGoneAt - from).toFixed(0)} ms`);
        // A little traffic on the new revision alone before the next deployment.
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    } finally {
      const report = await load.stop();
      t.diagnostic(`load across ${windows.length} deployments: ${load.describe(report)}`);
      for (const [i, window] of windows.entries()) {
        const { firstNewMs, lastOldMs, wentBack } = analyse(load.samples, window);
        t.diagnostic(`${timings[i] ?? `deployment ${i + 1}: unfinished`}; first ${window.newBody.trim()} response after ${firstNewMs.toFixed(0)} ms, last ${window.oldBody.trim()} response after ${lastOldMs.toFixed(0)} ms${wentBack.length > 0 ? `, ${wentBack.length} went back to ${window.oldBody.trim()}` : ''}`);
      }
    }

    const report = load.report();
    assert.equal(report.failures, 0, `${load.describe(report)}\nberth's warnings:\n${e2e.warnings()}`);
    assert.equal(windows.length, DEPLOYMENTS);
    for (const [i, window] of windows.entries()) {
      const { firstNewMs, wentBack } = analyse(load.samples, window);
      assert.ok(Number.isFinite(firstNewMs), `deployment ${i + 1}: no response from the new version ${window.newBody.trim()}`);
      assert.deepEqual(wentBack.map((s) => ({ sentAfterMs: Math.round(s.start - window.from), body: s.body })), [], `deployment ${i + 1}: requests sent after the new version answered were served by the old one`);
    }
  });

  test('a slow request that started on the old revision completes with 200 after the switch (draining)', async (t) => {
    const api = e2e.client;
    const { v1, v2 } = e2e.images;
    const { arn, host, id } = await createService('draining', v1, V1);
    const before = await serviceContainers(docker, id);
    const load = startLoad(e2e.berth, { host, durationMs: 60_000, expectedBodies: [V1, V2] });

    // 2 s requests, one every 200 ms from before the deployment until after the old instance is
    // gone: whenever the old revision is withdrawn and stopped, some are in flight on it.
    interface Slow { start: number; end: number; status: number; body: string; error?: string }
    const slow: Promise<Slow>[] = [];
    let sending = true;
    const sender = (async () => {
      while (sending) {
        const start = performance.now();
        slow.push(
          httpsGet(e2e.berth, host, SLOW_PATH, 10_000).then(
            (r) => ({ start, end: performance.now(), status: r.status, body: r.body }),
            (error: unknown) => ({ start, end: performance.now(), status: 0, body: '', error: (error as Error).message }),
          ),
        );
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();

    let updateAt = 0;
    let succeededAt = 0;
    let oldGoneAt = 0;
    try {
      await new Promise((resolve) => setTimeout(resolve, 2500));
      updateAt = performance.now();
      const updated = await api.send(new UpdateServiceCommand({ ServiceArn: arn, SourceConfiguration: imageSource(v2) }));
      const { operation, seenAt } = await waitForOperation(api, arn, updated.OperationId as string, (s) => s !== 'IN_PROGRESS', { timeoutMs: 30_000 });
      succeededAt = seenAt;
      assert.equal(operation.Status, 'SUCCEEDED');
      await waitForOnlyNewContainer(id, before);
      oldGoneAt = performance.now();
    } finally {
      sending = false;
      await sender;
      const report = await load.stop();
      t.diagnostic(`fast load: ${load.describe(report)}`);
    }
    const results = await Promise.all(slow);
    const report = load.report();
    // The switch: when the new version first answered a request of the steady load.
    const switchAt = load.samples.filter((s) => s.body === V2).reduce((first, s) => Math.min(first, s.end), Infinity);
    const finishedOnOld = results.filter((r) => r.status === 200 && r.body === V1 && r.end > switchAt);
    t.diagnostic(
      `UpdateService at 0 ms; new version first answered at ${(switchAt - updateAt).toFixed(0)} ms; operation SUCCEEDED seen at ${(succeededAt - updateAt).toFixed(0)} ms; ` +
        `old instance gone at ${(oldGoneAt - updateAt).toFixed(0)} ms; ${results.length} slow requests, ${finishedOnOld.length} started on v1 and finished after the switch ` +
        `(the last at ${(finishedOnOld.reduce((last, r) => Math.max(last, r.end), -Infinity) - updateAt).toFixed(0)} ms)`,
    );

    assert.deepEqual(
      results.filter((r) => r.status !== 200 || (r.body !== V1 && r.body !== V2)).map((r) => ({ sentAtMs: Math.round(r.start - updateAt), status: r.status, body: r.body, error: r.error })),
      [],
      'every slow request completes with 200 and a version',
    );
    assert.ok(finishedOnOld.length > 0, 'some slow request started on the old revision and completed after the new one took the traffic');
    assert.equal(report.failures, 0, `${load.describe(report)}\nberth's warnings:\n${e2e.warnings()}`);
  });
});

/**
 * Pause and resume, end to end, under steady HTTPS load through the real router. The URL keeps
 * answering throughout: the old version's 200 while the instance drains (slow requests in flight
 * when the pause begins complete), then `503` with `x-berth-error: ServicePaused` and
 * `Retry-After: 10` while paused and while resuming; never a connection error, a 502 or another
 * 503. While paused the service holds no container. The tag
 * is moved in the registry and in the engine while paused, so resume can bring back the version
 * that ran only by running exactly the image it ran, neither pulling the tag again nor starting
 * whatever the engine's tag names now.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateServiceCommand, DescribeServiceCommand, PauseServiceCommand, ResumeServiceCommand, type HealthCheckConfiguration } from '@aws-sdk/client-apprunner';
import { httpsGet, waitFor } from '../support/berth-process.ts';
import { E2eInstallation, imageSource } from '../support/e2e-installation.ts';
import { buildHttpImage, pushImage, SLOW_PATH } from '../support/images.ts';
import { startLoad, type Sample } from '../support/load.ts';
import { serviceContainers, waitForOperation } from '../support/services.ts';

const V1 = 'v1\n';
const MOVED = 'v1 moved while paused\n';
const HEALTH_CHECK: HealthCheckConfiguration = { Protocol: 'HTTP', Path: '/', Interval: 1, HealthyThreshold: 1 };

// The installation polls no tag: the moved tag must not be deployed by auto-deploy either. It
// removes the image that ran by its id, and the one the tag was moved to by the tag.
const e2e = new E2eInstallation({ images: { app: { body: V1, slow: true } } });
const docker = e2e.docker;
before((t) => e2e.start(t));
after(() => e2e.close());

/** A 503 from the router saying the service is paused, with when to try again. */
function pausedAnswer(s: Pick<Sample, 'status' | 'berthError' | 'retryAfter'>): boolean {
  return s.status === 503 && s.berthError === 'ServicePaused' && s.retryAfter === '10';
}

describe('pause and resume under load', () => {
  test('the URL answers throughout, paused compute is gone, resume brings back the same version without pulling the moved tag', async (t) => {
    const api = e2e.client;
    const image = e2e.images.app;
    const created = await api.send(new CreateServiceCommand({ ServiceName: 'pausable', SourceConfiguration: imageSource(image), HealthCheckConfiguration: HEALTH_CHECK }));
    const arn = created.Service?.ServiceArn as string;
    const id = created.Service?.ServiceId as string;
    const host = created.Service?.ServiceUrl as string;
    e2e.created.push(arn);
    const first = await waitForOperation(api, arn, created.OperationId as string, (s) => s !== 'IN_PROGRESS', { timeoutMs: 30_000 });
    assert.equal(first.operation.Status, 'SUCCEEDED');
    await waitFor(async () => (await httpsGet(e2e.berth, host)).body === V1, 10_000, () => 'the service never served');
    const [ran] = await serviceContainers(docker, id);
    const ranImage = (await docker.inspectContainer(ran?.id as string))?.Image;
    assert.ok(ranImage, 'the running instance names its image');

    const load = startLoad(e2e.berth, { host, durationMs: 90_000, accept: (s) => (s.status === 200 && s.body === V1) || pausedAnswer(s) });
    const marks: Record<string, number> = {};
    try {
      await new Promise((resolve) => setTimeout(resolve, 500));

      // Requests in flight when the pause begins finish on the instance (it drains first).
      const inFlight = [0, 100, 200].map(async (delay) => {
        await new Promise((resolve) => setTimeout(resolve, delay));
        return httpsGet(e2e.berth, host, SLOW_PATH, 10_000).then(
          (r) => `${r.status} ${JSON.stringify(r.body)}`,
          (error: unknown) => `failed: ${(error as Error).message}`,
        );
      });
      await new Promise((resolve) => setTimeout(resolve, 500));
      marks.pause = performance.now();
      const paused = await api.send(new PauseServiceCommand({ ServiceArn: arn }));
      assert.equal(paused.Service?.Status, 'OPERATION_IN_PROGRESS');
      const pause = await waitForOperation(api, arn, paused.OperationId as string, (s) => s !== 'IN_PROGRESS', { timeoutMs: 30_000 });
      marks.paused = pause.seenAt;
      assert.equal(pause.operation.Status, 'SUCCEEDED');
      assert.deepEqual(await Promise.all(inFlight), Array(3).fill(`200 ${JSON.stringify(V1)}`), 'the slow requests in flight when the pause began completed');
      assert.equal((await api.send(new DescribeServiceCommand({ ServiceArn: arn }))).Service?.Status, 'PAUSED');
      assert.deepEqual(await serviceContainers(docker, id), [], 'a paused service holds no container');
      const answer = await httpsGet(e2e.berth, host);
      assert.equal(answer.status, 503);
      assert.equal(answer.headers['x-berth-error'], 'ServicePaused');
      assert.equal(answer.headers['retry-after'], '10');

      // A newer image behind the same tag, in the registry and in the engine.
      await buildHttpImage(docker, image, { body: MOVED, slow: true });
      await pushImage(docker, image);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.deepEqual(await serviceContainers(docker, id), [], 'nothing starts while paused');

      marks.resume = performance.now();
      const resumed = await api.send(new ResumeServiceCommand({ ServiceArn: arn }));
      const resume = await waitForOperation(api, arn, resumed.OperationId as string, (s) => s !== 'IN_PROGRESS', { timeoutMs: 30_000 });
      marks.resumed = resume.seenAt;
      assert.equal(resume.operation.Status, 'SUCCEEDED');
      assert.equal((await api.send(new DescribeServiceCommand({ ServiceArn: arn }))).Service?.Status, 'RUNNING');
      await waitFor(() => load.samples.some((s) => s.start > (marks.resumed as number) && s.status === 200), 10_000, () => 'no 200 after the resume');
      marks.served = performance.now();
      assert.equal((await httpsGet(e2e.berth, host)).body, V1, 'resume serves the version that ran, not the moved tag');
      const after = await serviceContainers(docker, id);
      assert.equal(after.length, 1);
      assert.notEqual(after[0]?.id, ran?.id, 'resume started a new instance');
      assert.equal((await docker.inspectContainer(after[0]?.id as string))?.Image, ranImage, 'the new instance runs the very image that ran before the pause');
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      const report = await load.stop();
      t.diagnostic(`load: ${load.describe(report)}`);
      const at = (name: string): string => (marks[name] === undefined ? 'never' : `${((marks[name] as number) - (marks.pause ?? 0)).toFixed(0)} ms`);
      t.diagnostic(`PauseService at 0 ms, PAUSED seen at ${at('paused')}, ResumeService at ${at('resume')}, RUNNING seen at ${at('resumed')}, a 200 again at ${at('served')}`);
      for (const [phase, from, to] of [['pausing', 'pause', 'paused'], ['paused', 'paused', 'resume'], ['resuming', 'resume', 'resumed'], ['resumed', 'resumed', undefined]] as const) {
        t.diagnostic(`  ${phase}: ${load.report(marks[from] ?? Infinity, to === undefined ? Infinity : (marks[to] ?? Infinity)).summary}`);
      }
    }

    const report = load.report();
    assert.equal(report.failures, 0, `${load.describe(report)}\nberth's warnings:\n${e2e.warnings()}`);
    const whilePaused = load.report(marks.paused, marks.resume);
    assert.ok(whilePaused.requests > 0 && whilePaused.outcomes['HTTP 503 ServicePaused'] === whilePaused.requests, `while paused, every request got 503 ServicePaused: ${whilePaused.summary}`);
    const afterResume = load.report(marks.served);
    assert.ok(afterResume.requests > 0 && afterResume.outcomes[V1.trim()] === afterResume.requests, `after the resume, every request got the old version: ${afterResume.summary}`);
  });
});

/**
 * Request-driven autoscaling through a real control plane over the in-memory runtime: an auto
 * scaling configuration with MinSize 0 (Berth's extension), a service using it, and a fake
 * router that POSTs reports to the control socket as a real one does (`/v1/reports`, with the
 * tag of the table it fetched and each service's load). Load raises `desiredInstances` with a
 * `scaled` event and DescribeService's `Scaling`; no request for the idle period takes it to 0;
 * a request waiting at zero brings it back to 1 at once, not at the next tick.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { berthPaths } from '../../src/core/config.ts';
import type { RouterReport, ServiceLoad } from '../../src/core/routes.ts';
import { waitFor } from '../support/berth-process.ts';
import { ApiError, startApiHarness, type ApiHarness } from '../support/api-harness.ts';

const IMAGE = 'registry.example.com/autoscaling/app:1';

let api: ApiHarness;

before(async () => {
  api = await startApiHarness();
});

after(async () => {
  await api?.close();
});

type Json = Record<string, unknown>;

/** A router as the control plane sees it: reads the route table's tag, reports loads on the control socket. */
class FakeRouter {
  readonly routerId = `test-router-${process.pid}`;
  #lastAt = Date.now();
  /** When a report last showed a request. */
  lastDemandAt = 0;

  readonly socketPath: string;

  constructor(socketPath: string) {
    this.socketPath = socketPath;
  }

  async report(loads: Record<string, Omit<ServiceLoad, 'intervalMs'>>): Promise<void> {
    const now = Date.now();
    const services = Object.fromEntries(Object.entries(loads).map(([id, load]) => [id, { ...load, intervalMs: Math.max(now - this.#lastAt, 1) }]));
    this.#lastAt = now;
    if (Object.values(loads).some((l) => l.concurrency > 0 || l.queued > 0 || l.arrivals > 0 || l.rejected > 0)) this.lastDemandAt = now;
    const report: RouterReport = { routerId: this.routerId, tableTag: await this.#tableTag(), instances: {}, services };
    const { status, body } = await this.#call('POST', '/v1/reports', JSON.stringify(report));
    assert.equal(status, 204, `the control plane refused the report: ${body}`);
  }

  /** Reports `load` every 200 ms until `until` says stop. */
  async reportWhile(loads: () => Record<string, Omit<ServiceLoad, 'intervalMs'>>, until: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!until()) {
      if (Date.now() > deadline) throw new Error(`after ${timeoutMs} ms of reports: ${what}`);
      await this.report(loads());
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  async #tableTag(): Promise<string> {
    const { headers } = await this.#call('GET', '/v1/routes');
    return String(headers.etag ?? '').replaceAll('"', '');
  }

  #call(method: string, path: string, body?: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socketPath, method, path, headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }
}

const idle = { concurrency: 0, queued: 0, arrivals: 0, rejected: 0 };

describe('autoscaling on router reports', () => {
  let arn: string;
  let id: string;
  let router: FakeRouter;
  const desired = (): number | undefined => api.cp.store.getService(id)?.desiredInstances;
  const running = (): number => [...api.runtime.instances.values()].filter((i) => i.serviceId === id && i.state === 'running').length;
  const scaledEvents = (): string[] => api.cp.store.listServiceEvents(id, 1000).filter((e) => e.type === 'scaled').map((e) => e.message);
  const scaling = async (): Promise<Json> => ((await api.call('DescribeService', { ServiceArn: arn })).Service as { Scaling: Json }).Scaling;

  before(async () => {
    router = new FakeRouter(berthPaths(api.home).controlSocket);
    const { AutoScalingConfiguration } = await api.call('CreateAutoScalingConfiguration', { AutoScalingConfigurationName: 'to-zero', MinSize: 0, MaxSize: 3, MaxConcurrency: 10 });
    const asc = AutoScalingConfiguration as Json;
    assert.deepEqual([asc.MinSize, asc.MaxSize, asc.MaxConcurrency], [0, 3, 10], 'MinSize 0 is accepted and kept');
    const { Service } = await api.call('CreateService', {
      ServiceName: 'autoscaled',
      SourceConfiguration: { ImageRepository: { ImageIdentifier: IMAGE, ImageRepositoryType: 'ECR' } },
      AutoScalingConfigurationArn: asc.AutoScalingConfigurationArn,
    });
    arn = (Service as Json).ServiceArn as string;
    id = (Service as Json).ServiceId as string;
    assert.equal(((Service as Json).Scaling as Json).DesiredInstances, 1, 'a deployment brings one instance up even with MinSize 0');
    await api.settle();
  });

  test('load raises the desired count, with a scaled event giving its inputs and DescribeService showing it', async () => {
    assert.equal(desired(), 1);
    // 30 requests in flight against a target of 7 per instance (MaxConcurrency 10 x 0.7): more
    // than twice what one instance is sized for, so the autoscaler panics up, to MaxSize.
    await router.reportWhile(() => ({ [id]: { concurrency: 30, queued: 0, arrivals: 40, rejected: 0 } }), () => desired() === 3, 5000, `desired is ${desired()}, events: ${scaledEvents().join(' | ')}`);
    const events = scaledEvents();
    assert.match(events[0] ?? '', /^Scaled from [12] to 3: stable concurrency [\d.]+, panic [\d.]+ over [12] ready instances?, target 7 per instance, panicking yes$/, events.join(' | '));
    const shown = await scaling();
    assert.equal(shown.DesiredInstances, 3);
    const last = shown.LastDecision as Json;
    assert.equal(last.To, 3);
    assert.equal(last.Reason, 'LOAD');
    assert.equal(last.TargetPerInstance, 7);
    assert.equal(last.Panicking, true);
    assert.ok(last.ReadyInstances === 1 || last.ReadyInstances === 2, `ReadyInstances ${String(last.ReadyInstances)}`);
    assert.ok(Number(last.PanicConcurrency) > 14, `panic concurrency ${String(last.PanicConcurrency)}`);
    assert.equal(typeof last.StableConcurrency, 'number');
    assert.equal(typeof last.At, 'number');
    // The reconciler runs what the autoscaler decided.
    await router.reportWhile(() => ({ [id]: { concurrency: 30, queued: 0, arrivals: 40, rejected: 0 } }), () => running() === 3, 5000, `${running()} instances run`);
    await waitFor(async () => ((await scaling()).Revisions as Json[] | undefined)?.some((r) => r.CurrentInstances === 3 && r.ReadyInstances === 3) === true, 5000, () => 'Scaling.Revisions never showed 3 ready');
    const revisions = (await scaling()).Revisions as Json[];
    assert.equal(revisions.length, 1);
    assert.match(String(revisions[0]?.RevisionId), /^[0-9a-f]{32}$/);
  });

  test('no request for the idle period scales to zero; reports without demand leave it there', async () => {
    await api.call('Berth.UpdateServiceSettings', { ServiceArn: arn, ScaleToZeroIdleSeconds: 2 });
    await router.reportWhile(() => ({ [id]: idle }), () => desired() === 0, 6000, `desired is ${desired()}`);
    const after = Date.now() - router.lastDemandAt;
    assert.ok(after >= 2000, `scaled to zero ${after} ms after the last request, before its idle period of 2 s`);
    assert.equal(scaledEvents()[0], 'Scaled from 3 to 0: no requests for 2 s (scale to zero)');
    const last = (await scaling()).LastDecision as Json;
    assert.deepEqual([last.From, last.To, last.Reason, last.Panicking], [3, 0, 'SCALE_TO_ZERO', false]);
    assert.equal((await scaling()).DesiredInstances, 0);
    // Idle reports for a while: nothing wakes it.
    const quietUntil = Date.now() + 1500;
    await router.reportWhile(() => ({ [id]: idle }), () => Date.now() > quietUntil, 3000, 'quiet');
    assert.equal(desired(), 0);
    await waitFor(() => running() === 0, 10_000, () => `${running()} instances still run at zero`);
  });

  test('a request waiting at zero brings the count to 1 within 100 ms of its report', async () => {
    assert.equal(desired(), 0);
    const sent = Date.now();
    await router.report({ [id]: { concurrency: 1, queued: 1, arrivals: 1, rejected: 0 } });
    await waitFor(() => desired() === 1, 1000, () => `desired is ${desired()}`);
    const took = Date.now() - sent;
    assert.ok(took < 100, `desired 1 only ${took} ms after the report: decided at the next tick, not at once`);
    assert.equal(scaledEvents()[0], 'Scaled from 0 to 1: a request is waiting (scale from zero)');
    assert.equal(((await scaling()).LastDecision as Json).Reason, 'SCALE_FROM_ZERO');
    await router.reportWhile(() => ({ [id]: { concurrency: 1, queued: 0, arrivals: 1, rejected: 0 } }), () => running() === 1, 5000, `${running()} instances run`);
  });

  test('ScaleToZeroIdleSeconds: the installation default, then back to it with null', async () => {
    const { Settings } = await api.call('Berth.UpdateServiceSettings', { ServiceArn: arn, ScaleToZeroIdleSeconds: null });
    assert.equal((Settings as Json).ScaleToZeroIdleSeconds, 90);
  });

  test('a deployment of a service at zero brings one instance up again and keeps it for the idle period', async () => {
    await api.call('Berth.UpdateServiceSettings', { ServiceArn: arn, ScaleToZeroIdleSeconds: 2 });
    await router.reportWhile(() => ({ [id]: idle }), () => desired() === 0, 6000, `desired is ${desired()}`);
    const { Service } = await api.call('StartDeployment', { ServiceArn: arn }).then(() => api.call('DescribeService', { ServiceArn: arn }));
    assert.equal(((Service as Json).Scaling as Json).DesiredInstances, 1);
    await api.settle();
    const service = api.cp.store.getService(id);
    const deployment = api.cp.store.listOperations(id)[0];
    assert.deepEqual([service?.status, deployment?.type, deployment?.status], ['RUNNING', 'START_DEPLOYMENT', 'SUCCEEDED']);
    const revisionId = service?.revisionId;
    const ofRevision = [...api.runtime.instances.values()].filter((i) => i.revisionId === revisionId && i.state === 'running');
    assert.equal(ofRevision.length, 1, 'the deployed revision runs one instance');
    await router.reportWhile(() => ({ [id]: idle }), () => desired() === 0, 6000, `desired is ${desired()}`);
    const scaledAt = api.cp.store.listServiceEvents(id, 1000).find((e) => e.type === 'scaled')?.at ?? 0;
    const kept = scaledAt - (deployment?.endedAt ?? 0);
    assert.ok(kept >= 2000, `scaled to zero ${kept} ms after the deployment ended, before its idle period of 2 s`);
  });
});

describe('MinSize 0 in CreateAutoScalingConfiguration', () => {
  test('MaxSize stays at least 1 and at least MinSize', async () => {
    await assert.rejects(api.call('CreateAutoScalingConfiguration', { AutoScalingConfigurationName: 'zero-max', MinSize: 0, MaxSize: 0 }), (error: ApiError) => {
      assert.equal(error.type, 'InvalidRequestException');
      assert.match(error.message, /Value '0' at 'maxSize' failed to satisfy constraint: Member must have value greater than or equal to 1/);
      return true;
    });
    await assert.rejects(api.call('CreateAutoScalingConfiguration', { AutoScalingConfigurationName: 'neg-min', MinSize: -1 }), /Value '-1' at 'minSize' failed to satisfy constraint: Member must have value greater than or equal to 0/);
    const { AutoScalingConfiguration } = await api.call('CreateAutoScalingConfiguration', { AutoScalingConfigurationName: 'zero-default-max', MinSize: 0 });
    assert.deepEqual([(AutoScalingConfiguration as Json).MinSize, (AutoScalingConfiguration as Json).MaxSize], [0, 25]);
  });
});

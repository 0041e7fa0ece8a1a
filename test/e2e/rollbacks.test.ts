/**
 * Automatic rollback, end to end, under steady HTTPS load through the real router: an update to
 * an image that crashes at start, one that never listens, and one that fails its HTTP health
 * check each end ROLLBACK_SUCCEEDED, the service RUNNING on its previous image, DescribeService's
 * `LastDeployment` saying why, while the old revision keeps serving every request.
 *
 * Every revision has the same HTTP health check of `/healthz`: the good image has that file, the
 * "unhealthy" one lacks it (404) but serves `/`, so a router that sent it traffic would show its
 * body. The installation's startup limit is 30 s; the service's own (`Berth.UpdateServiceSettings`)
 * is 10 s, which the no-listen and unhealthy rollbacks must follow.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { CreateServiceCommand, DescribeServiceCommand, UpdateServiceCommand, type HealthCheckConfiguration } from '@aws-sdk/client-apprunner';
import { httpsGet, waitFor } from '../support/berth-process.ts';
import { E2eInstallation, imageSource } from '../support/e2e-installation.ts';
import { EXIT_MESSAGE, type HttpImageOptions } from '../support/images.ts';
import { startLoad } from '../support/load.ts';
import { describeServiceRaw, serviceContainers, updateServiceSettings, waitForOperation } from '../support/services.ts';
import { signedFetch } from '../support/signed-request.ts';

const GOOD_BODY = 'v1\n';
const HEALTH_CHECK: HealthCheckConfiguration = { Protocol: 'HTTP', Path: '/healthz', Interval: 1, HealthyThreshold: 1 };
const INSTALLATION_STARTUP_SECONDS = 30;
const SERVICE_STARTUP_SECONDS = 10;

const FIXTURES = {
  good: { body: GOOD_BODY, files: { healthz: 'ok\n' } },
  crash: { behaviour: 'exit' },
  'no-listen': { behaviour: 'no-listen' },
  unhealthy: { body: 'served by the unhealthy revision\n' },
} satisfies Record<string, HttpImageOptions>;
type Fixture = keyof typeof FIXTURES;

const e2e = new E2eInstallation({ images: FIXTURES, startupTimeoutSeconds: INSTALLATION_STARTUP_SECONDS });
const docker = e2e.docker;
let service: { arn: string; id: string; host: string } | undefined;

before(async (t) => {
  if (!(await e2e.start(t))) return;
  const created = await e2e.client.send(new CreateServiceCommand({ ServiceName: 'rolls-back', SourceConfiguration: imageSource(e2e.images.good), HealthCheckConfiguration: HEALTH_CHECK }));
  service = { arn: created.Service?.ServiceArn as string, id: created.Service?.ServiceId as string, host: created.Service?.ServiceUrl as string };
  e2e.created.push(service.arn);
  await waitForRunning();
  await waitFor(async () => (await httpsGet(e2e.berth, service?.host as string)).body === GOOD_BODY, 10_000, () => 'the service never served');
});

after(() => e2e.close());

/** A test may start after an earlier one failed mid-deployment: wait for the service to settle. */
async function waitForRunning(timeoutMs = 45_000): Promise<void> {
  let status: string | undefined;
  await waitFor(
    async () => (status = (await e2e.client.send(new DescribeServiceCommand({ ServiceArn: service?.arn }))).Service?.Status) === 'RUNNING',
    timeoutMs,
    () => `the service is ${status}, not RUNNING; berth output:\n${e2e.output()}`,
  );
}

/**
 * Updates the service to `fixture`'s image under load and checks the rollback: the operation's
 * and LastDeployment's status and reason, the service back on the good image, nothing of the
 * failed revision left running, and not one failed request. Resolves with how long the rollback
 * took from UpdateService.
 */
async function rollsBackUnderLoad(t: TestContext, fixture: Fixture, why: readonly RegExp[]): Promise<number> {
  const api = e2e.client;
  const { arn, id, host } = service as { arn: string; id: string; host: string };
  await waitForRunning();
  const before = await serviceContainers(docker, id);
  assert.equal(before.length, 1, `one instance of the good revision before the update: ${JSON.stringify(before)}`);
  const goodRevision = before[0]?.revisionId;

  const load = startLoad(e2e.berth, { host, durationMs: 60_000, expectedBodies: [GOOD_BODY] });
  let tookMs = NaN;
  try {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const startedAt = performance.now();
    const updated = await api.send(new UpdateServiceCommand({ ServiceArn: arn, SourceConfiguration: imageSource(e2e.images[fixture]) }));
    const operationId = updated.OperationId as string;
    const { operation, seenAt } = await waitForOperation(api, arn, operationId, (s) => s !== 'IN_PROGRESS' && s !== 'ROLLBACK_IN_PROGRESS', {
      timeoutMs: (INSTALLATION_STARTUP_SECONDS - 5) * 1000,
    }).catch((error: Error) => {
      throw new Error(`${error.message}; berth output:\n${e2e.output()}`);
    });
    tookMs = seenAt - startedAt;
    t.diagnostic(`${fixture}: operation ${operation.Status} ${tookMs.toFixed(0)} ms after UpdateService`);
    assert.equal(operation.Status, 'ROLLBACK_SUCCEEDED');

    const described = (await api.send(new DescribeServiceCommand({ ServiceArn: arn }))).Service;
    assert.equal(described?.Status, 'RUNNING');
    assert.equal(described?.SourceConfiguration?.ImageRepository?.ImageIdentifier, e2e.images.good, 'the previous image is restored');

    // Why, where a user looks: the operation's StatusMessage and DescribeService's LastDeployment.
    const operations = await signedFetch(e2e.berth, 'AppRunner.ListOperations', JSON.stringify({ ServiceArn: arn }));
    const summary = (operations.json().OperationSummaryList as { Id?: string; StatusMessage?: string }[] | undefined)?.find((o) => o.Id === operationId);
    t.diagnostic(`${fixture}: StatusMessage ${JSON.stringify(summary?.StatusMessage)}`);
    for (const pattern of why) assert.match(summary?.StatusMessage ?? '', pattern);
    const raw = await describeServiceRaw(e2e.berth, arn);
    const last = (raw.Service as { LastDeployment?: { OperationId?: string; Status?: string; StatusMessage?: string } } | undefined)?.LastDeployment;
    t.diagnostic(`${fixture}: LastDeployment ${JSON.stringify(last)}`);
    assert.equal(last?.Status, 'ROLLBACK_SUCCEEDED', `DescribeService's Service.LastDeployment: ${JSON.stringify(last)}`);
    for (const pattern of why) assert.match(last?.StatusMessage ?? '', pattern);

    // Only the good revision runs: the instance that served throughout, nothing of the failed one.
    const after = await serviceContainers(docker, id);
    assert.deepEqual(after.map((c) => c.revisionId), [goodRevision], `only the good revision's instance runs: ${JSON.stringify(after)}`);
    assert.deepEqual(after.map((c) => c.id), before.map((c) => c.id), 'the instance that served before the update still serves');
    // Some traffic after the rollback too.
    await new Promise((resolve) => setTimeout(resolve, 500));
  } finally {
    const report = await load.stop();
    t.diagnostic(`${fixture}: load ${load.describe(report)}`);
  }
  const report = load.report();
  assert.equal(report.failures, 0, `${load.describe(report)}\nberth's warnings:\n${e2e.warnings()}`);
  assert.deepEqual(Object.keys(report.outcomes), [GOOD_BODY.trim()], 'every response came from the good revision');
  return tookMs;
}

describe('automatic rollback under load', () => {
  test(`Berth.UpdateServiceSettings sets the service's startup limit to ${SERVICE_STARTUP_SECONDS} s`, async () => {
    const { arn } = service as { arn: string };
    await updateServiceSettings(e2e.berth, { ServiceArn: arn, StartupTimeoutSeconds: SERVICE_STARTUP_SECONDS });
    const raw = await describeServiceRaw(e2e.berth, arn);
    const settings = (raw.Service as { Settings?: Record<string, unknown> } | undefined)?.Settings;
    assert.equal(settings?.StartupTimeoutSeconds, SERVICE_STARTUP_SECONDS, `DescribeService's Service.Settings: ${JSON.stringify(settings)}`);
  });

  test('an image that crashes at start rolls back with its exit code and output', async (t) => {
    await rollsBackUnderLoad(t, 'crash', [/exited with code 3/, new RegExp(EXIT_MESSAGE)]);
  });

  test('an image that never listens rolls back after the service\'s startup limit', async (t) => {
    const took = await rollsBackUnderLoad(t, 'no-listen', [/health check/i, new RegExp(`within ${SERVICE_STARTUP_SECONDS} s`), /ECONNREFUSED|refused/i]);
    assert.ok(took >= SERVICE_STARTUP_SECONDS * 1000 - 500 && took < (SERVICE_STARTUP_SECONDS + 8) * 1000, `rolled back after ${took.toFixed(0)} ms`);
  });

  test('an image that fails its HTTP health check rolls back with the check\'s answer', async (t) => {
    const took = await rollsBackUnderLoad(t, 'unhealthy', [/\/healthz/, /404/]);
    assert.ok(took >= SERVICE_STARTUP_SECONDS * 1000 - 500 && took < (SERVICE_STARTUP_SECONDS + 8) * 1000, `rolled back after ${took.toFixed(0)} ms`);
  });
});

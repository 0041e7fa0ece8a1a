/**
 * Berth's per-service settings (`Berth.UpdateServiceSettings`, `Berth.DescribeServiceSettings`)
 * and the extension members of DescribeService's `Service` (`Settings`, `LastDeployment`,
 * `CrashLoop`, `Scaling`), through signed requests to a real control plane over an in-memory
 * runtime; the official SDK still reads DescribeService; `berth settings` drives the same
 * operations and `berth status` shows `Scaling`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DescribeServiceCommand } from '@aws-sdk/client-apprunner';
import { scalingDecisionKey, type ScalingDecisionRecord } from '../../src/core/auto-scaling.ts';
import { crashLoopKey, type CrashLoopState } from '../../src/core/service-events.ts';
import { runServiceCommand } from '../../src/main/service-command.ts';
import { ApiError, startApiHarness, type ApiHarness } from '../support/api-harness.ts';
import { serviceCommandRunner } from '../support/service-command-runner.ts';

const IMAGE = 'registry.example.com/settings/app:1';
const MISSING_IMAGE = 'registry.example.com/settings/missing:1';
/** The installation's defaults, set apart from Berth's own so a test cannot pass by accident. */
const DEFAULTS = { RequestTimeoutSeconds: 90, IdleTimeoutSeconds: 45, StartupTimeoutSeconds: 30, EphemeralStorageMb: 2048, ScaleToZeroIdleSeconds: 600 };

let api: ApiHarness;

before(async () => {
  api = await startApiHarness({
    router: { requestTimeoutSeconds: 90, idleTimeoutSeconds: 45 },
    reconcile: { startupTimeoutSeconds: 30, ephemeralStorageMb: 2048, scaleToZeroIdleSeconds: 600 },
  });
  api.runtime.missingImages.add(MISSING_IMAGE);
});

after(async () => {
  await api?.close();
});

type Json = Record<string, unknown>;

async function createService(name: string): Promise<string> {
  const { Service } = await api.call('CreateService', { ServiceName: name, SourceConfiguration: { ImageRepository: { ImageIdentifier: IMAGE, ImageRepositoryType: 'ECR' } } });
  await api.settle();
  return (Service as { ServiceArn: string }).ServiceArn;
}

const describeService = async (arn: string): Promise<Json> => (await api.call('DescribeService', { ServiceArn: arn })).Service as Json;
const settingsOf = async (arn: string): Promise<Json> => (await api.call('Berth.DescribeServiceSettings', { ServiceArn: arn })).Settings as Json;
const idOf = (arn: string): string => arn.split('/').at(-1) as string;

async function refused(operation: string, input: Json, type: string, message: RegExp): Promise<void> {
  await assert.rejects(api.call(operation, input), (error: ApiError) => {
    assert.equal(error.type, type, error.message);
    assert.match(error.message, message);
    return true;
  });
}

describe('Berth.UpdateServiceSettings and Berth.DescribeServiceSettings', () => {
  let arn: string;
  before(async () => {
    arn = await createService('settings-main');
  });

  test('a new service has the installation defaults, in DescribeServiceSettings and in DescribeService', async () => {
    assert.deepEqual(await api.call('Berth.DescribeServiceSettings', { ServiceArn: arn }), { ServiceArn: arn, Settings: DEFAULTS });
    assert.deepEqual((await describeService(arn)).Settings, DEFAULTS);
    assert.equal(api.cp.store.getService(idOf(arn))?.settings, undefined, 'nothing of its own is stored');
  });

  test('an update sets the members given, keeps the others, and starts no operation', async () => {
    const operationsBefore = api.cp.store.listOperations(idOf(arn)).length;
    const reply = await api.call('Berth.UpdateServiceSettings', { ServiceArn: arn, RequestTimeoutSeconds: 3600, EphemeralStorageMb: 64 });
    const expected = { ...DEFAULTS, RequestTimeoutSeconds: 3600, EphemeralStorageMb: 64 };
    assert.deepEqual(reply, { ServiceArn: arn, Settings: expected });
    assert.deepEqual(await settingsOf(arn), expected);
    const service = await describeService(arn);
    assert.deepEqual(service.Settings, expected);
    assert.equal(service.Status, 'RUNNING');
    assert.deepEqual(api.cp.store.getService(idOf(arn))?.settings, { requestTimeoutSeconds: 3600, ephemeralStorageMb: 64 }, 'only what was set is stored');
    assert.equal(api.cp.store.listOperations(idOf(arn)).length, operationsBefore, 'no operation');
    assert.equal(api.cp.store.activeOperation(idOf(arn)), undefined);

    await api.call('Berth.UpdateServiceSettings', { ServiceArn: arn, IdleTimeoutSeconds: 1, StartupTimeoutSeconds: 10, ScaleToZeroIdleSeconds: 86_400 });
    assert.deepEqual(await settingsOf(arn), { RequestTimeoutSeconds: 3600, IdleTimeoutSeconds: 1, StartupTimeoutSeconds: 10, EphemeralStorageMb: 64, ScaleToZeroIdleSeconds: 86_400 });
    const event = api.cp.store.listServiceEvents(idOf(arn), 1)[0];
    assert.equal(event?.message, 'Settings changed: IdleTimeoutSeconds = 1, StartupTimeoutSeconds = 10, ScaleToZeroIdleSeconds = 86400');
  });

  test('null returns a setting to the installation default; with none left the service stores none', async () => {
    await api.call('Berth.UpdateServiceSettings', { ServiceArn: arn, RequestTimeoutSeconds: 120, IdleTimeoutSeconds: 600 });
    const reply = await api.call('Berth.UpdateServiceSettings', { ServiceArn: arn, RequestTimeoutSeconds: null, EphemeralStorageMb: null });
    assert.deepEqual(reply.Settings, { ...DEFAULTS, IdleTimeoutSeconds: 600, StartupTimeoutSeconds: 10, ScaleToZeroIdleSeconds: 86_400 });
    await api.call('Berth.UpdateServiceSettings', { ServiceArn: arn, IdleTimeoutSeconds: null, StartupTimeoutSeconds: null, ScaleToZeroIdleSeconds: null });
    assert.deepEqual(await settingsOf(arn), DEFAULTS);
    assert.equal(api.cp.store.getService(idOf(arn))?.settings, undefined);
    assert.ok(!('settings' in (api.cp.store.getService(idOf(arn)) ?? {})), 'the member is gone, not kept as undefined');
  });

  test('bad input is refused naming the member and changes nothing', async () => {
    await api.call('Berth.UpdateServiceSettings', { ServiceArn: arn, RequestTimeoutSeconds: 300 });
    const cases: [string, Json, RegExp][] = [
      ['a request timeout of 0', { RequestTimeoutSeconds: 0 }, /Value '0' at 'requestTimeoutSeconds' failed to satisfy constraint: Member must have value greater than or equal to 1/],
      ['a request timeout over an hour', { RequestTimeoutSeconds: 3601 }, /Value '3601' at 'requestTimeoutSeconds' failed to satisfy constraint: Member must have value less than or equal to 3600/],
      ['an idle timeout over an hour', { IdleTimeoutSeconds: 7200 }, /'7200' at 'idleTimeoutSeconds'.*less than or equal to 3600/],
      ['a startup timeout under 10 s', { StartupTimeoutSeconds: 9 }, /Value '9' at 'startupTimeoutSeconds' failed to satisfy constraint: Member must have value greater than or equal to 10/],
      ['ephemeral storage under 64 MiB', { EphemeralStorageMb: 63 }, /Value '63' at 'ephemeralStorageMb'.*greater than or equal to 64/],
      ['ephemeral storage over 100 GiB', { EphemeralStorageMb: 102_401 }, /Value '102401' at 'ephemeralStorageMb'.*less than or equal to 102400/],
      ['an idle period of 0 before scaling to zero', { ScaleToZeroIdleSeconds: 0 }, /Value '0' at 'scaleToZeroIdleSeconds' failed to satisfy constraint: Member must have value greater than or equal to 1/],
      ['an idle period over a day', { ScaleToZeroIdleSeconds: 86_401 }, /Value '86401' at 'scaleToZeroIdleSeconds'.*less than or equal to 86400/],
      ['a fractional timeout', { RequestTimeoutSeconds: 1.5 }, /Value 1.5 at 'requestTimeoutSeconds' must be an integer/],
      ['a timeout as a string', { IdleTimeoutSeconds: '60' }, /Value "60" at 'idleTimeoutSeconds' must be an integer/],
      ['an unknown member', { MemoryMb: 512 }, /Unknown member 'memoryMb'; expected one of: ServiceArn, RequestTimeoutSeconds, IdleTimeoutSeconds, StartupTimeoutSeconds, EphemeralStorageMb, ScaleToZeroIdleSeconds/],
      ['no setting at all', {}, /No setting to change: give at least one of RequestTimeoutSeconds, IdleTimeoutSeconds, StartupTimeoutSeconds, EphemeralStorageMb, ScaleToZeroIdleSeconds/],
      ['one good and one bad member', { RequestTimeoutSeconds: 60, StartupTimeoutSeconds: 0 }, /at 'startupTimeoutSeconds'/],
    ];
    for (const [what, members, message] of cases) {
      const before = api.dump();
      await refused('Berth.UpdateServiceSettings', { ServiceArn: arn, ...members }, 'InvalidRequestException', message);
      assert.equal(api.dump(), before, `${what}: the refused request changed the store`);
    }
    assert.deepEqual(await settingsOf(arn), { ...DEFAULTS, RequestTimeoutSeconds: 300 });
  });

  test('the official SDK reads DescribeService as before, without the extension members', async () => {
    const { Service } = await api.client.send(new DescribeServiceCommand({ ServiceArn: arn }));
    assert.equal(Service?.ServiceArn, arn);
    assert.equal(Service?.Status, 'RUNNING');
    assert.ok(Service !== undefined && !('Settings' in Service) && !('LastDeployment' in Service) && !('Scaling' in Service), 'the SDK drops members it does not know');
  });

  test('berth settings shows, changes and resets them; bad flags are usage errors', async () => {
    const { run, out, err } = serviceCommandRunner(api, 'settings');

    assert.equal(await run(['settings-main']), 0, err());
    assert.equal(out(), 'request-timeout    300 s\nidle-timeout       45 s\nstartup-timeout    30 s\nephemeral-storage  2048 MiB\nscale-to-zero-idle 600 s\n');
    assert.equal(await run([arn], { 'idle-timeout': '600', 'ephemeral-storage': '4096', 'scale-to-zero-idle': '30' }), 0, err());
    assert.match(out(), /idle-timeout\s+600 s\n.*\nephemeral-storage\s+4096 MiB\nscale-to-zero-idle 30 s\n$/s);
    assert.equal(await run(['settings-main'], { default: ['request-timeout,idle-timeout', 'ephemeral-storage', 'scale-to-zero-idle'] }), 0, err());
    assert.deepEqual(await settingsOf(arn), DEFAULTS);

    const before = api.dump();
    for (const [flags, message] of [
      [{ 'request-timeout': 'soon' }, /--request-timeout is 'soon'; expected a whole number from 1 to 3600 \(seconds\)/],
      [{ 'startup-timeout': '5' }, /--startup-timeout is '5'; expected a whole number from 10 to 3600/],
      [{ 'ephemeral-storage': '1e5' }, /--ephemeral-storage is '1e5'/],
      [{ 'scale-to-zero-idle': '86401' }, /--scale-to-zero-idle is '86401'; expected a whole number from 1 to 86400 \(seconds\)/],
      [{ default: ['memory'] }, /--default 'memory' names no setting; expected one of request-timeout, idle-timeout, startup-timeout, ephemeral-storage, scale-to-zero-idle/],
      [{ 'idle-timeout': '60', default: ['idle-timeout'] }, /--idle-timeout and --default idle-timeout contradict each other/],
      [{ limit: '5' }, /settings does not take --limit/],
    ] as const) {
      assert.equal(await run(['settings-main'], flags), 2, JSON.stringify(flags));
      assert.match(err(), message);
      assert.match(err(), /Usage:\nberth status SERVICE/);
    }
    assert.equal(await run([]), 2);
    assert.match(err(), /settings takes SERVICE/);
    assert.equal(await run(['settings-ghost']), 1);
    assert.match(err(), /no service named settings-ghost/);
    assert.equal(api.dump(), before, 'usage mistakes sent nothing');
  });

  test('a deleted service cannot be changed (ResourceNotFoundException) but its settings can still be read', async () => {
    const doomed = await createService('settings-doomed');
    await api.call('Berth.UpdateServiceSettings', { ServiceArn: doomed, RequestTimeoutSeconds: 10 });
    await api.call('DeleteService', { ServiceArn: doomed });
    await api.settle();
    const before = api.dump();
    await refused('Berth.UpdateServiceSettings', { ServiceArn: doomed, RequestTimeoutSeconds: 20 }, 'ResourceNotFoundException', /Service '.*service\/settings-doomed\/[0-9a-f]{32}' has been deleted/);
    assert.equal(api.dump(), before);
    assert.deepEqual(await settingsOf(doomed), { ...DEFAULTS, RequestTimeoutSeconds: 10 });
    await refused('Berth.UpdateServiceSettings', { ServiceArn: doomed.replace('settings-doomed', 'settings-ghost'), RequestTimeoutSeconds: 20 }, 'ResourceNotFoundException', /No service with ARN/);
  });
});

describe('settings in other states', () => {
  test('allowed while an operation is in progress, without touching it, and on a paused service', async () => {
    const arn = await createService('settings-busy');
    // An HTTP health check the in-memory instances fail (they close every connection): the
    // deployment stays in progress until its startup limit.
    const { OperationId } = await api.call('UpdateService', { ServiceArn: arn, HealthCheckConfiguration: { Protocol: 'HTTP', Path: '/' } });
    assert.equal(api.cp.store.activeOperation(idOf(arn))?.id, OperationId, 'the deployment is in progress');
    const reply = await api.call('Berth.UpdateServiceSettings', { ServiceArn: arn, StartupTimeoutSeconds: 10 });
    assert.equal((reply.Settings as Json).StartupTimeoutSeconds, 10);
    const service = await describeService(arn);
    assert.equal(service.Status, 'OPERATION_IN_PROGRESS');
    assert.equal((service.LastDeployment as Json).Id, OperationId);
    assert.equal(api.cp.store.activeOperation(idOf(arn))?.id, OperationId, 'the same operation carries on');
    await api.settle(60_000);
    const ended = (await describeService(arn)).LastDeployment as Json;
    assert.equal(ended.Id, OperationId);
    assert.equal(ended.Status, 'ROLLBACK_SUCCEEDED');
    // The installation's limit is 30 s: the 10 s set mid-deployment is the one that ended it.
    assert.ok(Number(ended.EndedAt) - Number(ended.StartedAt) < 25, `the deployment took ${Number(ended.EndedAt) - Number(ended.StartedAt)} s`);

    await api.call('PauseService', { ServiceArn: arn });
    await api.settle();
    assert.equal((await describeService(arn)).Status, 'PAUSED');
    await api.call('Berth.UpdateServiceSettings', { ServiceArn: arn, IdleTimeoutSeconds: 5 });
    assert.equal((await settingsOf(arn)).IdleTimeoutSeconds, 5);
    const paused = await describeService(arn);
    assert.equal((paused.LastDeployment as Json).Id, OperationId, 'a pause is no deployment');
  });
});

describe('DescribeService extension members', () => {
  test('LastDeployment: the create, then a failed update with its StatusMessage, then a redeploy', async () => {
    const { Service, OperationId: created } = await api.call('CreateService', {
      ServiceName: 'settings-deploys',
      SourceConfiguration: { ImageRepository: { ImageIdentifier: IMAGE, ImageRepositoryType: 'ECR' } },
    });
    const arn = (Service as { ServiceArn: string }).ServiceArn;
    const inCreate = (Service as Json).LastDeployment as Json;
    assert.equal(inCreate.Id, created, "CreateService's own output shows its operation");
    assert.equal(inCreate.Type, 'CREATE_SERVICE');
    assert.deepEqual((Service as Json).Settings, DEFAULTS);
    await api.settle();
    const afterCreate = (await describeService(arn)).LastDeployment as Json;
    assert.deepEqual([afterCreate.Id, afterCreate.Type, afterCreate.Status], [created, 'CREATE_SERVICE', 'SUCCEEDED']);
    assert.equal(typeof afterCreate.StartedAt, 'number');
    assert.equal(typeof afterCreate.EndedAt, 'number');

    const { OperationId: failed } = await api.call('UpdateService', {
      ServiceArn: arn,
      SourceConfiguration: { ImageRepository: { ImageIdentifier: MISSING_IMAGE, ImageRepositoryType: 'ECR' } },
    });
    await api.settle();
    const service = await describeService(arn);
    assert.equal(service.Status, 'RUNNING');
    const rolledBack = service.LastDeployment as Json;
    assert.deepEqual([rolledBack.Id, rolledBack.Type, rolledBack.Status], [failed, 'UPDATE_SERVICE', 'ROLLBACK_SUCCEEDED']);
    assert.match(String(rolledBack.StatusMessage), /missing/);
    const listed = ((await api.call('ListOperations', { ServiceArn: arn })).OperationSummaryList as Json[])[0];
    assert.deepEqual(rolledBack, listed, 'the same summary as ListOperations');

    const { OperationId: redeployed } = await api.call('StartDeployment', { ServiceArn: arn });
    await api.settle();
    assert.equal(((await describeService(arn)).LastDeployment as Json).Id, redeployed);
  });

  test('CrashLoop while the crash-loop key is set, absent once it is cleared', async () => {
    const arn = await createService('settings-crashing');
    assert.equal((await describeService(arn)).CrashLoop, undefined);
    const state: CrashLoopState = { revisionId: 'ab'.repeat(16), failures: 4, lastReason: 'exited with code 3', nextStartAt: 1_750_000_000_500 };
    api.cp.store.setMeta(crashLoopKey(idOf(arn)), JSON.stringify(state));
    try {
      assert.deepEqual((await describeService(arn)).CrashLoop, { RevisionId: state.revisionId, Failures: 4, LastReason: 'exited with code 3', NextStartAt: 1_750_000_000.5 });
      const { Service } = await api.client.send(new DescribeServiceCommand({ ServiceArn: arn }));
      assert.equal(Service?.ServiceName, 'settings-crashing', 'the SDK still reads it');
    } finally {
      // How the reconciler clears it.
      api.cp.store.setMeta(crashLoopKey(idOf(arn)), '');
    }
    assert.equal((await describeService(arn)).CrashLoop, undefined);
  });

  test('Scaling: the count wanted, what runs of each revision, and the last decision once there is one; berth status shows them', async () => {
    const arn = await createService('settings-scaling');
    const revisionId = api.cp.store.getService(idOf(arn))?.revisionId as string;
    const before = (await describeService(arn)).Scaling as Json;
    assert.equal(before.DesiredInstances, 1, 'MinSize, before any decision');
    assert.equal(before.LastDecision, undefined);
    assert.deepEqual(before.Revisions, [{ RevisionId: revisionId, CurrentInstances: 1, ReadyInstances: 1 }], "from the reconciler's summary");

    const decision: ScalingDecisionRecord = { at: 1_750_000_000_250, from: 1, to: 4, reason: 'load', stable: 12.5, panic: 30.25, ready: 1, target: 70, panicking: true };
    api.cp.store.setMeta(scalingDecisionKey(idOf(arn)), JSON.stringify(decision));
    assert.deepEqual(((await describeService(arn)).Scaling as Json).LastDecision, {
      At: 1_750_000_000.25,
      From: 1,
      To: 4,
      Reason: 'LOAD',
      StableConcurrency: 12.5,
      PanicConcurrency: 30.25,
      ReadyInstances: 1,
      TargetPerInstance: 70,
      Panicking: true,
    });

    const out: string[] = [];
    const err: string[] = [];
    const io = { env: { AWS_ACCESS_KEY_ID: api.endpoint.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: api.endpoint.credentials.secretAccessKey }, stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t) };
    const config = { home: api.home, region: 'us-east-1' } as Parameters<typeof runServiceCommand>[3];
    assert.equal(await runServiceCommand('status', ['settings-scaling'], { endpoint: api.cp.apiUrl }, config, io), 0, err.join(''));
    assert.equal(
      out.join(''),
      'service     settings-scaling (RUNNING)\n' +
        'instances   desired 1\n' +
        `revision    ${revisionId}  current 1, ready 1\n` +
        'last scaled 2025-06-15T15:06:40.250Z  from 1 to 4 (LOAD): stable concurrency 12.5, panic 30.25, 1 ready, target 70 per instance, panicking yes\n',
    );
    out.length = 0;
    assert.equal(await runServiceCommand('status', ['settings-scaling'], { endpoint: api.cp.apiUrl, limit: '3' }, config, io), 2);
    assert.match(err.join(''), /status does not take --limit/);
  });
});

/**
 * End to end, as a user: a locally built image pushed to a real registry on loopback, `berth
 * up` as a process, the official App Runner SDK and the AWS CLI v2 as clients, the real Docker
 * engine underneath, and the service reached over HTTPS through the router with Berth's CA.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  AppRunnerClient,
  CreateServiceCommand,
  DeleteServiceCommand,
  DescribeServiceCommand,
  ListOperationsCommand,
  ListServicesCommand,
  PauseServiceCommand,
  ResumeServiceCommand,
  UpdateServiceCommand,
  type Service,
} from '@aws-sdk/client-apprunner';
import { DockerEngineClient } from '../../src/adapters/docker/engine-client.ts';
import { requireDocker } from '../support/docker.ts';
import { buildHttpImage, pushImage, EXIT_MESSAGE } from '../support/images.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { httpGet, httpsGet, startBerth, waitFor, type BerthUp } from '../support/berth-process.ts';

const docker = new DockerEngineClient();
let registry: TestRegistry;
let berth: BerthUp;
let client: AppRunnerClient;
let image: string;
let exitImage: string;
let image2: string;
const run = `e2e${process.pid}`;

before(async (t) => {
  if (!(await requireDocker(t))) return;
  registry = await startRegistry();
  image = `${registry.host}/${run}/hello:1`;
  exitImage = `${registry.host}/${run}/crash:1`;
  image2 = `${registry.host}/${run}/hello:2`;
  await buildHttpImage(docker, image, { body: 'hello through berth\n' });
  await buildHttpImage(docker, image2, { body: 'version two\n' });
  await pushImage(docker, image2);
  await buildHttpImage(docker, exitImage, { behaviour: 'exit' });
  await pushImage(docker, image);
  await pushImage(docker, exitImage);
  // Gone from the engine, so Berth must pull it from the registry.
  await docker.removeImage(image, { force: true });
  await docker.removeImage(exitImage, { force: true });
  // No tag polling: the resume test moves a tag and must see only what resume does.
  berth = await startBerth({ config: { reconcile: { intervalMs: 250, startupTimeoutSeconds: 6, stopGraceSeconds: 1 }, build: { pollIntervalSeconds: 0 } } });
  client = new AppRunnerClient({ region: berth.region, endpoint: berth.apiUrl, credentials: berth.credentials });
});

after(async () => {
  await berth?.stop();
  await registry?.stop();
  await docker.close();
});

async function waitForStatus(arn: string, wanted: string, timeoutMs = 20_000): Promise<Service> {
  let last: Service | undefined;
  await waitFor(
    async () => {
      last = (await client.send(new DescribeServiceCommand({ ServiceArn: arn }))).Service;
      return last?.Status === wanted;
    },
    timeoutMs,
    () => `service did not reach ${wanted}; last status ${last?.Status}; berth output:\n${berth.output().slice(-3000)}`,
  );
  return last as Service;
}

async function containersOf(serviceId: string): Promise<string[]> {
  return (await docker.listContainers({ all: true, labels: [`berth.service-id=${serviceId}`] })).map((c) => c.Id);
}

function imageSource(identifier: string, port = '8080') {
  return { ImageRepository: { ImageIdentifier: identifier, ImageRepositoryType: 'ECR' as const, ImageConfiguration: { Port: port } } };
}

describe('an image service through the App Runner SDK', () => {
  test('create, reach over HTTPS, redirect, survive a control-plane SIGKILL, delete', async () => {
    const created = await client.send(new CreateServiceCommand({ ServiceName: 'hello-web', SourceConfiguration: imageSource(image) }));
    const service = created.Service as Service;
    assert.match(created.OperationId ?? '', /^[0-9a-f]{32}$/);
    assert.equal(service.Status, 'OPERATION_IN_PROGRESS');
    assert.match(service.ServiceId ?? '', /^[0-9a-f]{32}$/);
    assert.equal(service.ServiceArn, `arn:aws:apprunner:us-east-1:000000000000:service/hello-web/${service.ServiceId}`);
    assert.equal(service.ServiceUrl, `hello-web-${service.ServiceId?.slice(0, 8)}.localhost`);
    assert.ok(service.CreatedAt instanceof Date && Math.abs(service.CreatedAt.getTime() - Date.now()) < 60_000);
    // Defaults filled in as App Runner does.
    assert.deepEqual(service.InstanceConfiguration, { Cpu: '1024', Memory: '2048' });
    assert.deepEqual(service.HealthCheckConfiguration, { Protocol: 'TCP', Path: '/', Interval: 5, Timeout: 2, HealthyThreshold: 1, UnhealthyThreshold: 5 });
    assert.equal(service.AutoScalingConfigurationSummary?.AutoScalingConfigurationName, 'DefaultConfiguration');
    assert.match(service.AutoScalingConfigurationSummary?.AutoScalingConfigurationArn ?? '', /autoscalingconfiguration\/DefaultConfiguration\/1\/0{31}1$/);
    assert.deepEqual(service.NetworkConfiguration, { EgressConfiguration: { EgressType: 'DEFAULT' }, IngressConfiguration: { IsPubliclyAccessible: true }, IpAddressType: 'IPV4' });

    const running = await waitForStatus(service.ServiceArn as string, 'RUNNING');
    const host = running.ServiceUrl as string;
    const ops = await client.send(new ListOperationsCommand({ ServiceArn: service.ServiceArn }));
    assert.equal(ops.OperationSummaryList?.[0]?.Type, 'CREATE_SERVICE');
    assert.equal(ops.OperationSummaryList?.[0]?.Status, 'SUCCEEDED');
    assert.equal(ops.OperationSummaryList?.[0]?.Id, created.OperationId);

    await waitFor(async () => (await httpsGet(berth, host)).status === 200, 10_000, () => `no 200 from https://${host}; berth output:\n${berth.output().slice(-4000)}`);
    const reply = await httpsGet(berth, host);
    assert.equal(reply.body, 'hello through berth\n');

    const redirect = await httpGet(berth, host, '/index.html?x=1');
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.location, `https://${host}:${berth.httpsPort}/index.html?x=1`);

    const list = await client.send(new ListServicesCommand({}));
    assert.deepEqual(list.ServiceSummaryList?.map((s) => s.ServiceName), ['hello-web']);

    // SIGKILL the control plane while requests flow: none may fail.
    const before = await containersOf(service.ServiceId as string);
    assert.equal(before.length, 1);
    const oldPid = berth.controlPlanePid();
    const failures: string[] = [];
    let served = 0;
    let stopTraffic = false;
    const traffic = (async () => {
      const until = Date.now() + 15_000;
      while (!stopTraffic && Date.now() < until) {
        try {
          const r = await httpsGet(berth, host, '/', 5000);
          if (r.status === 200) served++;
          else failures.push(`status ${r.status}: ${r.body}`);
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
    })();
    await waitFor(() => served >= 20, 10_000, () => 'traffic did not start');
    process.kill(oldPid, 'SIGKILL');
    const servedAtKill = served;
    // The supervisor restarts it; meanwhile the router serves on its last routes.
    await waitFor(
      async () => {
        try {
          return berth.controlPlanePid() !== oldPid && (await client.send(new DescribeServiceCommand({ ServiceArn: service.ServiceArn }))).Service?.Status === 'RUNNING';
        } catch {
          return false;
        }
      },
      20_000,
      () => `the control plane did not come back; output:\n${berth.output().slice(-3000)}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 1500)); // several reconcile passes after the restart
    stopTraffic = true;
    await traffic;
    assert.deepEqual(failures, []);
    assert.ok(served > servedAtKill, 'requests were served while the control plane was down or restarting');
    assert.deepEqual(await containersOf(service.ServiceId as string), before, 'no container lost or duplicated');

    const deleted = await client.send(new DeleteServiceCommand({ ServiceArn: service.ServiceArn }));
    assert.equal(deleted.Service?.Status, 'OPERATION_IN_PROGRESS');
    const gone = await waitForStatus(service.ServiceArn as string, 'DELETED');
    assert.ok(gone.DeletedAt instanceof Date);
    await waitFor(async () => (await httpsGet(berth, host)).status === 404, 5000, () => 'deleted service still answers');
    assert.deepEqual(await containersOf(service.ServiceId as string), []);
    const afterDelete = await client.send(new ListServicesCommand({}));
    assert.deepEqual(afterDelete.ServiceSummaryList, []);
  });

  test('a first deployment that cannot pull ends CREATE_FAILED with the reason', async () => {
    const missing = `${registry.host}/${run}/does-not-exist:1`;
    const created = await client.send(new CreateServiceCommand({ ServiceName: 'no-such-image', SourceConfiguration: imageSource(missing) }));
    await waitForStatus(created.Service?.ServiceArn as string, 'CREATE_FAILED');
    const ops = await client.send(new ListOperationsCommand({ ServiceArn: created.Service?.ServiceArn }));
    const op = ops.OperationSummaryList?.[0] as { Status?: string; StatusMessage?: string };
    assert.equal(op.Status, 'FAILED');
    const raw = await rawOperations(created.Service?.ServiceArn as string);
    assert.match(raw, new RegExp(`does-not-exist`));
    await client.send(new DeleteServiceCommand({ ServiceArn: created.Service?.ServiceArn }));
    await waitForStatus(created.Service?.ServiceArn as string, 'DELETED');
  });

  test('a first deployment whose process exits ends CREATE_FAILED with its output', async () => {
    const created = await client.send(new CreateServiceCommand({ ServiceName: 'crashes', SourceConfiguration: imageSource(exitImage) }));
    await waitForStatus(created.Service?.ServiceArn as string, 'CREATE_FAILED');
    const raw = await rawOperations(created.Service?.ServiceArn as string);
    assert.match(raw, /exited with code 3/);
    assert.ok(raw.includes(EXIT_MESSAGE), raw);
    assert.deepEqual(await containersOf(created.Service?.ServiceId as string), []);
    await client.send(new DeleteServiceCommand({ ServiceArn: created.Service?.ServiceArn }));
    await waitForStatus(created.Service?.ServiceArn as string, 'DELETED');
  });

  test('a first deployment that fails its HTTP health check ends CREATE_FAILED', async () => {
    const created = await client.send(
      new CreateServiceCommand({
        ServiceName: 'unhealthy',
        SourceConfiguration: imageSource(image),
        HealthCheckConfiguration: { Protocol: 'HTTP', Path: '/healthz', Interval: 1, Timeout: 1 },
      }),
    );
    await waitForStatus(created.Service?.ServiceArn as string, 'CREATE_FAILED', 30_000);
    const raw = await rawOperations(created.Service?.ServiceArn as string);
    assert.match(raw, /HTTP health check of path \/healthz/);
    assert.match(raw, /answered 404/);
    await waitFor(async () => (await containersOf(created.Service?.ServiceId as string)).length === 0, 5000, () => 'the failed instance was not removed');
  });
});

describe('the lifecycle after the first deployment', () => {
  test('update switches to the new image, a crashing update rolls back, pause stops everything, resume brings the same version back', async () => {
    const created = await client.send(new CreateServiceCommand({ ServiceName: 'lifecycle', SourceConfiguration: imageSource(image) }));
    const arn = created.Service?.ServiceArn as string;
    const host = (await waitForStatus(arn, 'RUNNING')).ServiceUrl as string;
    const id = created.Service?.ServiceId as string;
    await waitFor(async () => (await httpsGet(berth, host)).status === 200, 10_000, () => 'never served');

    const updated = await client.send(new UpdateServiceCommand({ ServiceArn: arn, SourceConfiguration: imageSource(image2) }));
    assert.equal(updated.Service?.Status, 'OPERATION_IN_PROGRESS');
    assert.equal(updated.Service?.SourceConfiguration?.ImageRepository?.ImageIdentifier, image2, 'the returned Service already shows the new configuration');
    await waitForStatus(arn, 'RUNNING');
    assert.equal((await httpsGet(berth, host)).body, 'version two\n');
    await waitFor(async () => (await containersOf(id)).length === 1, 10_000, () => 'the old revision was not removed');

    // An update whose instance exits at once never takes traffic and rolls back.
    await client.send(new UpdateServiceCommand({ ServiceArn: arn, SourceConfiguration: imageSource(exitImage) }));
    const back = await waitForStatus(arn, 'RUNNING', 30_000);
    assert.equal(back.SourceConfiguration?.ImageRepository?.ImageIdentifier, image2, 'the previous configuration is restored');
    const [rollback] = (await client.send(new ListOperationsCommand({ ServiceArn: arn }))).OperationSummaryList ?? [];
    assert.equal(rollback?.Type, 'UPDATE_SERVICE');
    assert.equal(rollback?.Status, 'ROLLBACK_SUCCEEDED');
    assert.match(await rawOperations(arn), /exited with code 3/);
    assert.equal((await httpsGet(berth, host)).body, 'version two\n');

    await client.send(new PauseServiceCommand({ ServiceArn: arn }));
    await waitForStatus(arn, 'PAUSED');
    assert.deepEqual(await containersOf(id), [], 'a paused service uses no compute');
    // A newer image behind the tag in the registry (the engine keeps the one it had): resume
    // brings back the version that ran, it does not deploy the newer one.
    const ran = await docker.inspectImage(image2);
    await buildHttpImage(docker, image2, { body: 'version three\n' });
    await pushImage(docker, image2);
    await docker.tagImage(ran?.Id as string, image2);
    // From a restarted control plane, which remembers nothing of what it pulled.
    const killed = berth.controlPlanePid();
    process.kill(killed, 'SIGKILL');
    await waitFor(async () => {
      try {
        return berth.controlPlanePid() !== killed && (await client.send(new DescribeServiceCommand({ ServiceArn: arn }))).Service?.Status === 'PAUSED';
      } catch {
        return false;
      }
    }, 20_000, () => 'the control plane did not come back');
    await client.send(new ResumeServiceCommand({ ServiceArn: arn }));
    await waitForStatus(arn, 'RUNNING');
    await waitFor(async () => (await httpsGet(berth, host)).status === 200, 10_000, () => 'not served after resume');
    assert.equal((await httpsGet(berth, host)).body, 'version two\n');

    await client.send(new DeleteServiceCommand({ ServiceArn: arn }));
    await waitForStatus(arn, 'DELETED');
  });
});

describe('self-healing', () => {
  test('a dead instance is replaced and a container no service owns is removed', async () => {
    const created = await client.send(new CreateServiceCommand({ ServiceName: 'healing', SourceConfiguration: imageSource(image) }));
    const running = await waitForStatus(created.Service?.ServiceArn as string, 'RUNNING');
    const [first] = await containersOf(running.ServiceId as string);
    assert.ok(first);
    const inspected = await docker.inspectContainer(first);
    const installation = inspected?.Config.Labels?.['berth.installation'];
    assert.ok(installation);

    // An orphan: this installation's labels, a service that does not exist.
    const orphan = await docker.createContainer(`berth-orphan-${run}`, {
      Image: image,
      Labels: { 'berth.installation': installation, 'berth.service-id': 'f'.repeat(32), 'berth.revision-id': 'r', 'berth.instance-id': 'orphan', 'berth.service-name': 'ghost', 'berth.port': '8080' },
    });
    await docker.startContainer(orphan.id);

    // Kill the service's instance behind Berth's back.
    await docker.stopContainer(first, 0);
    await waitFor(async () => {
      const now = await containersOf(running.ServiceId as string);
      return now.length === 1 && now[0] !== first && (await httpsGet(berth, running.ServiceUrl as string)).status === 200;
    }, 20_000, () => `the dead instance was not replaced; output:\n${berth.output().slice(-3000)}`);
    await waitFor(async () => (await docker.inspectContainer(orphan.id)) === undefined, 10_000, () => 'the orphan container was not removed');
    assert.equal((await client.send(new DescribeServiceCommand({ ServiceArn: running.ServiceArn }))).Service?.Status, 'RUNNING');
    await client.send(new DeleteServiceCommand({ ServiceArn: running.ServiceArn }));
    await waitForStatus(running.ServiceArn as string, 'DELETED');
  });
});

describe('health after the first deployment', () => {
  test('an instance that starts failing its health check is replaced after UnhealthyThreshold failures', async () => {
    // Serves /health.html for 3 s, then deletes it and keeps running: HTTP health checks turn 404.
    const startCommand = 'echo ok > /www/health.html; /bin/busybox httpd -p "$PORT" -h /www; sleep 3; rm /www/health.html; exec /bin/busybox sleep 3600';
    const created = await client.send(new CreateServiceCommand({
      ServiceName: 'goes-bad',
      SourceConfiguration: { ImageRepository: { ...imageSource(image).ImageRepository, ImageConfiguration: { Port: '8080', StartCommand: startCommand } } },
      HealthCheckConfiguration: { Protocol: 'HTTP', Path: '/health.html', Interval: 1, Timeout: 1, UnhealthyThreshold: 2 },
    }));
    const running = await waitForStatus(created.Service?.ServiceArn as string, 'RUNNING');
    const [first] = await containersOf(running.ServiceId as string);
    assert.ok(first);
    await waitFor(async () => {
      const now = await containersOf(running.ServiceId as string);
      return now.length > 0 && !now.includes(first);
    }, 20_000, () => `the unhealthy instance was not replaced; output:\n${berth.output().slice(-3000)}`);
    assert.match(berth.output(), /goes-bad: removed instance \w+: it failed 2 health checks in a row \(HTTP GET \/health\.html on port 8080 answered 404\)/);
    await client.send(new DeleteServiceCommand({ ServiceArn: running.ServiceArn }));
    await waitForStatus(running.ServiceArn as string, 'DELETED');
  });
});

describe('the same flow with the AWS CLI v2', () => {
  const aws = (...args: string[]): { status: number | null; stdout: string; stderr: string } => {
    const result = spawnSync('/usr/bin/aws', ['apprunner', ...args, '--endpoint-url', berth.apiUrl, '--output', 'json'], {
      env: { ...process.env, AWS_SHARED_CREDENTIALS_FILE: `${berth.home}/credentials`, AWS_CONFIG_FILE: `${berth.home}/config`, AWS_PAGER: '' },
      encoding: 'utf8',
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };

  test('create, list, describe, reach, delete', async () => {
    const created = aws('create-service', '--service-name', 'cli-web', '--source-configuration', JSON.stringify(imageSource(image)),
      '--instance-configuration', JSON.stringify({ Cpu: '0.25 vCPU', Memory: '0.5 GB' }));
    assert.equal(created.status, 0, created.stderr);
    const service = (JSON.parse(created.stdout) as { Service: { ServiceArn: string; ServiceUrl: string; InstanceConfiguration: unknown } }).Service;
    assert.deepEqual(service.InstanceConfiguration, { Cpu: '256', Memory: '512' });
    await waitFor(() => {
      const d = aws('describe-service', '--service-arn', service.ServiceArn);
      return d.status === 0 && (JSON.parse(d.stdout) as { Service: { Status: string } }).Service.Status === 'RUNNING';
    }, 20_000, () => 'cli-web never RUNNING');
    const listed = aws('list-services');
    assert.equal(listed.status, 0, listed.stderr);
    assert.ok((JSON.parse(listed.stdout) as { ServiceSummaryList: { ServiceName: string }[] }).ServiceSummaryList.some((s) => s.ServiceName === 'cli-web'));
    assert.equal((await httpsGet(berth, service.ServiceUrl)).body, 'hello through berth\n');
    const ops = aws('list-operations', '--service-arn', service.ServiceArn);
    assert.equal((JSON.parse(ops.stdout) as { OperationSummaryList: { Type: string; Status: string }[] }).OperationSummaryList[0]?.Status, 'SUCCEEDED');

    const bad = aws('create-service', '--service-name', 'bad_image', '--source-configuration', JSON.stringify(imageSource('Not A Reference')));
    assert.equal(bad.status, 254);
    assert.match(bad.stderr, /\(InvalidRequestException\) when calling the CreateService operation: .*'Not A Reference'/);

    const deleted = aws('delete-service', '--service-arn', service.ServiceArn);
    assert.equal(deleted.status, 0, deleted.stderr);
    await waitFor(() => (JSON.parse(aws('describe-service', '--service-arn', service.ServiceArn).stdout) as { Service: { Status: string } }).Service.Status === 'DELETED',
      20_000, () => 'cli-web never DELETED');
    const missing = aws('describe-service', '--service-arn', service.ServiceArn.replace(/[0-9a-f]{32}$/, '0'.repeat(32)));
    assert.equal(missing.status, 254);
    assert.match(missing.stderr, /ResourceNotFoundException/);
  });
});

/** ListOperations as raw JSON, to see Berth's extension member StatusMessage (the SDK drops it). */
async function rawOperations(arn: string): Promise<string> {
  const { signedFetch } = await import('../support/signed-request.ts');
  const reply = await signedFetch(berth, 'AppRunner.ListOperations', JSON.stringify({ ServiceArn: arn }));
  return reply.body;
}

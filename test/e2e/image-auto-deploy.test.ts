/**
 * End to end, automatic deployments of image services (issue 4): `berth up` as a process, the
 * official SDK as the client, the real Docker engine, and a real CNCF distribution registry on
 * loopback. A new image pushed behind a service's tag is announced by the registry's own
 * notifications (POST /webhooks/registry with a bearer token), or found by polling the registry
 * through the engine; either way it deploys with no API call, and the router then serves it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  AppRunnerClient,
  CreateServiceCommand,
  DeleteServiceCommand,
  DescribeServiceCommand,
  ListOperationsCommand,
  type OperationSummary,
  type Service,
} from '@aws-sdk/client-apprunner';
import { DockerEngineClient } from '../../src/adapters/docker/engine-client.ts';
import { REGISTRY_EVENTS_MEDIA_TYPE } from '../../src/core/webhooks.ts';
import { requireDocker } from '../support/docker.ts';
import { buildHttpImage, pushImage } from '../support/images.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { httpsGet, startBerth, waitFor, type BerthUp } from '../support/berth-process.ts';

const run = `auto${process.pid}`;

/** One Berth with its client, the services it made (deleted before it stops) and the images built for it. */
class Installation {
  readonly berth: BerthUp;
  readonly client: AppRunnerClient;
  readonly arns: string[] = [];

  constructor(berth: BerthUp) {
    this.berth = berth;
    this.client = new AppRunnerClient({ region: berth.region, endpoint: berth.apiUrl, credentials: berth.credentials });
  }

  /** Creates an ECR-type image service on `image` and waits until it serves; resolves with its ARN and host. */
  async serve(name: string, image: string, autoDeployments?: boolean): Promise<{ arn: string; host: string }> {
    const created = await this.client.send(new CreateServiceCommand({
      ServiceName: name,
      SourceConfiguration: {
        ImageRepository: { ImageIdentifier: image, ImageRepositoryType: 'ECR', ImageConfiguration: { Port: '8080' } },
        ...(autoDeployments !== undefined && { AutoDeploymentsEnabled: autoDeployments }),
      },
      HealthCheckConfiguration: { Protocol: 'TCP', Interval: 1, Timeout: 1 },
    }));
    const arn = created.Service?.ServiceArn as string;
    this.arns.push(arn);
    const host = (await this.status(arn, 'RUNNING')).ServiceUrl as string;
    await waitFor(async () => (await httpsGet(this.berth, host)).status === 200, 10_000, () => `${name} never answered 200; berth output:\n${this.berth.output().slice(-3000)}`);
    return { arn, host };
  }

  async status(arn: string, wanted: string, timeoutMs = 30_000): Promise<Service> {
    let last: Service | undefined;
    await waitFor(
      async () => {
        last = (await this.client.send(new DescribeServiceCommand({ ServiceArn: arn }))).Service;
        return last?.Status === wanted;
      },
      timeoutMs,
      () => `service did not reach ${wanted}; last status ${last?.Status}; berth output:\n${this.berth.output().slice(-3000)}`,
    );
    return last as Service;
  }

  /** Newest first, as ListOperations answers. */
  async operations(arn: string): Promise<OperationSummary[]> {
    return (await this.client.send(new ListOperationsCommand({ ServiceArn: arn }))).OperationSummaryList ?? [];
  }

  async body(host: string): Promise<string> {
    return (await httpsGet(this.berth, host)).body;
  }

  /** Waits for a START_DEPLOYMENT to succeed and the router to answer `body`; resolves with that operation. */
  async deployed(arn: string, host: string, body: string, timeoutMs: number): Promise<OperationSummary> {
    let deployment: OperationSummary | undefined;
    await waitFor(
      async () => {
        deployment = (await this.operations(arn)).find((o) => o.Type === 'START_DEPLOYMENT');
        return deployment?.Status === 'SUCCEEDED' && (await this.body(host)) === body;
      },
      timeoutMs,
      () => `no automatic deployment serving ${JSON.stringify(body)}; deployment ${JSON.stringify(deployment)}; berth output:\n${this.berth.output().slice(-3000)}`,
    );
    return deployment as OperationSummary;
  }

  /** Deletes every service it made, then stops Berth. */
  async stop(): Promise<void> {
    for (const arn of this.arns) await this.client.send(new DeleteServiceCommand({ ServiceArn: arn }));
    for (const arn of this.arns) await this.status(arn, 'DELETED');
    this.client.destroy();
    await this.berth.stop();
  }
}

/** Every image this file built, removed after each suite. */
const built = new Set<string>();

/** A hello-world image serving `body`, built and pushed as `tag`; resolves with its manifest digest. */
async function publish(docker: DockerEngineClient, tag: string, body: string): Promise<string> {
  built.add((await buildHttpImage(docker, tag, { body })).imageId);
  return (await pushImage(docker, tag)).digest;
}

async function removeBuilt(docker: DockerEngineClient | undefined): Promise<void> {
  for (const id of built) await docker?.removeImage(id, { force: true }).catch(() => undefined);
  built.clear();
  await docker?.close();
}

/**
 * The same, as if pushed from another machine (a CI runner): the registry gets the new image
 * while this engine's tag stays on the image it named before, as it would on Berth's host.
 */
async function publishElsewhere(docker: DockerEngineClient, tag: string, body: string): Promise<string> {
  const before = await docker.inspectImage(tag);
  assert.ok(before, `${tag} is not in the engine`);
  const digest = await publish(docker, tag, body);
  await docker.tagImage(before.Id, tag);
  return digest;
}

describe('registry notifications', () => {
  let docker: DockerEngineClient;
  let registry: TestRegistry | undefined;
  let berth: Installation | undefined;
  let token: string;
  let app: string;
  let manual: string;

  before(async (t) => {
    if (!(await requireDocker(t))) return;
    docker = new DockerEngineClient();
    token = randomBytes(16).toString('hex');
    // No polling: whatever deploys here was announced by the registry.
    berth = new Installation(await startBerth({ config: { build: { registryNotificationToken: token, pollIntervalSeconds: 0 } } }));
    // After Berth, so the registry knows where to send its events.
    registry = await startRegistry({ notifications: { url: `${berth.berth.apiUrl}/webhooks/registry`, bearerToken: token } });
    app = `${registry.host}/${run}/app:live`;
    manual = `${registry.host}/${run}/manual:live`;
    await publish(docker, app, 'v1');
    await publish(docker, manual, 'manual v1');
  });

  after(async () => {
    await berth?.stop();
    await registry?.stop();
    await removeBuilt(docker);
  });

  test('a push behind the tag deploys the new image with no API call; a service with automatic deployments off stays', async (t) => {
    const b = berth as Installation;
    const follows = await b.serve('follows', app);
    const fixed = await b.serve('fixed', manual, false);
    assert.equal(await b.body(follows.host), 'v1');
    assert.equal(await b.body(fixed.host), 'manual v1');

    // The service that must not move is pushed first: the registry sends an endpoint's events one
    // at a time from a FIFO queue (distribution's notifications/sinks.go), so once the second
    // push has deployed, Berth has handled the first.
    await publish(docker, manual, 'manual v2');
    const pushed = Date.now();
    const digest = await publish(docker, app, 'v2');
    const deployment = await b.deployed(follows.arn, follows.host, 'v2', 30_000);
    t.diagnostic(`push to serving v2: ${Date.now() - pushed} ms`);
    assert.deepEqual((await b.operations(follows.arn)).map((o) => o.Type), ['START_DEPLOYMENT', 'CREATE_SERVICE']);
    assert.match(b.berth.output(), new RegExp(`follows: deploying \\(new image ${digest} behind ${app.replaceAll('.', '\\.')}\\): operation ${deployment.Id}`));

    assert.deepEqual((await b.operations(fixed.arn)).map((o) => o.Type), ['CREATE_SERVICE']);
    assert.equal(await b.body(fixed.host), 'manual v1');
  });

  test('a notification without the right bearer token is refused and deploys nothing', async () => {
    const b = berth as Installation;
    const [arn] = b.arns;
    const before = (await b.operations(arn as string)).length;
    const [repository, tag] = app.slice(app.indexOf('/') + 1).split(':') as [string, string];
    const envelope = (pushedTag: string): string => JSON.stringify({
      events: [{
        action: 'push',
        target: { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', repository, tag: pushedTag, digest: `sha256:${'e'.repeat(64)}` },
        request: { host: registry?.host },
      }],
    });
    const post = (body: string, authorization: string | undefined): Promise<Response> => fetch(`${b.berth.apiUrl}/webhooks/registry`, {
      method: 'POST',
      headers: { 'content-type': REGISTRY_EVENTS_MEDIA_TYPE, ...(authorization !== undefined && { authorization }) },
      body,
    });
    // The envelope is one Berth reads: with the token, a push of a tag no service follows is accepted.
    assert.equal((await post(envelope('unfollowed'), `Bearer ${token}`)).status, 200);
    for (const authorization of [`Bearer ${randomBytes(16).toString('hex')}`, `Bearer ${token}x`, undefined]) {
      const reply = await post(envelope(tag), authorization);
      assert.equal(reply.status, 401, `with ${authorization === undefined ? 'no Authorization' : 'a wrong token'}`);
      assert.equal(reply.headers.get('www-authenticate'), 'Bearer');
      assert.equal(((await reply.json()) as { error: string }).error, 'WebhookUnauthorized');
    }
    // The endpoint deploys before it answers, so a refused notification had its chance already.
    assert.equal((await b.operations(arn as string)).length, before);
  });
});

describe('polling the registry', () => {
  let docker: DockerEngineClient;
  let registry: TestRegistry | undefined;
  let berth: Installation | undefined;
  let app: string;
  let service: { arn: string; host: string };

  before(async (t) => {
    if (!(await requireDocker(t))) return;
    docker = new DockerEngineClient();
    registry = await startRegistry();
    app = `${registry.host}/${run}/polled:live`;
    await publish(docker, app, 'polled v1');
    // No token: registry notifications are off, so only polling can deploy.
    berth = new Installation(await startBerth({ config: { build: { pollIntervalSeconds: 1 } } }));
  });

  after(async () => {
    await berth?.stop();
    await registry?.stop();
    await removeBuilt(docker);
  });

  test('nothing deploys while the tag names the image that runs', async () => {
    const b = berth as Installation;
    service = await b.serve('polled', app);
    // Three polls or more.
    const until = Date.now() + 3_500;
    while (Date.now() < until) {
      assert.deepEqual((await b.operations(service.arn)).map((o) => o.Type), ['CREATE_SERVICE']);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.equal(await b.body(service.host), 'polled v1');
  });

  test('a new image pushed from another machine starts a deployment within a few seconds', async (t) => {
    const b = berth as Installation;
    const pushed = Date.now();
    const digest = await publishElsewhere(docker, app, 'polled v2');
    let deployment: OperationSummary | undefined;
    await waitFor(async () => {
      deployment = (await b.operations(service.arn)).find((o) => o.Type === 'START_DEPLOYMENT');
      return deployment?.Status === 'SUCCEEDED';
    }, 10_000, () => `no automatic deployment; last ${JSON.stringify(deployment)}; berth output:\n${b.berth.output().slice(-3000)}`);
    t.diagnostic(`push to deployment SUCCEEDED: ${Date.now() - pushed} ms`);
    assert.match(b.berth.output(), new RegExp(`polled: deploying \\(new image ${digest} behind .*\\): operation ${deployment?.Id}`));
    assert.deepEqual((await b.operations(service.arn)).map((o) => o.Type), ['START_DEPLOYMENT', 'CREATE_SERVICE']);
  });

  test('that deployment serves the new image', async () => {
    const b = berth as Installation;
    let body = '';
    await waitFor(async () => (body = await b.body(service.host)) === 'polled v2', 5_000, () => `the router still answers ${JSON.stringify(body)}`);
  });

  test('a new image built and pushed on the same engine is deployed', async () => {
    const b = berth as Installation;
    await publish(docker, app, 'polled v3');
    await b.deployed(service.arn, service.host, 'polled v3', 8_000);
  });
});

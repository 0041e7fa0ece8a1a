/**
 * Push webhooks and registry notifications over real HTTP (issue 4). A real control plane
 * gives connections and their webhook secrets (`Berth.GetConnectionWebhook` through raw signed
 * calls); the webhook endpoint runs on an API server of its own over the same store, with the
 * deploying side replaced by a recorder, since which services a push deploys is decided
 * elsewhere. What is checked here: only a correctly signed push reaches the deployer, in its
 * normalized form, and the replies a git host's delivery log will show.
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadOrCreateMasterKey } from '../../src/adapters/local-files/master-key.ts';
import { systemClock } from '../../src/core/clock.ts';
import { berthPaths } from '../../src/core/config.ts';
import { connectionWebhookSecret, type ConnectionRecord } from '../../src/core/connection.ts';
import { SecretBox } from '../../src/core/secret-box.ts';
import type { GitPush, ImagePush, PushOutcome } from '../../src/core/webhooks.ts';
import { createApiServer } from '../../src/edges/api/api-server.ts';
import type { WebhookDeps } from '../../src/edges/api/webhook-endpoint.ts';
import { ApiError, startApiHarness, type ApiHarness } from '../support/api-harness.ts';

const BEFORE = '6113728f27ae82c7b1a177c8d03f9e96e0adf246';
const AFTER = '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c';
const REGISTRY_TOKEN = 'registry-notify-0123456789abcdef';
const SERVICE_ARN = 'arn:aws:apprunner:us-east-1:000000000000:service/hello-web/0123456789abcdef0123456789abcdef';

let api: ApiHarness;
let server: Server;
let baseUrl: string;
let deps: WebhookDeps;
const gitPushes: { connectionId: string; push: GitPush }[] = [];
const imagePushes: ImagePush[][] = [];
const published: string[] = [];
const onPublish = (message: unknown): void => {
  published.push(JSON.stringify(message, (_, v: unknown) => (v instanceof Error ? v.message : v)));
};

/** What the fake deployer answers: one deployment when a push touches `web/` (or cannot tell), else skipped. */
function fakeDeploy(push: GitPush): PushOutcome {
  const touched = push.changedPaths === undefined || push.changedPaths.some((p) => p.startsWith('web/'));
  return touched
    ? { deployments: [{ serviceArn: SERVICE_ARN, operationId: 'fedcba9876543210fedcba9876543210' }], skipped: [] }
    : { deployments: [], skipped: [{ serviceArn: SERVICE_ARN, reason: "no changed file is under the source directory 'web'" }] };
}

before(async () => {
  api = await startApiHarness();
  const secrets = new SecretBox(loadOrCreateMasterKey(berthPaths(api.home).masterKey));
  deps = {
    webhookSecret: (id) => connectionWebhookSecret(api.cp.store, secrets, id),
    onGitPush: async (connectionId, push) => {
      gitPushes.push({ connectionId, push });
      return fakeDeploy(push);
    },
    registryToken: REGISTRY_TOKEN,
    onImagePush: async (pushes) => {
      imagePushes.push(pushes);
      return { deployments: [{ serviceArn: SERVICE_ARN, operationId: 'aaaabbbbccccddddeeeeffff00001111' }], skipped: [] };
    },
    maxBodyBytes: 256 * 1024,
  };
  server = createApiServer({ targets: {}, region: 'us-east-1', lookupSecret: () => undefined, authorize: () => {}, clock: systemClock, webhooks: deps });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  subscribe('berth:api:webhook', onPublish);
});

after(async () => {
  unsubscribe('berth:api:webhook', onPublish);
  await new Promise<void>((resolve) => {
    server?.close(() => resolve());
    server?.closeAllConnections();
  });
  await api?.close();
});

beforeEach(() => {
  gitPushes.length = 0;
  imagePushes.length = 0;
  deps.registryToken = REGISTRY_TOKEN;
});

/** A connection with a completed handshake, and its webhook as GetConnectionWebhook gives it. */
async function connectionWithWebhook(name: string, providerType = 'GITHUB'): Promise<{ arn: string; id: string; path: string; secret: string }> {
  const created = await api.call('CreateConnection', { ConnectionName: name, ProviderType: providerType });
  const arn = String((created.Connection as { ConnectionArn: string }).ConnectionArn);
  await api.call('Berth.CompleteConnectionHandshake', { ConnectionArn: arn, Credential: { Token: 'ghp_webhookTest0123456789' } });
  const webhook = await api.call('Berth.GetConnectionWebhook', { ConnectionArn: arn });
  return { arn, id: arn.slice(-32), path: String(webhook.WebhookPath), secret: String(webhook.Secret) };
}

function githubPayload(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ref: 'refs/heads/main',
    before: BEFORE,
    after: AFTER,
    created: false,
    deleted: false,
    forced: false,
    commits: [{ id: AFTER, message: 'Add the health endpoint', added: ['web/src/health.ts'], removed: [], modified: ['web/src/server.ts'] }],
    head_commit: { id: AFTER },
    repository: {
      full_name: 'octo-org/hello-web',
      html_url: 'https://github.com/octo-org/hello-web',
      url: 'https://github.com/octo-org/hello-web',
      git_url: 'git://github.com/octo-org/hello-web.git',
      ssh_url: 'git@github.com:octo-org/hello-web.git',
      clone_url: 'https://github.com/octo-org/hello-web.git',
    },
    pusher: { name: 'mona' },
    ...overrides,
  };
}

const sign = (body: string, secret: string): string => createHmac('sha256', secret).update(body).digest('hex');

async function post(path: string, body: string, headers: Record<string, string>, method = 'POST'): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const reply = await fetch(`${baseUrl}${path}`, { method, headers: { 'content-type': 'application/json', ...headers }, ...(method === 'POST' && { body }) });
  return { status: reply.status, json: (await reply.json()) as Record<string, unknown>, headers: reply.headers };
}

function githubPush(path: string, body: string, signature: string | undefined, event = 'push'): ReturnType<typeof post> {
  return post(path, body, {
    'user-agent': 'GitHub-Hookshot/5a2e1c9',
    'x-github-event': event,
    'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958',
    'x-github-hook-id': '292430182',
    ...(signature !== undefined && { 'x-hub-signature-256': signature }),
  });
}

describe('Berth.GetConnectionWebhook and Berth.RotateConnectionWebhookSecret', () => {
  test('every connection has a webhook path (its id) and a secret kept sealed, in no App Runner output', async () => {
    const created = await api.call('CreateConnection', { ConnectionName: 'hook-shape', ProviderType: 'GITLAB' });
    const arn = String((created.Connection as { ConnectionArn: string }).ConnectionArn);
    const webhook = await api.call('Berth.GetConnectionWebhook', { ConnectionArn: arn });
    assert.deepEqual(Object.keys(webhook).sort(), ['ConnectionArn', 'Secret', 'WebhookPath']);
    assert.equal(webhook.ConnectionArn, arn);
    assert.equal(webhook.WebhookPath, `/webhooks/git/${arn.slice(-32)}`);
    assert.match(String(webhook.Secret), /^[0-9a-f]{64}$/);
    // A pending connection has one too: the webhook can be set up before the handshake.
    assert.equal((await api.call('Berth.GetConnectionWebhook', { ConnectionArn: arn })).Secret, webhook.Secret, 'asking again gives the same secret');
    const secret = String(webhook.Secret);
    assert.ok(!JSON.stringify(created).includes(secret));
    assert.ok(!JSON.stringify(await api.call('ListConnections', {})).includes(secret));
    assert.ok(!api.dump().includes(secret), 'the webhook secret is stored in clear');

    const rotated = await api.call('Berth.RotateConnectionWebhookSecret', { ConnectionArn: arn });
    assert.equal(rotated.WebhookPath, webhook.WebhookPath);
    assert.match(String(rotated.Secret), /^[0-9a-f]{64}$/);
    assert.notEqual(rotated.Secret, secret);
    assert.equal((await api.call('Berth.GetConnectionWebhook', { ConnectionArn: arn })).Secret, rotated.Secret);
  });

  test('a deleted connection has no webhook', async () => {
    const { arn, path, secret } = await connectionWithWebhook('hook-deleted');
    await api.call('DeleteConnection', { ConnectionArn: arn });
    const error = await api.call('Berth.GetConnectionWebhook', { ConnectionArn: arn }).then(() => undefined, (e: unknown) => e as ApiError);
    assert.equal(error?.type, 'ResourceNotFoundException');
    const body = JSON.stringify(githubPayload());
    const reply = await githubPush(path, body, `sha256=${sign(body, secret)}`);
    assert.equal(reply.status, 404);
    assert.equal(reply.json.error, 'WebhookNotFound');
    assert.equal(gitPushes.length, 0);
  });

  test('a connection stored before webhooks existed gets its secret when first asked, by the API or by a push', async () => {
    const store = api.cp.store;
    const strip = (arn: string): void => {
      const record = store.getResource('connection', arn) as ConnectionRecord;
      const { webhookSecret: _dropped, ...data } = record.data;
      store.putResource({ ...record, data });
    };
    const first = await connectionWithWebhook('hook-legacy-api');
    strip(first.arn);
    const made = String((await api.call('Berth.GetConnectionWebhook', { ConnectionArn: first.arn })).Secret);
    assert.match(made, /^[0-9a-f]{64}$/);
    assert.notEqual(made, first.secret);
    const body = JSON.stringify(githubPayload());
    assert.equal((await githubPush(first.path, body, `sha256=${sign(body, made)}`)).status, 202);

    const second = await connectionWithWebhook('hook-legacy-push');
    strip(second.arn);
    // A push before anyone asked: refused (no sender could know the new secret), and the secret now exists.
    assert.equal((await githubPush(second.path, body, `sha256=${sign(body, second.secret)}`)).status, 401);
    const later = String((await api.call('Berth.GetConnectionWebhook', { ConnectionArn: second.arn })).Secret);
    assert.equal((await githubPush(second.path, body, `sha256=${sign(body, later)}`)).status, 202);
  });
});

describe('git push webhooks', () => {
  let hook: { arn: string; id: string; path: string; secret: string };

  before(async () => {
    hook = await connectionWithWebhook('hook-github');
  });

  test('a signed GitHub push reaches the deployer as a normalized push: 202 with its deployments', async () => {
    const body = JSON.stringify(githubPayload());
    const reply = await githubPush(hook.path, body, `sha256=${sign(body, hook.secret)}`);
    assert.equal(reply.status, 202, JSON.stringify(reply.json));
    assert.equal(reply.headers.get('content-type'), 'application/json');
    assert.deepEqual(reply.json, {
      message: `push to main at ${AFTER.slice(0, 12)}: 1 deployment started`,
      branch: 'main',
      commit: AFTER,
      deployments: [{ serviceArn: SERVICE_ARN, operationId: 'fedcba9876543210fedcba9876543210' }],
      skipped: [],
    });
    assert.deepEqual(gitPushes, [
      {
        connectionId: hook.id,
        push: {
          provider: 'github',
          repositoryUrls: ['https://github.com/octo-org/hello-web.git', 'git@github.com:octo-org/hello-web.git', 'git://github.com/octo-org/hello-web.git', 'https://github.com/octo-org/hello-web'],
          branch: 'main',
          commit: AFTER,
          changedPaths: ['web/src/health.ts', 'web/src/server.ts'],
        },
      },
    ]);
  });

  test('a push the deployer skips (outside the source directory) is 200 with the reasons', async () => {
    const body = JSON.stringify(githubPayload({ commits: [{ id: AFTER, added: [], removed: [], modified: ['docs/README.md'] }] }));
    const reply = await githubPush(hook.path, body, `sha256=${sign(body, hook.secret)}`);
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.json.deployments, []);
    assert.deepEqual(reply.json.skipped, [{ serviceArn: SERVICE_ARN, reason: "no changed file is under the source directory 'web'" }]);
    assert.deepEqual(gitPushes.map((p) => p.push.changedPaths), [['docs/README.md']]);
  });

  test('a wrong signature, a missing one, or a body changed after signing: 401 and nothing reaches the deployer', async () => {
    const body = JSON.stringify(githubPayload());
    const wrong = await githubPush(hook.path, body, `sha256=${sign(body, 'not the secret')}`);
    assert.equal(wrong.status, 401);
    assert.deepEqual(wrong.json, { error: 'WebhookSignatureMismatch', message: 'The signature does not match' });
    const tampered = await githubPush(hook.path, body.replace('refs/heads/main', 'refs/heads/prod'), `sha256=${sign(body, hook.secret)}`);
    assert.equal(tampered.status, 401);
    const garbage = await githubPush(hook.path, body, 'sha256=xyz');
    assert.equal(garbage.status, 401);
    const unsigned = await githubPush(hook.path, body, undefined);
    assert.equal(unsigned.status, 401);
    assert.equal(unsigned.json.error, 'WebhookUnsigned');
    assert.match(String(unsigned.json.message), /no X-Hub-Signature-256 header/);
    const gitlabStyle = await post(hook.path, body, { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': 'guess' });
    assert.equal(gitlabStyle.status, 401);
    assert.equal(gitPushes.length, 0);
  });

  test('after a rotation the old secret is refused and the new one accepted', async () => {
    const rotating = await connectionWithWebhook('hook-rotate');
    const body = JSON.stringify(githubPayload());
    assert.equal((await githubPush(rotating.path, body, `sha256=${sign(body, rotating.secret)}`)).status, 202);
    const { Secret: fresh } = await api.call('Berth.RotateConnectionWebhookSecret', { ConnectionArn: rotating.arn });
    assert.equal((await githubPush(rotating.path, body, `sha256=${sign(body, rotating.secret)}`)).status, 401);
    assert.equal((await githubPush(rotating.path, body, `sha256=${sign(body, String(fresh))}`)).status, 202);
    assert.equal(gitPushes.length, 2);
  });

  test('the secret of one connection does not open another', async () => {
    const other = await connectionWithWebhook('hook-other');
    const body = JSON.stringify(githubPayload());
    assert.equal((await githubPush(other.path, body, `sha256=${sign(body, hook.secret)}`)).status, 401);
    assert.equal(gitPushes.length, 0);
  });

  test('an unknown connection id, or a path that is no id: 404', async () => {
    const body = JSON.stringify(githubPayload());
    for (const path of ['/webhooks/git/0123456789abcdef0123456789abcdef', '/webhooks/git/hook-github', '/webhooks/git/', `/webhooks/git/${hook.id}/extra`]) {
      const reply = await githubPush(path, body, `sha256=${sign(body, hook.secret)}`);
      assert.equal(reply.status, 404, path);
      assert.equal(reply.json.error, 'WebhookNotFound', path);
    }
    assert.equal((await githubPush(`${hook.path}?source=github`, body, `sha256=${sign(body, hook.secret)}`)).status, 202, 'a query string is ignored');
  });

  test('GitLab (token header) and Gitea (hex signature) pushes are verified and normalized too', async () => {
    const gitlab = await connectionWithWebhook('hook-gitlab', 'GITLAB');
    const gitlabBody = JSON.stringify({
      object_kind: 'push', before: BEFORE, after: AFTER, ref: 'refs/heads/main', checkout_sha: AFTER, total_commits_count: 1,
      project: { web_url: 'https://gitlab.example.com/mike/diaspora', git_ssh_url: 'git@gitlab.example.com:mike/diaspora.git', git_http_url: 'https://gitlab.example.com/mike/diaspora.git' },
      commits: [{ id: AFTER, added: ['web/app.rb'], modified: [], removed: [] }],
    });
    const gitlabReply = await post(gitlab.path, gitlabBody, { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': gitlab.secret, 'x-gitlab-event-uuid': '13792a34-cac6-4fda-95a8-c58e00a3954e' });
    assert.equal(gitlabReply.status, 202, JSON.stringify(gitlabReply.json));
    assert.equal((await post(gitlab.path, gitlabBody, { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': hook.secret })).status, 401);

    const gitea = await connectionWithWebhook('hook-gitea', 'GITEA');
    const giteaBody = JSON.stringify({
      ref: 'refs/heads/develop', before: BEFORE, after: AFTER, total_commits: 1,
      repository: { html_url: 'https://gitea.example.com/team/shop', clone_url: 'https://gitea.example.com/team/shop.git', ssh_url: 'git@gitea.example.com:team/shop.git' },
      commits: [{ id: AFTER, added: [], modified: ['web/package.json'], removed: [] }],
    });
    const signature = sign(giteaBody, gitea.secret);
    const giteaReply = await post(gitea.path, giteaBody, { 'x-github-event': 'push', 'x-gitea-event': 'push', 'x-gogs-event': 'push', 'x-gitea-signature': signature, 'x-gogs-signature': signature, 'x-hub-signature-256': `sha256=${signature}` });
    assert.equal(giteaReply.status, 202, JSON.stringify(giteaReply.json));

    assert.deepEqual(gitPushes.map(({ connectionId, push }) => [connectionId, push.provider, push.branch, push.changedPaths]), [
      [gitlab.id, 'gitlab', 'main', ['web/app.rb']],
      [gitea.id, 'gitea', 'develop', ['web/package.json']],
    ]);
  });

  test('a ping and a tag push are answered 200 and deploy nothing; a request with no event header is 400', async () => {
    const ping = JSON.stringify({ zen: 'Design for failure.', hook_id: 292430182, hook: { type: 'Repository', events: ['push'] } });
    const pong = await githubPush(hook.path, ping, `sha256=${sign(ping, hook.secret)}`, 'ping');
    assert.equal(pong.status, 200);
    assert.match(String(pong.json.message), /^pong/);
    const tag = JSON.stringify(githubPayload({ ref: 'refs/tags/v1.2.0' }));
    const tagReply = await githubPush(hook.path, tag, `sha256=${sign(tag, hook.secret)}`);
    assert.equal(tagReply.status, 200);
    assert.equal(tagReply.json.message, "a tag push ('v1.2.0') deploys nothing: services follow a branch");
    const anonymous = await post(hook.path, tag, { 'x-hub-signature-256': `sha256=${sign(tag, hook.secret)}` });
    assert.equal(anonymous.status, 400);
    assert.equal(anonymous.json.error, 'WebhookUnknownSender');
    assert.equal(gitPushes.length, 0);
  });

  test('a signed body that is no push payload is 400 and says why', async () => {
    const body = '{"ref": "refs/heads/main"';
    const reply = await githubPush(hook.path, body, `sha256=${sign(body, hook.secret)}`);
    assert.equal(reply.status, 400);
    assert.equal(reply.json.error, 'WebhookMalformedPayload');
    assert.match(String(reply.json.message), /^The github push payload cannot be read: the payload is not valid JSON/);
  });

  test('a body over the limit is 413, and only POST is served', async () => {
    const body = JSON.stringify(githubPayload({ padding: 'x'.repeat(300 * 1024) }));
    const large = await githubPush(hook.path, body, `sha256=${sign(body, hook.secret)}`);
    assert.equal(large.status, 413);
    assert.equal(large.json.error, 'WebhookPayloadTooLarge');
    const get = await post(hook.path, '', {}, 'GET');
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
    assert.equal((await post('/webhooks/elsewhere', '{}', {})).status, 404);
    assert.equal(gitPushes.length, 0);
  });

  test('the API itself is still at POST /, untouched by the webhook routes', async () => {
    const reply = await post('/', '{}', { 'x-amz-target': 'AppRunner.ListServices' });
    assert.equal(reply.headers.get('x-amzn-errortype'), reply.json.__type);
    assert.equal(reply.json.__type, 'MissingAuthenticationTokenException');
  });
});

describe('registry notifications', () => {
  const DIGEST = 'sha256:fc5be32ea5e0d03d4e2e7d3d3c8a5c2b31e63e3cc1ab13cd7a1f52a3d9fd5ec4';
  const envelope = (mediaType: string, tag?: string): string =>
    JSON.stringify({
      events: [
        {
          id: '320678d8-ca14-430f-8bb6-4ca139cd83f7',
          timestamp: '2024-05-02T10:11:12.123456789Z',
          action: 'push',
          target: { mediaType, size: 708, digest: DIGEST, length: 708, repository: 'team/web', url: `http://registry.example.com:5000/v2/team/web/${mediaType === 'application/octet-stream' ? 'blobs' : 'manifests'}/${DIGEST}`, ...(tag !== undefined && { tag }) },
          request: { id: '6df24a34-0959-4923-81ca-14f09767db19', addr: '192.0.2.10:57318', host: 'registry.example.com:5000', method: 'PUT', useragent: 'containerd/2.0' },
          actor: {},
          source: { addr: 'registry:5000', instanceID: '9ce2a35b-4ff4-4a4a-8d2e-0c7eb0d0a6b5' },
        },
      ],
    });
  const notify = (body: string, authorization?: string): ReturnType<typeof post> =>
    post('/webhooks/registry', body, { 'content-type': 'application/vnd.docker.distribution.events.v1+json', 'user-agent': 'Go-http-client/1.1', ...(authorization !== undefined && { authorization }) });

  test('with the bearer token, a manifest push reaches the deployer: 202', async () => {
    const reply = await notify(envelope('application/vnd.oci.image.manifest.v1+json', '1.4'), `Bearer ${REGISTRY_TOKEN}`);
    assert.equal(reply.status, 202, JSON.stringify(reply.json));
    assert.deepEqual(imagePushes, [[{ registryHost: 'registry.example.com:5000', repository: 'team/web', tag: '1.4', digest: DIGEST }]]);
  });

  test('without the token, or with another one: 401 and nothing reaches the deployer', async () => {
    const body = envelope('application/vnd.oci.image.manifest.v1+json', '1.4');
    const none = await notify(body);
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer');
    assert.equal((await notify(body, 'Bearer not-the-token')).status, 401);
    assert.equal((await notify(body, `Basic ${Buffer.from(`x:${REGISTRY_TOKEN}`).toString('base64')}`)).status, 401);
    assert.equal(imagePushes.length, 0);
  });

  test('a notification of blob pushes only is 200 and deploys nothing', async () => {
    const reply = await notify(envelope('application/octet-stream'), `Bearer ${REGISTRY_TOKEN}`);
    assert.equal(reply.status, 200);
    assert.equal(imagePushes.length, 0);
  });

  test('with no token configured, every notification is refused', async () => {
    deps.registryToken = undefined;
    const reply = await notify(envelope('application/vnd.oci.image.manifest.v1+json', '1.4'), `Bearer ${REGISTRY_TOKEN}`);
    assert.equal(reply.status, 404);
    assert.equal(reply.json.error, 'WebhookNotEnabled');
    assert.equal(imagePushes.length, 0);
  });
});

test('the diagnostics channel never carries a secret or a body', () => {
  assert.ok(published.length > 10, `only ${published.length} messages`);
  const all = published.join('\n');
  assert.ok(!all.includes(REGISTRY_TOKEN));
  assert.ok(!all.includes('octo-org/hello-web'), 'a payload reached the channel');
  assert.ok(!/[0-9a-f]{64}/.test(all), 'something shaped like a webhook secret reached the channel');
  assert.ok(published.some((m) => m.includes('"status":202') && m.includes('"provider":"github"')));
});

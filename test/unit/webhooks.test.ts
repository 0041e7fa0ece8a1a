/**
 * Push webhooks and registry notifications (core/webhooks.ts): each provider's signature,
 * good, wrong and missing; push payloads shaped like the ones GitHub, GitLab and Gitea send;
 * the pushes that deploy nothing; commit lists that cannot tell which files changed; and the
 * distribution registry's notification envelope.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import {
  gitSender,
  gitWebhookPath,
  parseGitWebhook,
  parseRegistryNotification,
  REGISTRY_EVENTS_MEDIA_TYPE,
  sameSecret,
  verifyGitSignature,
  type GitPush,
  type GitSender,
  type WebhookHeaders,
} from '../../src/core/webhooks.ts';

const SECRET = 'b6f3a1c09e8d47f2a5c3e1d0f9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0';
const BEFORE = '6113728f27ae82c7b1a177c8d03f9e96e0adf246';
const AFTER = '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c';
const SECOND = '7e8a1f9c2b3d4e5f60718293a4b5c6d7e8f90a1b';
const ZERO = '0000000000000000000000000000000000000000';

const hmac = (body: string | Buffer, secret = SECRET): string => createHmac('sha256', secret).update(body).digest('hex');
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

/** A GitHub push event, as GitHub delivers it (trimmed of members Berth does not read). */
function githubPush(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ref: 'refs/heads/main',
    before: BEFORE,
    after: AFTER,
    created: false,
    deleted: false,
    forced: false,
    base_ref: null,
    compare: `https://github.com/octo-org/hello-web/compare/${BEFORE.slice(0, 12)}...${AFTER.slice(0, 12)}`,
    commits: [
      {
        id: SECOND,
        tree_id: 'f9d2a07e9488b91af2641b26b9407fe22a451433',
        distinct: true,
        message: 'Add the health endpoint',
        timestamp: '2024-05-02T10:11:12+02:00',
        url: `https://github.com/octo-org/hello-web/commit/${SECOND}`,
        author: { name: 'Mona Octocat', email: 'mona@example.com', username: 'mona' },
        committer: { name: 'Mona Octocat', email: 'mona@example.com', username: 'mona' },
        added: ['web/src/health.ts'],
        removed: [],
        modified: ['web/src/server.ts', 'README.md'],
      },
      {
        id: AFTER,
        tree_id: '1b2a07e9488b91af2641b26b9407fe22a451433f',
        distinct: true,
        message: 'Drop the old handler',
        timestamp: '2024-05-02T10:15:00+02:00',
        url: `https://github.com/octo-org/hello-web/commit/${AFTER}`,
        author: { name: 'Mona Octocat', email: 'mona@example.com', username: 'mona' },
        committer: { name: 'GitHub', email: 'noreply@github.com', username: 'web-flow' },
        added: [],
        removed: ['web/src/legacy.ts'],
        modified: ['web/src/server.ts'],
      },
    ],
    head_commit: { id: AFTER, message: 'Drop the old handler' },
    repository: {
      id: 35129377,
      node_id: 'MDEwOlJlcG9zaXRvcnkzNTEyOTM3Nw==',
      name: 'hello-web',
      full_name: 'octo-org/hello-web',
      private: true,
      owner: { name: 'octo-org', login: 'octo-org' },
      html_url: 'https://github.com/octo-org/hello-web',
      url: 'https://github.com/octo-org/hello-web',
      git_url: 'git://github.com/octo-org/hello-web.git',
      ssh_url: 'git@github.com:octo-org/hello-web.git',
      clone_url: 'https://github.com/octo-org/hello-web.git',
      svn_url: 'https://github.com/octo-org/hello-web',
      default_branch: 'main',
      master_branch: 'main',
    },
    pusher: { name: 'mona', email: 'mona@example.com' },
    sender: { login: 'mona', id: 583231, type: 'User' },
    ...overrides,
  };
}

/** A GitLab push hook, as GitLab delivers it (trimmed). */
function gitlabPush(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    object_kind: 'push',
    event_name: 'push',
    before: BEFORE,
    after: AFTER,
    ref: 'refs/heads/main',
    ref_protected: true,
    checkout_sha: AFTER,
    user_id: 4,
    user_name: 'John Smith',
    user_username: 'jsmith',
    project_id: 15,
    project: {
      id: 15,
      name: 'Diaspora',
      web_url: 'https://gitlab.example.com/mike/diaspora',
      git_ssh_url: 'git@gitlab.example.com:mike/diaspora.git',
      git_http_url: 'https://gitlab.example.com/mike/diaspora.git',
      namespace: 'Mike',
      path_with_namespace: 'mike/diaspora',
      default_branch: 'main',
      homepage: 'https://gitlab.example.com/mike/diaspora',
      url: 'git@gitlab.example.com:mike/diaspora.git',
      ssh_url: 'git@gitlab.example.com:mike/diaspora.git',
      http_url: 'https://gitlab.example.com/mike/diaspora.git',
    },
    commits: [
      {
        id: AFTER,
        message: 'Update the API docs\n',
        title: 'Update the API docs',
        timestamp: '2024-05-02T10:11:12+02:00',
        url: `https://gitlab.example.com/mike/diaspora/-/commit/${AFTER}`,
        author: { name: 'Jordi Mallach', email: 'jordi@example.com' },
        added: ['api/CHANGELOG'],
        modified: ['api/app/controller/application.rb'],
        removed: [],
      },
    ],
    total_commits_count: 1,
    repository: {
      name: 'Diaspora',
      url: 'git@gitlab.example.com:mike/diaspora.git',
      description: '',
      homepage: 'https://gitlab.example.com/mike/diaspora',
      git_http_url: 'https://gitlab.example.com/mike/diaspora.git',
      git_ssh_url: 'git@gitlab.example.com:mike/diaspora.git',
      visibility_level: 0,
    },
    ...overrides,
  };
}

/** A Gitea push event (Forgejo's is the same), as Gitea delivers it (trimmed). */
function giteaPush(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ref: 'refs/heads/develop',
    before: BEFORE,
    after: AFTER,
    compare_url: `https://gitea.example.com/team/shop/compare/${BEFORE}...${AFTER}`,
    commits: [
      {
        id: AFTER,
        message: 'Bump the checkout service\n',
        url: `https://gitea.example.com/team/shop/commit/${AFTER}`,
        author: { name: 'Ana', email: 'ana@example.com', username: 'ana' },
        committer: { name: 'Ana', email: 'ana@example.com', username: 'ana' },
        verification: null,
        timestamp: '2024-05-02T10:11:12+02:00',
        added: [],
        removed: [],
        modified: ['services/checkout/package.json'],
      },
    ],
    total_commits: 1,
    head_commit: { id: AFTER },
    repository: {
      id: 7,
      name: 'shop',
      full_name: 'team/shop',
      html_url: 'https://gitea.example.com/team/shop',
      url: 'https://gitea.example.com/api/v1/repos/team/shop',
      ssh_url: 'ssh://git@gitea.example.com:2222/team/shop.git',
      clone_url: 'https://gitea.example.com/team/shop.git',
      default_branch: 'main',
    },
    pusher: { login: 'ana' },
    sender: { login: 'ana' },
    ...overrides,
  };
}

const GITHUB: GitSender = { provider: 'github', event: 'push' };
const GITLAB: GitSender = { provider: 'gitlab', event: 'Push Hook' };
const GITEA: GitSender = { provider: 'gitea', event: 'push' };

function push(sender: GitSender, body: Buffer, contentType = 'application/json'): GitPush {
  const event = parseGitWebhook(sender, contentType, body);
  assert.equal(event.kind, 'push', JSON.stringify(event));
  return (event as { push: GitPush }).push;
}

function outcome(sender: GitSender, payload: unknown): { kind: string; reason?: string } {
  return parseGitWebhook(sender, 'application/json', json(payload)) as { kind: string; reason?: string };
}

describe('who sent a webhook', () => {
  test('the event header names the provider; Gitea is recognised although it sends X-GitHub-Event too', () => {
    assert.deepEqual(gitSender({ 'x-github-event': 'push' }), { provider: 'github', event: 'push' });
    assert.deepEqual(gitSender({ 'x-gitlab-event': 'Push Hook' }), { provider: 'gitlab', event: 'Push Hook' });
    assert.deepEqual(gitSender({ 'x-github-event': 'push', 'x-gitea-event': 'push', 'x-gogs-event': 'push' }), { provider: 'gitea', event: 'push' });
    assert.deepEqual(gitSender({ 'x-forgejo-event': 'push', 'x-gitea-event': 'push' }), { provider: 'gitea', event: 'push' });
    assert.deepEqual(gitSender({ 'x-gogs-event': 'push' }), { provider: 'gitea', event: 'push' });
    assert.equal(gitSender({ 'content-type': 'application/json' }), undefined);
  });

  test('a webhook path names the connection by its id', () => {
    assert.equal(gitWebhookPath('0123456789abcdef0123456789abcdef'), '/webhooks/git/0123456789abcdef0123456789abcdef');
  });
});

describe('signatures', () => {
  const body = json(githubPush());
  const check = (sender: GitSender, headers: WebhookHeaders, payload = body): ReturnType<typeof verifyGitSignature> => verifyGitSignature(sender, headers, payload, SECRET);

  test('GitHub: sha256=<hex HMAC> of the raw body', () => {
    assert.deepEqual(check(GITHUB, { 'x-hub-signature-256': `sha256=${hmac(body)}` }), { ok: true });
    assert.deepEqual(check(GITHUB, { 'x-hub-signature-256': `sha256=${hmac(body).toUpperCase()}` }), { ok: true }, 'hex in upper case');
    assert.deepEqual(check(GITHUB, { 'x-hub-signature-256': `sha256=${hmac(body, 'another secret')}` }), { ok: false, problem: 'mismatch' });
    assert.deepEqual(check(GITHUB, { 'x-hub-signature-256': hmac(body) }), { ok: false, problem: 'mismatch' }, 'without the sha256= prefix');
    assert.deepEqual(check(GITHUB, { 'x-hub-signature-256': `sha256=${hmac(body).slice(0, 40)}` }), { ok: false, problem: 'mismatch' }, 'cut short');
    assert.deepEqual(check(GITHUB, { 'x-hub-signature-256': 'sha256=' }), { ok: false, problem: 'mismatch' });
    assert.deepEqual(check(GITHUB, { 'x-hub-signature-256': `sha256=${hmac(body)}` }, Buffer.concat([body, Buffer.from(' ')])), { ok: false, problem: 'mismatch' }, 'a body changed after signing');
    // The SHA-1 signature GitHub also sends is not enough on its own.
    const sha1 = createHmac('sha1', SECRET).update(body).digest('hex');
    assert.deepEqual(check(GITHUB, { 'x-hub-signature': `sha1=${sha1}` }), { ok: false, problem: 'unsigned', expected: 'X-Hub-Signature-256' });
    assert.deepEqual(check(GITHUB, {}), { ok: false, problem: 'unsigned', expected: 'X-Hub-Signature-256' });
  });

  test('Gitea, Forgejo and Gogs: the hex HMAC without a prefix; every signature sent must match', () => {
    const good = hmac(body);
    for (const name of ['x-gitea-signature', 'x-forgejo-signature', 'x-gogs-signature']) {
      assert.deepEqual(check(GITEA, { [name]: good }), { ok: true }, name);
      assert.deepEqual(check(GITEA, { [name]: hmac(body, 'wrong') }), { ok: false, problem: 'mismatch' }, name);
      assert.deepEqual(check(GITEA, { [name]: `sha256=${good}` }), { ok: false, problem: 'mismatch' }, `${name} with a prefix`);
    }
    // What Gitea sends: all of them at once.
    assert.deepEqual(check(GITEA, { 'x-gitea-signature': good, 'x-gogs-signature': good, 'x-hub-signature-256': `sha256=${good}` }), { ok: true });
    assert.deepEqual(check(GITEA, { 'x-gitea-signature': good, 'x-gogs-signature': hmac(body, 'wrong') }), { ok: false, problem: 'mismatch' }, 'one right signature does not vouch for a wrong one');
    assert.deepEqual(check(GITEA, { 'x-hub-signature-256': `sha256=${good}` }), { ok: true }, 'the GitHub-style header alone');
    assert.deepEqual(check(GITEA, {}), { ok: false, problem: 'unsigned', expected: 'X-Gitea-Signature' });
  });

  test('GitLab: X-Gitlab-Token is the secret itself', () => {
    assert.deepEqual(check(GITLAB, { 'x-gitlab-token': SECRET }), { ok: true });
    assert.deepEqual(check(GITLAB, { 'x-gitlab-token': SECRET.slice(0, -1) }), { ok: false, problem: 'mismatch' });
    assert.deepEqual(check(GITLAB, { 'x-gitlab-token': `${SECRET}0` }), { ok: false, problem: 'mismatch' });
    assert.deepEqual(check(GITLAB, { 'x-gitlab-token': '' }), { ok: false, problem: 'mismatch' });
    assert.deepEqual(check(GITLAB, { 'x-hub-signature-256': `sha256=${hmac(body)}` }), { ok: false, problem: 'unsigned', expected: 'X-Gitlab-Token' });
  });

  test('secrets of different lengths compare without throwing', () => {
    assert.equal(sameSecret('a', 'a much longer secret'), false);
    assert.equal(sameSecret('', ''), true);
    assert.equal(sameSecret('é', 'é'), true);
  });
});

describe('GitHub push payloads', () => {
  test('a push to a branch: every clone URL, the branch, the commit, and the files its commits touched', () => {
    assert.deepEqual(push(GITHUB, json(githubPush())), {
      provider: 'github',
      repositoryUrls: [
        'https://github.com/octo-org/hello-web.git',
        'git@github.com:octo-org/hello-web.git',
        'git://github.com/octo-org/hello-web.git',
        'https://github.com/octo-org/hello-web',
      ],
      branch: 'main',
      commit: AFTER,
      changedPaths: ['README.md', 'web/src/health.ts', 'web/src/legacy.ts', 'web/src/server.ts'],
    });
  });

  test('the form-encoded delivery reads the same as JSON', () => {
    const form = Buffer.from(new URLSearchParams({ payload: JSON.stringify(githubPush()) }).toString());
    assert.deepEqual(push(GITHUB, form, 'application/x-www-form-urlencoded'), push(GITHUB, json(githubPush())));
    assert.equal(parseGitWebhook(GITHUB, 'application/x-www-form-urlencoded', Buffer.from('other=1')).kind, 'malformed');
  });

  test('a branch name with slashes keeps them', () => {
    assert.equal(push(GITHUB, json(githubPush({ ref: 'refs/heads/feature/login-form' }))).branch, 'feature/login-form');
  });

  test('a ping is answered as a ping', () => {
    assert.equal(parseGitWebhook({ provider: 'github', event: 'ping' }, 'application/json', json({ zen: 'Keep it logically awesome.', hook_id: 1 })).kind, 'ping');
  });

  test('a tag push, a branch deletion and other events deploy nothing, each with its reason', () => {
    assert.deepEqual(outcome(GITHUB, githubPush({ ref: 'refs/tags/v1.4.0' })), { kind: 'ignored', reason: "a tag push ('v1.4.0') deploys nothing: services follow a branch" });
    assert.deepEqual(outcome(GITHUB, githubPush({ after: ZERO, deleted: true, commits: [], head_commit: null })), { kind: 'ignored', reason: "the branch 'main' was deleted; nothing to deploy" });
    assert.equal(outcome(GITHUB, githubPush({ ref: 'refs/notes/commits' })).kind, 'ignored');
    assert.match(outcome({ provider: 'github', event: 'pull_request' }, {}).reason ?? '', /the event 'pull_request' deploys nothing; Berth acts on 'push' events only/);
  });

  test('changedPaths is undefined when the payload cannot list every changed file', () => {
    const commit = (githubPush().commits as Record<string, unknown>[])[0] as Record<string, unknown>;
    const many = Array.from({ length: 20 }, () => commit);
    assert.equal(push(GITHUB, json(githubPush({ commits: many }))).changedPaths, undefined, '20 commits: possibly cut short');
    assert.deepEqual(push(GITHUB, json(githubPush({ commits: many.slice(0, 19) }))).changedPaths, ['README.md', 'web/src/health.ts', 'web/src/server.ts'], '19 commits');
    assert.equal(push(GITHUB, json(githubPush({ created: true, before: ZERO }))).changedPaths, undefined, 'a new branch');
    assert.equal(push(GITHUB, json(githubPush({ forced: true }))).changedPaths, undefined, 'a forced push');
    assert.equal(push(GITHUB, json(githubPush({ commits: [] }))).changedPaths, undefined, 'the branch moved to a commit that was already elsewhere');
    const { added: _added, ...withoutFiles } = commit;
    assert.equal(push(GITHUB, json(githubPush({ commits: [withoutFiles] }))).changedPaths, undefined, 'a commit that does not list its files');
    const huge = { ...commit, modified: Array.from({ length: 3000 }, (_, i) => `assets/${i}.png`) };
    assert.equal(push(GITHUB, json(githubPush({ commits: [huge] }))).changedPaths, undefined, 'a file list at GitHub\'s cap');
  });

  test('malformed payloads say what is wrong', () => {
    const reason = (body: Buffer): string => {
      const event = parseGitWebhook(GITHUB, 'application/json', body);
      assert.equal(event.kind, 'malformed');
      return (event as { reason: string }).reason;
    };
    assert.match(reason(Buffer.from('{"ref": ')), /not valid JSON/);
    assert.match(reason(Buffer.from('[1, 2]')), /must be a JSON object/);
    assert.match(reason(json(githubPush({ ref: undefined }))), /there is no 'ref'/);
    assert.match(reason(json(githubPush({ after: 'HEAD' }))), /'after' is not a commit id/);
    assert.match(reason(json(githubPush({ repository: undefined }))), /no 'repository' object/);
    assert.match(reason(json(githubPush({ repository: { name: 'x' } }))), /gives no clone_url, ssh_url or html_url/);
    assert.match(reason(json(githubPush({ commits: 'many' }))), /'commits' is not a list/);
    assert.match(reason(json(githubPush({ commits: [{ id: AFTER, added: [1], removed: [], modified: [] }] }))), /'commits\[0\]' has an added, modified or removed list that is not a list of paths/);
  });
});

describe('GitLab push hooks', () => {
  test('a push hook: project and repository URLs, checkout_sha, and the files changed', () => {
    assert.deepEqual(push(GITLAB, json(gitlabPush())), {
      provider: 'gitlab',
      repositoryUrls: [
        'https://gitlab.example.com/mike/diaspora.git',
        'git@gitlab.example.com:mike/diaspora.git',
        'https://gitlab.example.com/mike/diaspora',
      ],
      branch: 'main',
      commit: AFTER,
      changedPaths: ['api/CHANGELOG', 'api/app/controller/application.rb'],
    });
  });

  test('more commits than listed (GitLab lists 20): changedPaths is undefined', () => {
    assert.equal(push(GITLAB, json(gitlabPush({ total_commits_count: 21 }))).changedPaths, undefined);
    assert.equal(push(GITLAB, json(gitlabPush({ total_commits_count: undefined }))).changedPaths, undefined, 'no count at all');
    assert.equal(push(GITLAB, json(gitlabPush({ before: ZERO }))).changedPaths, undefined, 'a new branch');
  });

  test('tag pushes and branch deletions deploy nothing', () => {
    assert.deepEqual(outcome({ provider: 'gitlab', event: 'Tag Push Hook' }, gitlabPush({ object_kind: 'tag_push', ref: 'refs/tags/v1.0.0' })), { kind: 'ignored', reason: 'a tag push deploys nothing: services follow a branch' });
    assert.deepEqual(outcome(GITLAB, gitlabPush({ after: ZERO, checkout_sha: null, commits: [], total_commits_count: 0 })), { kind: 'ignored', reason: "the branch 'main' was deleted; nothing to deploy" });
    assert.match(outcome({ provider: 'gitlab', event: 'Merge Request Hook' }, {}).reason ?? '', /the event 'Merge Request Hook' deploys nothing; Berth acts on 'Push Hook' events only/);
  });

  test('a push hook whose object_kind is not push is malformed', () => {
    assert.deepEqual(outcome(GITLAB, gitlabPush({ object_kind: 'issue' })), { kind: 'malformed', reason: "'object_kind' is 'issue', not 'push'" });
  });
});

describe('Gitea push events', () => {
  test('a push event: clone, ssh and web URLs (not the API url), and the files changed', () => {
    assert.deepEqual(push(GITEA, json(giteaPush())), {
      provider: 'gitea',
      repositoryUrls: [
        'https://gitea.example.com/team/shop.git',
        'ssh://git@gitea.example.com:2222/team/shop.git',
        'https://gitea.example.com/team/shop',
      ],
      branch: 'develop',
      commit: AFTER,
      changedPaths: ['services/checkout/package.json'],
    });
  });

  test('Gitea lists a few commits and counts them all in total_commits; without the count nothing is known', () => {
    assert.equal(push(GITEA, json(giteaPush({ total_commits: 6 }))).changedPaths, undefined);
    assert.equal(push(GITEA, json(giteaPush({ total_commits: undefined }))).changedPaths, undefined, 'Gogs and old Gitea send no count');
  });

  test('tag pushes and deleted branches deploy nothing', () => {
    assert.equal(outcome(GITEA, giteaPush({ ref: 'refs/tags/v2' })).kind, 'ignored');
    assert.equal(outcome(GITEA, giteaPush({ after: ZERO })).kind, 'ignored');
    assert.equal(outcome({ provider: 'gitea', event: 'create' }, {}).kind, 'ignored');
  });
});

describe('registry notifications', () => {
  const DIGEST = 'sha256:fc5be32ea5e0d03d4e2e7d3d3c8a5c2b31e63e3cc1ab13cd7a1f52a3d9fd5ec4';
  const LAYER = 'sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9';
  const event = (action: string, target: Record<string, unknown>, request: Record<string, unknown> = { host: 'registry.example.com:5000' }): Record<string, unknown> => ({
    id: 'asdf-asdf-asdf-asdf-0',
    timestamp: '2024-05-02T10:11:12.123456789Z',
    action,
    target,
    request: { id: 'asdfasdf', addr: '192.0.2.10:38312', method: 'PUT', useragent: 'docker/26.1', ...request },
    actor: { name: 'ci' },
    source: { addr: 'registry-1:5000', instanceID: 'a53db899-3b4b-4a62-a067-8dd013beaca4' },
  });
  const manifest = (tag?: string): Record<string, unknown> => ({
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    size: 1042,
    digest: DIGEST,
    length: 1042,
    repository: 'team/web',
    url: `https://registry.example.com:5000/v2/team/web/manifests/${DIGEST}`,
    ...(tag !== undefined && { tag }),
  });
  const blob = { mediaType: 'application/octet-stream', size: 32654, digest: LAYER, length: 32654, repository: 'team/web', url: `https://registry.example.com:5000/v2/team/web/blobs/${LAYER}` };
  const parse = (envelope: unknown, contentType = REGISTRY_EVENTS_MEDIA_TYPE): ReturnType<typeof parseRegistryNotification> => parseRegistryNotification(contentType, json(envelope));

  test('manifest pushes are kept, blob pushes and pulls are skipped', () => {
    const result = parse({ events: [event('push', blob), event('push', manifest('1.4')), event('pull', manifest('1.4')), event('push', manifest())] });
    assert.equal(result.kind, 'pushes');
    assert.deepEqual((result as { pushes: unknown }).pushes, [
      { registryHost: 'registry.example.com:5000', repository: 'team/web', tag: '1.4', digest: DIGEST },
      { registryHost: 'registry.example.com:5000', repository: 'team/web', tag: undefined, digest: DIGEST },
    ]);
    assert.deepEqual((result as { skipped: string[] }).skipped, ["events[0]: a blob ('application/octet-stream'), not a manifest", "events[2]: the action is 'pull', not 'push'"]);
  });

  test('Docker manifest lists count as manifests; the host comes from the URL when the request has none', () => {
    const list = { ...manifest('latest'), mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json' };
    const result = parse({ events: [event('push', list, { host: undefined })] }, 'application/json');
    assert.deepEqual((result as { pushes: unknown }).pushes, [{ registryHost: 'registry.example.com:5000', repository: 'team/web', tag: 'latest', digest: DIGEST }]);
  });

  test('an unreadable event is skipped, not the whole delivery (the registry would retry it for ever)', () => {
    const result = parse({ events: [event('push', { ...manifest('1'), repository: 'Team/Web' }), event('push', { ...manifest('1'), digest: 'latest' }), 'x', event('push', manifest('2'))] });
    assert.equal((result as { pushes: unknown[] }).pushes.length, 1);
    assert.equal((result as { skipped: string[] }).skipped.length, 3);
  });

  test('an envelope that is no envelope is malformed', () => {
    assert.equal(parse({ event: [] }).kind, 'malformed');
    assert.equal(parseRegistryNotification(REGISTRY_EVENTS_MEDIA_TYPE, Buffer.from('{')).kind, 'malformed');
    assert.match((parse({ events: [] }, 'text/plain') as { reason: string }).reason, /content type is 'text\/plain'; registry notifications are application\/vnd\.docker\.distribution\.events\.v1\+json/);
    assert.deepEqual(parse({ events: [] }), { kind: 'pushes', pushes: [], skipped: [] });
  });
});

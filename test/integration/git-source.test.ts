/**
 * The git source adapter against real servers: `git http-backend` behind a Node HTTP server
 * demanding a token, and OpenSSH's sshd with a deploy key and a pinned host key. Repositories
 * are made with real git commands. What `ps` could show of each git process (its arguments,
 * its environment variable names) is observed through the `berth:git:spawn` diagnostics channel.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { fetchSource, lsRemoteBranch, type GitSpawnEvent } from '../../src/adapters/git/git-source.ts';
import { parseGitUrl } from '../../src/core/git-url.ts';
import { scrubbedTail, SourceFetchError, type SourceFetchReason } from '../../src/adapters/git/source-fetch-error.ts';
import { BerthError } from '../../src/core/errors.ts';
import { startGitHttpServer } from '../support/git-http-server.ts';
import { startSshGitServer } from '../support/ssh-git-server.ts';

const exec = promisify(execFile);

/** git for building fixtures, isolated from the host's configuration. */
async function git(cwd: string, ...args: string[]): Promise<string> {
  const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: cwd, GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' };
  return (await exec('git', args, { cwd, env })).stdout.trim();
}

function rejectsWith(reason: SourceFetchReason, check?: (e: SourceFetchError) => void): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof SourceFetchError, `expected SourceFetchError, got ${String(e)}`);
    assert.equal(e.reason, reason, e.message);
    check?.(e);
    return true;
  };
}

function invalidRequest(pattern: RegExp): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof BerthError, `expected BerthError, got ${String(e)}`);
    assert.equal(e.code, 'InvalidRequestException');
    assert.match(e.message, pattern);
    return true;
  };
}

test('git source adapter over HTTP and SSH', { timeout: 120_000 }, async (t) => {
  const root = await realpath(await mkdtemp(join(tmpdir(), 'berth-git-test-')));
  t.after(() => rm(root, { recursive: true, force: true }));
  const token = `tok_${randomBytes(12).toString('hex')}`;
  const basic = Buffer.from(`x-access-token:${token}`).toString('base64');

  // The served repository: main (monorepo with two services, a large blob, a symlink leading
  // outside, a plain file) and feature.
  const projects = join(root, 'projects');
  const bare = join(projects, 'app.git');
  const src = join(root, 'src');
  await mkdir(projects);
  await mkdir(join(src, 'services', 'api'), { recursive: true });
  await mkdir(join(src, 'services', 'web'), { recursive: true });
  await git(root, 'init', '--quiet', '--bare', bare);
  await git(root, 'init', '--quiet', '-b', 'main', src);
  await writeFile(join(src, 'README'), 'berth test repository\n');
  await writeFile(join(src, 'services', 'api', 'index.js'), 'api v1\n');
  await writeFile(join(src, 'services', 'web', 'index.js'), 'web v1\n');
  await writeFile(join(src, 'big.bin'), randomBytes(300_000));
  await symlink('/etc', join(src, 'escape'));
  await symlink('../services/api', join(src, 'services', 'api-link'));
  await git(src, 'add', '-A');
  await git(src, 'commit', '--quiet', '-m', 'first');
  await git(src, 'checkout', '--quiet', '-b', 'feature');
  await writeFile(join(src, 'FEATURE'), 'feature\n');
  await git(src, 'add', '-A');
  await git(src, 'commit', '--quiet', '-m', 'feature');
  await git(src, 'checkout', '--quiet', 'main');
  await git(src, 'push', '--quiet', bare, 'main', 'feature');
  const mainV1 = await git(src, 'rev-parse', 'main');
  const featureCommit = await git(src, 'rev-parse', 'feature');

  const server = await startGitHttpServer({ projectRoot: projects, token });
  t.after(() => server.stop());
  const url = `${server.url}/app.git`;
  const credential = { type: 'TOKEN', token } as const;
  const cacheDir = join(root, 'cache');
  let work = 0;
  const workDir = (): string => join(root, 'work', String(++work));

  // Every git process Berth starts, as `ps` could see it.
  const spawned: GitSpawnEvent[] = [];
  const onSpawn = (message: unknown): void => void spawned.push(message as GitSpawnEvent);
  subscribe('berth:git:spawn', onSpawn);
  t.after(() => unsubscribe('berth:git:spawn', onSpawn));
  const sessionsBefore = new Set((await readdir(tmpdir())).filter((n) => n.startsWith('berth-git-') && !n.startsWith('berth-git-test-')));

  await t.test('fetches a branch with a token and returns its commit', async () => {
    const dir = workDir();
    const fetched = await fetchSource({ repositoryUrl: url, branch: 'main', credential, cacheDir, workDir: dir });
    assert.equal(fetched.commit, mainV1);
    assert.equal(fetched.directory, dir);
    assert.equal(await readFile(join(dir, 'services', 'api', 'index.js'), 'utf8'), 'api v1\n');
    assert.ok(server.requests.some((r) => r.authorized && r.method === 'POST'), 'the pack was served to an authorized request');
  });

  await t.test('lsRemoteBranch matches the fetched commits without fetching', async () => {
    const before = server.requests.filter((r) => r.method === 'POST').length;
    assert.equal(await lsRemoteBranch({ repositoryUrl: url, branch: 'main', credential }), mainV1);
    assert.equal(await lsRemoteBranch({ repositoryUrl: url, branch: 'feature', credential }), featureCommit);
    const fetched = await fetchSource({ repositoryUrl: url, branch: 'feature', credential, cacheDir, workDir: workDir() });
    assert.equal(fetched.commit, featureCommit);
    assert.ok(server.requests.filter((r) => r.method === 'POST').length > before);
  });

  await t.test('a second fetch after a new commit reuses the cache and downloads only the change', async () => {
    const caches = await readdir(cacheDir);
    assert.equal(caches.length, 1, 'one bare cache per repository');
    const cache = join(cacheDir, caches[0] ?? '');
    await writeFile(join(cache, 'berth-test-sentinel'), '');
    await writeFile(join(src, 'services', 'api', 'index.js'), 'api v2\n');
    await git(src, 'commit', '--quiet', '-am', 'second');
    await git(src, 'push', '--quiet', bare, 'main');
    const mainV2 = await git(src, 'rev-parse', 'main');
    const firstServed = server.requests.length;
    const dir = workDir();
    const fetched = await fetchSource({ repositoryUrl: url, branch: 'main', credential, cacheDir, workDir: dir });
    assert.equal(fetched.commit, mainV2);
    assert.notEqual(mainV2, mainV1);
    assert.equal(await readFile(join(dir, 'services', 'api', 'index.js'), 'utf8'), 'api v2\n');
    assert.deepEqual(await readdir(cacheDir), caches);
    await readFile(join(cache, 'berth-test-sentinel')); // the cache was not recreated
    const packBytes = server.requests.slice(firstServed).filter((r) => r.method === 'POST').reduce((n, r) => n + r.responseBytes, 0);
    assert.ok(packBytes < 50_000, `the 300 kB blob already cached was not sent again (served ${packBytes} bytes)`);
  });

  await t.test('a wrong token is refused, and no secret reaches arguments or messages', async () => {
    const wrong = `tok_${randomBytes(12).toString('hex')}`;
    await assert.rejects(
      fetchSource({ repositoryUrl: url, branch: 'main', credential: { type: 'TOKEN', token: wrong }, cacheDir, workDir: workDir() }),
      rejectsWith('AUTHENTICATION_FAILED', (e) => {
        assert.ok(!e.message.includes(wrong) && !e.message.includes(Buffer.from(`x-access-token:${wrong}`).toString('base64')), e.message);
      }),
    );
    await assert.rejects(lsRemoteBranch({ repositoryUrl: url, branch: 'main', credential: { type: 'TOKEN', token: wrong } }), rejectsWith('AUTHENTICATION_FAILED'));
    await assert.rejects(lsRemoteBranch({ repositoryUrl: url, branch: 'main' }), rejectsWith('AUTHENTICATION_FAILED'));
    assert.ok(spawned.length > 5);
    for (const event of spawned) {
      const visible = [...event.args, ...event.envNames].join('\n');
      for (const secret of [token, wrong, basic]) assert.ok(!visible.includes(secret), `secret in ${visible}`);
    }
  });

  await t.test("git's stderr is scrubbed of the token", async () => {
    // A repository path holding the token makes git repeat it in its error message.
    await assert.rejects(
      lsRemoteBranch({ repositoryUrl: `${server.url}/${token}.git`, branch: 'main', credential }),
      rejectsWith('REPOSITORY_NOT_FOUND', (e) => {
        assert.match(e.gitMessage, /\*\*\*/);
        assert.ok(!e.message.includes(token) && !e.gitMessage.includes(token), e.message);
      }),
    );
    assert.equal(scrubbedTail(`a\nAuthorization: Basic ${basic}\nfatal: ${token}\n`, [token, basic], 2), 'Authorization: Basic ***\nfatal: ***');
  });

  await t.test('a missing branch is a clear error', async () => {
    await assert.rejects(
      fetchSource({ repositoryUrl: url, branch: 'no-such-branch', credential, cacheDir, workDir: workDir() }),
      rejectsWith('BRANCH_NOT_FOUND', (e) => assert.match(e.message, /'no-such-branch'/)),
    );
    await assert.rejects(lsRemoteBranch({ repositoryUrl: url, branch: 'no-such-branch', credential }), rejectsWith('BRANCH_NOT_FOUND'));
    // 'ma' is a tail of nothing and 'main' must not match 'x/main'-like refs by accident.
    await assert.rejects(lsRemoteBranch({ repositoryUrl: url, branch: 'ain', credential }), rejectsWith('BRANCH_NOT_FOUND'));
  });

  await t.test('source directories: monorepo paths resolve, escapes and outside symlinks are refused', async () => {
    const api = await fetchSource({ repositoryUrl: url, branch: 'main', credential, sourceDirectory: 'services/api', cacheDir, workDir: workDir() });
    assert.match(api.directory, /\/services\/api$/);
    assert.equal(await readFile(join(api.directory, 'index.js'), 'utf8'), 'api v2\n');
    const web = await fetchSource({ repositoryUrl: url, branch: 'main', credential, sourceDirectory: 'services/web/', cacheDir, workDir: workDir() });
    assert.match(web.directory, /\/services\/web$/);
    const root = await fetchSource({ repositoryUrl: url, branch: 'main', credential, sourceDirectory: '/', cacheDir, workDir: workDir() });
    assert.match(await readFile(join(root.directory, 'README'), 'utf8'), /berth/);
    // A symlink that stays inside the checkout is fine.
    const linked = await fetchSource({ repositoryUrl: url, branch: 'main', credential, sourceDirectory: 'services/api-link', cacheDir, workDir: workDir() });
    assert.match(linked.directory, /\/services\/api$/);

    // A leading '/' is the repository root, as App Runner's console writes it, never the host's.
    const rooted = await fetchSource({ repositoryUrl: url, branch: 'main', credential, sourceDirectory: '/services/api/', cacheDir, workDir: workDir() });
    assert.match(rooted.directory, /\/services\/api$/);
    for (const bad of ['../outside', 'services/../../outside', '/../etc', '//..']) {
      await assert.rejects(fetchSource({ repositoryUrl: url, branch: 'main', credential, sourceDirectory: bad, cacheDir, workDir: workDir() }), invalidRequest(/SourceDirectory/));
    }
    await assert.rejects(
      fetchSource({ repositoryUrl: url, branch: 'main', credential, sourceDirectory: 'escape', cacheDir, workDir: workDir() }),
      rejectsWith('SOURCE_DIRECTORY_INVALID', (e) => assert.match(e.message, /outside the repository/)),
    );
    await assert.rejects(
      fetchSource({ repositoryUrl: url, branch: 'main', credential, sourceDirectory: 'services/missing', cacheDir, workDir: workDir() }),
      rejectsWith('SOURCE_DIRECTORY_INVALID', (e) => assert.match(e.message, /does not exist in commit [0-9a-f]{40}/)),
    );
    await assert.rejects(
      fetchSource({ repositoryUrl: url, branch: 'main', credential, sourceDirectory: 'README', cacheDir, workDir: workDir() }),
      rejectsWith('SOURCE_DIRECTORY_INVALID', (e) => assert.match(e.message, /not a directory/)),
    );
  });

  await t.test('refused URLs, branches and credential mismatches', async () => {
    const marker = join(root, 'ext-ran');
    const refused: [string, RegExp][] = [
      [`https://user:${token}@example.com/app.git`, /contains credentials.*connection/],
      ['https://ghp_abc@example.com/app.git', /contains credentials.*connection/],
      ['ssh://git:secret@example.com/app.git', /contains a password/],
      [`ext::sh -c touch% ${marker}`, /whitespace|remote helper/],
      [`ext::touch${marker}`, /remote helper/],
      ['fd::3', /remote helper/],
      ['-uhelp', /starts with "-"/],
      ['--upload-pack=touch /tmp/x', /starts with "-"/],
      ['ssh://-oProxyCommand=touch/x', /host starting with "-"/],
      ['-oProxyCommand=x:repo', /starts with "-"/], ['git@-oProxyCommand=x:repo', /host starting with "-"/],
      ['ftp://example.com/app.git', /scheme 'ftp'/],
      ['relative/path', /relative local path/],
      ['file://host/path', /file URL with a host/],
    ];
    for (const [bad, pattern] of refused) {
      await assert.rejects(fetchSource({ repositoryUrl: bad, branch: 'main', cacheDir, workDir: workDir() }), invalidRequest(pattern), bad);
      await assert.rejects(lsRemoteBranch({ repositoryUrl: bad, branch: 'main' }), invalidRequest(pattern), bad);
    }
    await assert.rejects(readFile(marker), { code: 'ENOENT' });
    for (const branch of ['-main', 'a..b', 'a b', 'x:y', 'main.lock', '@', 'a//b', '']) {
      await assert.rejects(lsRemoteBranch({ repositoryUrl: url, branch, credential }), invalidRequest(/not a valid git branch name/), branch);
    }
    await assert.rejects(lsRemoteBranch({ repositoryUrl: 'http://example.com/app.git', branch: 'main', credential }), invalidRequest(/plain http.*unencrypted/));
    await assert.rejects(lsRemoteBranch({ repositoryUrl: 'git@example.com:app.git', branch: 'main', credential }), invalidRequest(/holds a token/));
    await assert.rejects(lsRemoteBranch({ repositoryUrl: url, branch: 'main', credential: { type: 'SSH_KEY', privateKey: 'k', knownHosts: 'h' } }), invalidRequest(/holds an SSH key/));
    assert.deepEqual(parseGitUrl('git@github.com:owner/repo.git'), { url: 'git@github.com:owner/repo.git', transport: 'ssh', host: 'github.com' });
    assert.equal(parseGitUrl('ssh://git@[::1]:2222/r.git').host, '::1');
  });

  await t.test('a local path needs no credential', async () => {
    const fetched = await fetchSource({ repositoryUrl: bare, branch: 'feature', cacheDir, workDir: workDir() });
    assert.equal(fetched.commit, featureCommit);
    assert.equal(await lsRemoteBranch({ repositoryUrl: `file://${bare}`, branch: 'feature' }), featureCommit);
  });

  await t.test('SSH with a deploy key and pinned host key', async (t) => {
    const ssh = await startSshGitServer(join(root, 'sshd'));
    if (typeof ssh === 'string') {
      if (process.env['CI'] !== undefined) assert.fail(ssh);
      t.skip(ssh);
      return;
    }
    t.after(() => ssh.stop());
    const sshUrl = ssh.urlFor(bare);
    const key = { type: 'SSH_KEY', privateKey: ssh.deployKey, knownHosts: ssh.knownHosts } as const;
    const mainNow = await git(src, 'rev-parse', 'main');

    const fetched = await fetchSource({ repositoryUrl: sshUrl, branch: 'main', credential: key, sourceDirectory: 'services/web', cacheDir, workDir: workDir() });
    assert.equal(fetched.commit, mainNow);
    assert.equal(await readFile(join(fetched.directory, 'index.js'), 'utf8'), 'web v1\n');
    assert.equal(await lsRemoteBranch({ repositoryUrl: sshUrl, branch: 'feature', credential: key }), featureCommit);

    await assert.rejects(
      lsRemoteBranch({ repositoryUrl: sshUrl, branch: 'main', credential: { ...key, knownHosts: ssh.wrongKnownHosts } }),
      rejectsWith('HOST_KEY_MISMATCH'),
    );
    // Nothing pinned for this host: never trusted on first use.
    await assert.rejects(
      lsRemoteBranch({ repositoryUrl: sshUrl, branch: 'main', credential: { ...key, knownHosts: ssh.knownHosts.replace('[127.0.0.1]', '[127.0.0.2]') } }),
      rejectsWith('HOST_KEY_MISMATCH'),
    );
    const stranger = join(root, 'stranger_key');
    await exec('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger]);
    await assert.rejects(
      fetchSource({ repositoryUrl: sshUrl, branch: 'main', credential: { ...key, privateKey: await readFile(stranger, 'utf8') }, cacheDir, workDir: workDir() }),
      rejectsWith('AUTHENTICATION_FAILED', (e) => assert.ok(!e.message.includes('PRIVATE KEY'))),
    );
    for (const event of spawned) assert.ok(!event.args.join(' ').includes('PRIVATE KEY'));
  });

  await t.test('temporary key and HOME directories are removed in every case', async () => {
    const sessionsAfter = (await readdir(tmpdir())).filter((n) => n.startsWith('berth-git-') && !n.startsWith('berth-git-test-') && !sessionsBefore.has(n));
    assert.deepEqual(sessionsAfter, []);
  });
});

/**
 * @module
 * Fetches the latest commit of a repository's branch for a build (issue 4), with the
 * connection's credential passed out of band: an HTTPS token travels in git's configuration
 * through the child's environment (`GIT_CONFIG_COUNT`), never in a URL or an argument; an SSH
 * deploy key and its pinned host keys are written to a private temporary directory that is
 * removed afterwards. Every git process gets a clean environment (no system or user config, no
 * prompts, no credential helpers), so what the host's user configured never leaks in.
 *
 * Each repository has a bare cache under `cacheDir`, reused across deploys so that a new commit
 * downloads only what changed; the commit is then checked out into a fresh `workDir`.
 *
 * Every git process started is published on the diagnostics channel `berth:git:spawn` with its
 * argument list and the *names* of its environment variables: what `ps` could show. Tests
 * subscribe to it to prove no secret is there.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { channel } from 'node:diagnostics_channel';
import { access, mkdir, mkdtemp, readdir, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { ConnectionCredential } from '../../core/connection.ts';
import { invalidRequest, showValue } from '../../core/errors.ts';
import { checkBranchName, isLoopbackHost, normalizeSourceDirectory, parseGitUrl, type ParsedGitUrl } from '../../core/git-url.ts';
import { classifyGitFailure, scrubbedTail, SourceFetchError } from './source-fetch-error.ts';

export interface GitSpawnEvent {
  args: readonly string[];
  /** Names only: values may hold the token. */
  envNames: readonly string[];
}

/** Published once per git process started, before it starts. */
export const gitSpawnChannel = channel('berth:git:spawn');

export interface LsRemoteOptions {
  repositoryUrl: string;
  branch: string;
  credential?: ConnectionCredential;
  /** Kills git after this long; default 2 minutes. */
  timeoutMs?: number;
  /** The program to run; default `git` from PATH. */
  gitPath?: string;
}

export interface FetchSourceOptions extends LsRemoteOptions {
  /** Path from the repository root (App Runner's SourceDirectory); default the root. */
  sourceDirectory?: string;
  /** Holds one bare cache per repository; created if missing. */
  cacheDir: string;
  /** Where the commit is checked out; must not exist yet, or be empty. */
  workDir: string;
}

export interface FetchedSource {
  /** The full commit id checked out (40 hex digits, 64 for SHA-256 repositories). */
  commit: string;
  /** Absolute path of the source directory inside `workDir`. */
  directory: string;
}

const DEFAULT_TIMEOUT_MS = 120_000;
const COMMIT_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** The branch's latest commit on the remote, without fetching anything. */
export async function lsRemoteBranch(options: LsRemoteOptions): Promise<string> {
  const remote = checkRemote(options);
  const ref = `refs/heads/${options.branch}`;
  return withGitSession(remote, options, async (git) => {
    const out = await git(['ls-remote', '--refs', '--', remote.url, ref], 'list');
    // ls-remote matches patterns against the tail of each ref: keep only the exact one.
    const line = out.split('\n').find((l) => l.endsWith(`\t${ref}`));
    const commit = line?.split('\t')[0];
    if (commit === undefined || !COMMIT_ID.test(commit)) {
      throw new SourceFetchError('BRANCH_NOT_FOUND', `Branch ${showValue(options.branch)} was not found in repository ${showValue(remote.url)}; check the branch name`);
    }
    return commit;
  });
}

/** Fetches the branch's latest commit into the repository's cache and checks it out into `workDir`. */
export async function fetchSource(options: FetchSourceOptions): Promise<FetchedSource> {
  const remote = checkRemote(options);
  const sourceDirectory = normalizeSourceDirectory(options.sourceDirectory);
  if (!isAbsolute(options.cacheDir) || !isAbsolute(options.workDir)) {
    throw invalidRequest(`cacheDir ${showValue(options.cacheDir)} and workDir ${showValue(options.workDir)} must be absolute paths`);
  }
  await prepareWorkDir(options.workDir);
  const cache = cachePath(options.cacheDir, remote.url);
  // The cached ref is named after the branch, under Berth's own namespace so no fetch of
  // another branch or a `git gc` can drop it.
  const cachedRef = `refs/berth/heads/${options.branch}`;

  const commit = await serialized(cache, () =>
    withGitSession(remote, options, async (git, session) => {
      if (!(await exists(join(cache, 'HEAD')))) {
        await mkdir(options.cacheDir, { recursive: true });
        await git(['init', '--bare', '--quiet', '--', cache], 'initialize the cache of');
      }
      // '+': a force-pushed branch replaces the cached one. Depth 1: a build needs one
      // commit; objects already in the cache are not downloaded again.
      await git(['--git-dir', cache, 'fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--depth', '1', '--', remote.url, `+refs/heads/${options.branch}:${cachedRef}`], 'fetch');
      const id = (await git(['--git-dir', cache, 'rev-parse', '--verify', '--end-of-options', `${cachedRef}^{commit}`], 'read the fetched commit of')).trim();
      // A private index: concurrent checkouts of the same cache must not share one.
      await git(['--git-dir', cache, '--work-tree', options.workDir, 'checkout', '--force', '--quiet', id, '--', '.'], 'check out', { GIT_INDEX_FILE: join(session, 'index') });
      return id;
    }),
  );
  return { commit, directory: await resolveSourceDirectory(options.workDir, sourceDirectory, commit) };
}

export interface ChangedPathsOptions extends LsRemoteOptions {
  cacheDir: string;
  /** The commit deployed before. */
  from: string;
  /** The newer commit; fetched into the cache (the branch's tip) if it is not there yet. */
  to: string;
}

/**
 * The paths that differ between two commits' trees, for automatic deployments that only follow
 * a source directory. Both trees must be in the cache: `to` is fetched as the branch's tip when
 * missing; when `from` is not there (the cache was cleared), undefined: callers then assume the
 * directory changed. Tree diffs need no history, so the depth-1 cache is enough.
 */
export async function changedPaths(options: ChangedPathsOptions): Promise<string[] | undefined> {
  const remote = checkRemote(options);
  if (!COMMIT_ID.test(options.from) || !COMMIT_ID.test(options.to)) {
    throw invalidRequest(`Commits ${showValue(options.from)} and ${showValue(options.to)} must be full commit ids`);
  }
  const cache = cachePath(options.cacheDir, remote.url);
  const cachedRef = `refs/berth/heads/${options.branch}`;
  return serialized(cache, () =>
    withGitSession(remote, options, async (git) => {
      const has = async (commit: string): Promise<boolean> =>
        git(['--git-dir', cache, 'cat-file', '-e', `${commit}^{commit}`], 'look up a commit in').then(() => true, () => false);
      if (!(await exists(join(cache, 'HEAD')))) return undefined;
      if (!(await has(options.to))) {
        await git(['--git-dir', cache, 'fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--depth', '1', '--', remote.url, `+refs/heads/${options.branch}:${cachedRef}`], 'fetch');
        if (!(await has(options.to))) return undefined;
      }
      if (!(await has(options.from))) return undefined;
      const out = await git(['--git-dir', cache, 'diff-tree', '-r', '--name-only', '--no-commit-id', '-z', options.from, options.to], 'compare commits in');
      return out.split('\0').filter((p) => p !== '');
    }),
  );
}

function cachePath(cacheDir: string, url: string): string {
  return join(cacheDir, createHash('sha256').update(url).digest('hex').slice(0, 32));
}

function checkRemote(options: LsRemoteOptions): ParsedGitUrl {
  const remote = parseGitUrl(options.repositoryUrl);
  checkBranchName(options.branch);
  const credential = options.credential;
  if (credential?.type === 'TOKEN') {
    if (remote.transport !== 'http') {
      throw invalidRequest(`Repository URL ${showValue(remote.url)} is not an https:// URL, but the connection holds a token; use the repository's https:// URL, or a connection with an SSH key`);
    }
    if (remote.scheme === 'http' && !isLoopbackHost(remote.host ?? '')) {
      throw invalidRequest(`Repository URL ${showValue(remote.url)} uses plain http, which would send the connection's token unencrypted; use https://`);
    }
  }
  if (credential?.type === 'SSH_KEY' && remote.transport !== 'ssh') {
    throw invalidRequest(`Repository URL ${showValue(remote.url)} is not an SSH address, but the connection holds an SSH key; use ssh://user@host/path or user@host:path`);
  }
  return remote;
}

type Git = (args: string[], action: string, extraEnv?: Record<string, string>) => Promise<string>;

/**
 * Runs `body` with a `git` function whose processes carry the credential, inside a private
 * temporary directory (HOME, the SSH key, known_hosts, the index) that is removed in every case.
 */
async function withGitSession<T>(remote: ParsedGitUrl, options: LsRemoteOptions, body: (git: Git, session: string) => Promise<T>): Promise<T> {
  const session = await mkdtemp(join(tmpdir(), 'berth-git-'));
  try {
    const { env, secrets } = await credentialEnvironment(remote, options.credential, session);
    const git: Git = (args, action, extraEnv = {}) =>
      runGit(options.gitPath ?? 'git', args, { ...env, ...extraEnv }, options.timeoutMs ?? DEFAULT_TIMEOUT_MS).then((result) => {
        if (result.code === 0) return result.stdout;
        throw failure(remote, options.branch, action, result, secrets);
      });
    return await body(git, session);
  } finally {
    await rm(session, { recursive: true, force: true });
  }
}

async function credentialEnvironment(
  remote: ParsedGitUrl,
  credential: ConnectionCredential | undefined,
  session: string,
): Promise<{ env: Record<string, string>; secrets: string[] }> {
  const config: [string, string][] = [
    // No credential helper of any origin may answer for us or store what we send.
    ['credential.helper', ''],
    ['core.askPass', ''],
    // Only the transport of this address; never `ext::` or `fd::` through a redirect or submodule.
    ['protocol.allow', 'never'],
    ...(remote.transport === 'http' ? [['protocol.https.allow', 'always'], ['protocol.http.allow', 'always']] as [string, string][] : []),
    ...(remote.transport === 'ssh' ? [['protocol.ssh.allow', 'always']] as [string, string][] : []),
    ...(remote.transport === 'file' ? [['protocol.file.allow', 'always']] as [string, string][] : []),
  ];
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin',
    // git's messages are parsed for the failure reason: keep them in English.
    LC_ALL: 'C',
    HOME: session,
    XDG_CONFIG_HOME: session,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '',
    SSH_ASKPASS: '',
  };
  const secrets: string[] = [];
  if (credential?.type === 'TOKEN') {
    const basic = Buffer.from(`${credential.username ?? 'x-access-token'}:${credential.token}`).toString('base64');
    // Scoped to the repository's origin: a redirect to another host does not carry the token.
    config.push([`http.${remote.origin ?? ''}/.extraHeader`, `Authorization: Basic ${basic}`]);
    secrets.push(credential.token, basic);
  }
  if (credential?.type === 'SSH_KEY') {
    const key = join(session, 'deploy-key');
    const knownHosts = join(session, 'known_hosts');
    // OpenSSH refuses a key file without its final newline ("invalid format").
    await writeFile(key, credential.privateKey.endsWith('\n') ? credential.privateKey : `${credential.privateKey}\n`, { mode: 0o600 });
    await writeFile(knownHosts, credential.knownHosts.endsWith('\n') ? credential.knownHosts : `${credential.knownHosts}\n`, { mode: 0o600 });
    // git runs GIT_SSH_COMMAND through a shell: it is built only from constant options and
    // paths Berth created, each single-quoted. `-F /dev/null` keeps the user's ssh config out.
    env['GIT_SSH_COMMAND'] = [
      'ssh', '-F', '/dev/null', '-i', shellQuote(key),
      '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none',
      '-o', shellQuote(`UserKnownHostsFile=${knownHosts}`), '-o', 'GlobalKnownHostsFile=/dev/null',
      '-o', 'StrictHostKeyChecking=yes', '-o', 'UpdateHostKeys=no', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=30',
    ].join(' ');
    env['GIT_SSH_VARIANT'] = 'ssh';
  }
  env['GIT_CONFIG_COUNT'] = String(config.length);
  config.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  return { env, secrets };
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

interface GitResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

function runGit(gitPath: string, args: string[], env: Record<string, string>, timeoutMs: number): Promise<GitResult> {
  if (gitSpawnChannel.hasSubscribers) gitSpawnChannel.publish({ args: [gitPath, ...args], envNames: Object.keys(env) } satisfies GitSpawnEvent);
  return new Promise((done, fail) => {
    const child = spawn(gitPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    // Only the tail is ever shown; bound what is kept of a chatty failure.
    child.stderr.on('data', (chunk: Buffer) => {
      err = (err + chunk.toString('utf8')).slice(-16_384);
    });
    child.on('error', fail);
    child.on('close', (code, signal) => {
      done({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: err, timedOut: signal === 'SIGKILL' });
    });
  });
}

function failure(remote: ParsedGitUrl, branch: string, action: string, result: GitResult, secrets: string[]): SourceFetchError {
  const gitMessage = scrubbedTail(result.stderr, secrets);
  const reason = result.timedOut ? 'UNREACHABLE' : classifyGitFailure(result.stderr);
  const what = {
    AUTHENTICATION_FAILED: 'the server refused the credential; check the connection\'s token or deploy key and its access to the repository',
    HOST_KEY_MISMATCH: 'the SSH server\'s host key is not among the connection\'s pinned known hosts; check SshKnownHosts',
    BRANCH_NOT_FOUND: `the branch ${showValue(branch)} does not exist; check the branch name`,
    REPOSITORY_NOT_FOUND: 'there is no repository at that address; check the URL',
    UNREACHABLE: result.timedOut ? 'git did not finish in time' : 'the server could not be reached; check the host and port',
    SOURCE_DIRECTORY_INVALID: '',
    FAILED: 'git failed',
  }[reason];
  const detail = gitMessage === '' ? '' : `. git said: ${gitMessage}`;
  // The whole message is scrubbed too, in case a secret was also part of the address.
  const message = scrubbedTail(`Could not ${action} ${showValue(remote.url)}: ${what}${detail}`, secrets, Infinity);
  return new SourceFetchError(reason, message, gitMessage);
}

async function prepareWorkDir(workDir: string): Promise<void> {
  await mkdir(workDir, { recursive: true });
  if ((await readdir(workDir)).length > 0) {
    throw invalidRequest(`workDir ${showValue(workDir)} is not empty; give a fresh directory for each checkout`);
  }
}

async function resolveSourceDirectory(workDir: string, sourceDirectory: string, commit: string): Promise<string> {
  const root = await realpath(workDir);
  let target: string;
  try {
    target = await realpath(resolve(root, sourceDirectory));
  } catch {
    throw new SourceFetchError('SOURCE_DIRECTORY_INVALID', `SourceDirectory ${showValue(sourceDirectory)} does not exist in commit ${commit}; check the path from the repository root`);
  }
  const inside = relative(root, target);
  if (inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
    throw new SourceFetchError('SOURCE_DIRECTORY_INVALID', `SourceDirectory ${showValue(sourceDirectory)} in commit ${commit} is or passes through a symbolic link that leads outside the repository; point it at a real directory inside the repository`);
  }
  if (!(await stat(target)).isDirectory()) {
    throw new SourceFetchError('SOURCE_DIRECTORY_INVALID', `SourceDirectory ${showValue(sourceDirectory)} in commit ${commit} is a file, not a directory`);
  }
  return target;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** One fetch at a time per cache in this process: git's ref locks would fail the second one. */
const queues = new Map<string, Promise<unknown>>();
async function serialized<T>(key: string, task: () => Promise<T>): Promise<T> {
  const previous = queues.get(key) ?? Promise.resolve();
  const run = previous.then(task, task);
  const tail = run.catch(() => undefined);
  queues.set(key, tail);
  try {
    return await run;
  } finally {
    if (queues.get(key) === tail) queues.delete(key);
  }
}

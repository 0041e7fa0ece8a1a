/**
 * A real SSH git server for tests: OpenSSH's `sshd` in the foreground on a free loopback port,
 * as the current user, with a generated host key and one authorized deploy key, all in a
 * temporary directory. Clients run `git-upload-pack` on it as on any git host.
 *
 * `startSshGitServer` resolves to a reason string instead of a server when sshd cannot run
 * here (not installed, or refused to start), so that tests can skip with it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './net.ts';

const run = promisify(execFile);
export const SSHD = '/usr/sbin/sshd';

export interface SshGitServer {
  port: number;
  user: string;
  /** The deploy key's private half (OpenSSH format), authorized on the server. */
  deployKey: string;
  /** A known_hosts line pinning this server's host key: `[127.0.0.1]:<port> ssh-ed25519 ...`. */
  knownHosts: string;
  /** A known_hosts line for the same address with another (wrong) host key. */
  wrongKnownHosts: string;
  /** An SSH URL of a repository at an absolute path on this machine. */
  urlFor(path: string): string;
  stop(): Promise<void>;
}

async function keyPair(dir: string, name: string): Promise<{ privateKey: string; publicKey: string }> {
  const file = join(dir, name);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', file]);
  return { privateKey: await readFile(file, 'utf8'), publicKey: (await readFile(`${file}.pub`, 'utf8')).trim() };
}

export async function startSshGitServer(dir: string): Promise<SshGitServer | string> {
  try {
    await access(SSHD);
  } catch {
    return `${SSHD} is not installed (apt-get install openssh-server)`;
  }
  if (process.getuid?.() === 0) {
    // sshd running as root insists on its privilege separation directory, which the package
    // creates only when its service starts; it is the package's own empty, root-owned dir.
    await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  }
  await mkdir(dir, { recursive: true });
  const host = await keyPair(dir, 'host_key');
  const other = await keyPair(dir, 'other_host_key');
  const deploy = await keyPair(dir, 'deploy_key');
  await writeFile(join(dir, 'authorized_keys'), `${deploy.publicKey}\n`, { mode: 0o600 });
  const user = userInfo().username;
  const port = await freePort();
  const config = join(dir, 'sshd_config');
  await writeFile(
    config,
    [
      `ListenAddress 127.0.0.1:${port}`,
      `HostKey ${join(dir, 'host_key')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AllowUsers ${user}`,
      'StrictModes no',
      'UsePAM no',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  );
  const child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  const started = await listening(child);
  if (started !== true) return `sshd could not start here: ${started}`;
  const [type, key] = host.publicKey.split(' ');
  const [otherType, otherKey] = other.publicKey.split(' ');
  return {
    port,
    user,
    deployKey: deploy.privateKey,
    knownHosts: `[127.0.0.1]:${port} ${type} ${key}`,
    wrongKnownHosts: `[127.0.0.1]:${port} ${otherType} ${otherKey}`,
    urlFor: (path) => `ssh://${user}@127.0.0.1:${port}${path}`,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const closed = new Promise((resolve) => child.once('close', resolve));
        child.kill('SIGTERM');
        await closed;
      }
    },
  };
}

/** True once sshd logs that it listens; otherwise what it said before exiting (or timing out). */
function listening(child: ChildProcess): Promise<true | string> {
  return new Promise((resolve) => {
    let said = '';
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      resolve(`no "Server listening" line within 10 s: ${said.trim()}`);
    }, 10_000);
    child.stderr?.on('data', (chunk: Buffer) => {
      said += chunk.toString('utf8');
      if (said.includes('Server listening on')) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve(`sshd exited with ${String(code)}: ${said.trim().split('\n').slice(-3).join(' / ')}`);
    });
  });
}

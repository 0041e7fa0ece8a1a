/**
 * A git repository for tests: a bare repository (what Berth clones, by path or through a test
 * server) and a working copy to write, commit and push from. git runs isolated from the host's
 * configuration.
 */
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export async function git(cwd: string, ...args: string[]): Promise<string> {
  const env = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: cwd,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_AUTHOR_NAME: 't',
    GIT_AUTHOR_EMAIL: 't@example.com',
    GIT_COMMITTER_NAME: 't',
    GIT_COMMITTER_EMAIL: 't@example.com',
  };
  return (await exec('git', args, { cwd, env })).stdout.trim();
}

export class GitFixture {
  /** The bare repository's absolute path: a RepositoryUrl Berth accepts for local development. */
  readonly bare: string;
  readonly work: string;

  private constructor(bare: string, work: string) {
    this.bare = bare;
    this.work = work;
  }

  /** A repository under `root` (its `<name>.git` and `<name>-work`) with branch `main`. */
  static async create(root: string, name = 'app'): Promise<GitFixture> {
    const bare = join(root, `${name}.git`);
    const work = join(root, `${name}-work`);
    await mkdir(root, { recursive: true });
    await git(root, 'init', '--quiet', '--bare', '-b', 'main', bare);
    await git(root, 'init', '--quiet', '-b', 'main', work);
    return new GitFixture(bare, work);
  }

  /** Writes files (path → text; null deletes), commits them all and pushes; returns the commit. */
  async commit(files: Record<string, string | null>, message = 'change', branch = 'main'): Promise<string> {
    for (const [path, text] of Object.entries(files)) {
      const full = join(this.work, path);
      if (text === null) {
        await rm(full, { force: true });
      } else {
        await mkdir(dirname(full), { recursive: true });
        await writeFile(full, text);
      }
    }
    await git(this.work, 'add', '-A');
    await git(this.work, 'commit', '--quiet', '--allow-empty', '-m', message);
    await git(this.work, 'push', '--quiet', this.bare, `HEAD:refs/heads/${branch}`);
    return git(this.work, 'rev-parse', 'HEAD');
  }
}

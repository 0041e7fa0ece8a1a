/**
 * @module
 * The git adapter as the control plane's SourceFetcher: one bare cache directory per
 * installation, shared by every fetch, so each deploy downloads only what changed.
 */
import type { SourceFetcher } from '../../core/builder.ts';
import { changedPaths, fetchSource, lsRemoteBranch } from './git-source.ts';

export class GitSources implements SourceFetcher {
  readonly #cacheDir: string;
  readonly #timeoutMs: number | undefined;

  constructor(options: { cacheDir: string; timeoutMs?: number }) {
    this.#cacheDir = options.cacheDir;
    this.#timeoutMs = options.timeoutMs;
  }

  fetch(request: Parameters<SourceFetcher['fetch']>[0]): ReturnType<SourceFetcher['fetch']> {
    return fetchSource({ ...request, cacheDir: this.#cacheDir, ...this.#timeout() });
  }

  latestCommit(request: Parameters<SourceFetcher['latestCommit']>[0]): Promise<string> {
    return lsRemoteBranch({ ...request, ...this.#timeout() });
  }

  changedPaths(request: Parameters<SourceFetcher['changedPaths']>[0]): Promise<string[] | undefined> {
    return changedPaths({ ...request, cacheDir: this.#cacheDir, ...this.#timeout() });
  }

  #timeout(): { timeoutMs?: number } {
    return this.#timeoutMs === undefined ? {} : { timeoutMs: this.#timeoutMs };
  }
}

/**
 * @module
 * The seam between the control plane and whatever turns a fetched source directory into
 * something a runtime can run: an image built by the Docker engine (default), or a prepared
 * directory run by the local-process runtime. The control plane fetches the source and plans
 * the build (core/build/build-plan.ts); a builder only carries the plan out.
 */
import type { BuildPlan } from './build/build-plan.ts';
import type { ConnectionCredential } from './connection.ts';

export interface BuildRequest {
  /** Berth's id for this build: lowercase hex, unique; builders use it in names and tags. */
  readonly buildId: string;
  readonly serviceId: string;
  readonly serviceName: string;
  readonly revisionId: string;
  /** Absolute path of the fetched source directory, `SourceDirectory` already applied. */
  readonly sourceDirectory: string;
  readonly plan: BuildPlan;
  /** Receives each line of build output as it arrives (no trailing newline). */
  readonly onLog: (line: string) => void;
  readonly signal?: AbortSignal;
}

export interface BuildResult {
  /**
   * What `InstanceSpec.image` gets for this build: an image reference for container runtimes,
   * a reference the process runtime resolves to its prepared directory.
   */
  readonly image: string;
}

export interface Builder {
  /** A short name for messages: `docker`, `process`. */
  readonly name: string;
  /** Carries out the plan. Throws BuildError when the build itself fails. */
  build(request: BuildRequest): Promise<BuildResult>;
  /** Frees what a build made once no revision needs it; a missing one is fine. */
  discard(image: string): Promise<void>;
}

/**
 * A build that failed for a reason the user must fix (a command exited non-zero, a Dockerfile
 * is invalid, a base image cannot be had), with what is needed to say so in one message.
 */
export class BuildError extends Error {
  /** The command or instruction that failed, when one did (`npm ci`, `RUN npm ci`). */
  readonly command: string | undefined;
  /** The last lines of output before the failure, newest last. */
  readonly outputTail: readonly string[];
  constructor(message: string, details: { command?: string; outputTail?: readonly string[] } = {}) {
    super(message);
    this.name = 'BuildError';
    this.command = details.command;
    this.outputTail = details.outputTail ?? [];
  }
}

/** Keeps the last `size` lines written to it: the tail a failed build reports. */
export class LineTail {
  readonly #lines: string[] = [];
  readonly #size: number;
  constructor(size = 20) {
    this.#size = size;
  }
  push(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > this.#size) this.#lines.shift();
  }
  lines(): readonly string[] {
    return [...this.#lines];
  }
}

/** Where source code comes from: git, through the connection's credential when there is one. */
export interface SourceFetcher {
  /** Checks the branch's latest commit out into `workDir` (which must not exist yet). */
  fetch(request: {
    repositoryUrl: string;
    branch: string;
    credential?: ConnectionCredential;
    sourceDirectory: string;
    workDir: string;
    signal?: AbortSignal;
  }): Promise<{ commit: string; directory: string }>;
  /** The branch's latest commit on the remote, fetching nothing. */
  latestCommit(request: { repositoryUrl: string; branch: string; credential?: ConnectionCredential }): Promise<string>;
  /**
   * Paths changed between two commits, from the local cache after a fetch; undefined when that
   * cannot be told (the older commit is unknown), in which case callers assume a change.
   */
  changedPaths(request: { repositoryUrl: string; branch: string; credential?: ConnectionCredential; from: string; to: string }): Promise<string[] | undefined>;
}

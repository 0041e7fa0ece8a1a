/**
 * @module
 * Builds of source-code revisions as the store keeps them: one record per attempt, with the
 * commit it built, what it produced, and its output, so a failure can be read through the API
 * (`Berth.DescribeOperation`) and the CLI long after the build ended.
 */

export type BuildStatus = 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED';

export interface BuildRecord {
  /** Lowercase hex; builders use it in image tags and directory names. */
  id: string;
  serviceId: string;
  revisionId: string;
  /** The deployment that asked for it. */
  operationId?: string;
  status: BuildStatus;
  repositoryUrl: string;
  branch: string;
  sourceDirectory: string;
  /** The commit fetched, once known. */
  commit?: string;
  /** What the build was made from: apprunner.yaml, api, detected, Dockerfile. */
  origin?: string;
  /** Set on success: what instances run, and how. */
  image?: string;
  /** When the builder freed the image because no revision needs it any more. */
  imageDiscardedAt?: number;
  port?: number;
  environment?: Record<string, string>;
  startedAt: number;
  updatedAt: number;
  endedAt?: number;
  failure?: { message: string; command?: string; outputTail: string[] };
  /** The build's output; only its last MAX_BUILD_LOG_CHARS are kept. */
  log: string;
}

export const MAX_BUILD_LOG_CHARS = 256 * 1024;

/** `log` with `lines` appended, trimmed from the front to the size kept. */
export function appendBuildLog(log: string, lines: readonly string[]): string {
  if (lines.length === 0) return log;
  const next = `${log}${lines.join('\n')}\n`;
  if (next.length <= MAX_BUILD_LOG_CHARS) return next;
  const cut = next.slice(next.length - MAX_BUILD_LOG_CHARS);
  const newline = cut.indexOf('\n');
  return `[earlier output dropped]\n${newline === -1 ? cut : cut.slice(newline + 1)}`;
}

/** The message a failed build leaves on its operation: what failed, then its last lines. */
export function buildFailureMessage(failure: NonNullable<BuildRecord['failure']>, lines = 8): string {
  const tail = failure.outputTail.slice(-lines).join('\n').trim();
  return `Build failed: ${failure.message}${tail === '' ? '' : `; last output:\n${tail}`}`;
}

/**
 * @module
 * What the process builder leaves for the process runtime: a build directory per build,
 * `<root>/builds/<buildId>/`, holding the built application (`app/`), for Python its virtual
 * environment (`venv/`), and last of all `artifact.json`, the manifest that says how to run it.
 * The manifest is written last and atomically, so a build directory without one is a build
 * that never finished and is never run.
 *
 * A build is named by `berth-process:<buildId>`, which goes where a container runtime would
 * get an image reference (`InstanceSpec.image`).
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Language } from '../../core/build/managed-runtimes.ts';

export const PROCESS_IMAGE_PREFIX = 'berth-process:';

/** PATH for builds and instances unless the composition root passes the machine's own. */
export const DEFAULT_SEARCH_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Build ids are lowercase hex (BuildRequest.buildId); nothing else may become a path. */
const BUILD_ID = /^[0-9a-f]{1,64}$/;

export function processImage(buildId: string): string {
  if (!BUILD_ID.test(buildId)) throw new Error(`Build id ${JSON.stringify(buildId)} is not lowercase hex`);
  return `${PROCESS_IMAGE_PREFIX}${buildId}`;
}

/** The build id of a `berth-process:<buildId>` reference; undefined for anything else (an OCI image). */
export function parseProcessImage(image: string): string | undefined {
  if (!image.startsWith(PROCESS_IMAGE_PREFIX)) return undefined;
  const buildId = image.slice(PROCESS_IMAGE_PREFIX.length);
  return BUILD_ID.test(buildId) ? buildId : undefined;
}

export function buildDirectory(root: string, buildId: string): string {
  return join(root, 'builds', buildId);
}

export function appDirectory(root: string, buildId: string): string {
  return join(buildDirectory(root, buildId), 'app');
}

function manifestPath(root: string, buildId: string): string {
  return join(buildDirectory(root, buildId), 'artifact.json');
}

/** How to run a finished build. */
export interface ProcessArtifact {
  readonly version: 1;
  readonly buildId: string;
  /** The apprunner.yaml name of the managed runtime (`nodejs22`) and its language. */
  readonly runtime: string;
  readonly language: Language;
  /** As asked for; the machine's own interpreter runs the service whatever it says. */
  readonly runtimeVersion?: string;
  /** The start command, run by `/bin/sh -c` in the app directory. */
  readonly command: string;
  /** The port the service was configured with; the runtime gives each instance its own instead. */
  readonly port: number;
  /** A variable that, like PORT, receives the instance's port (apprunner.yaml `network.env`). */
  readonly portEnv?: string;
  /** The service's environment from the build definition (`run.env`, PORT, and VIRTUAL_ENV for Python). */
  readonly env: Readonly<Record<string, string>>;
  /** Directories put before the machine's PATH (a Python build's `venv/bin`). */
  readonly pathPrefix: readonly string[];
  /** Epoch milliseconds at which the build finished. */
  readonly createdAt: number;
}

/** The manifest of a finished build; undefined when there is none (never built, unfinished, discarded). */
export async function readArtifact(root: string, buildId: string): Promise<ProcessArtifact | undefined> {
  let text: string;
  try {
    text = await readFile(manifestPath(root, buildId), 'utf8');
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  const artifact = JSON.parse(text) as ProcessArtifact;
  if (artifact.version !== 1 || artifact.buildId !== buildId || typeof artifact.command !== 'string') {
    throw new Error(`${manifestPath(root, buildId)} is not a Berth process build manifest (version 1 for build ${buildId})`);
  }
  return artifact;
}

export async function writeArtifact(root: string, artifact: ProcessArtifact): Promise<void> {
  await writeFileAtomic(manifestPath(root, artifact.buildId), `${JSON.stringify(artifact, null, 2)}\n`);
}

/** Writes a temporary file beside `path` and renames it over: readers see the old file or the new one. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const temporary = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, text, { mode: 0o600 });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

export function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

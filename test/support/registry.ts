/**
 * @module
 * A real OCI registry for tests: the CNCF distribution registry (Debian's `docker-registry`) on a
 * loopback port with throw-away storage. The engine treats 127.0.0.0/8 registries as insecure,
 * so it pushes and pulls there over plain HTTP without any daemon configuration.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { freePort } from './net.ts';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const REGISTRY_BINARY = '/usr/bin/docker-registry';

export interface TestRegistry {
  /** `127.0.0.1:<port>`, the registry part of image references. */
  host: string;
  stop(): Promise<void>;
}

export interface StartRegistryOptions {
  binary?: string;
  /** How long to wait for `GET /v2/` to answer. */
  readyTimeoutMs?: number;
}

/** Starts a registry and resolves once it answers `GET /v2/`. */
export async function startRegistry(options: StartRegistryOptions = {}): Promise<TestRegistry> {
  const directory = await mkdtemp(join(tmpdir(), 'berth-registry-'));
  try {
    // The registry cannot report a port it chose itself, so take a free one; a lost race with
    // another process shows as an early exit and is retried.
    for (let attempt = 1; ; attempt++) {
      try {
        return await launch(directory, await freePort(), options);
      } catch (error) {
        if (!(error instanceof RegistryExitedError) || attempt === 3) throw error;
      }
    }
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
}

class RegistryExitedError extends Error {}

async function launch(directory: string, port: number, options: StartRegistryOptions): Promise<TestRegistry> {
  const host = `127.0.0.1:${port}`;
  const configPath = join(directory, 'config.yml');
  await writeFile(
    configPath,
    [
      'version: 0.1',
      'log:',
      '  level: warn',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(directory, 'storage')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: ${host}`,
      '',
    ].join('\n'),
  );
  const binary = options.binary ?? REGISTRY_BINARY;
  const child = spawn(binary, ['serve', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-4000);
  });
  let exited = false;
  // A binary that cannot start emits 'error' instead of 'exit'.
  const exit = new Promise<void>((resolve) => {
    const ended = (): void => {
      exited = true;
      resolve();
    };
    child.once('exit', ended);
    child.once('error', (error) => {
      stderr += `\n${error.message}`;
      ended();
    });
  });

  const stop = async (): Promise<void> => {
    if (!exited) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exit;
      clearTimeout(killer);
    }
    await rm(directory, { recursive: true, force: true });
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 10_000);
  while (Date.now() < deadline) {
    if (exited) throw new RegistryExitedError(`${binary} exited before answering on ${host}: ${stderr.trim()}`);
    if (await answers(`http://${host}/v2/`)) return { host, stop };
    await sleep(25);
  }
  child.kill('SIGKILL');
  await exit;
  throw new Error(`The registry on ${host} did not answer GET /v2/ within ${options.readyTimeoutMs ?? 10_000} ms: ${stderr.trim()}`);
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return response.status === 200;
  } catch {
    return false;
  }
}


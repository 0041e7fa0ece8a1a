/**
 * @module
 * A real OCI registry for tests: the CNCF distribution registry (Debian's `docker-registry`) on a
 * loopback port with throw-away storage. The engine treats 127.0.0.0/8 registries as insecure,
 * so it pushes and pulls there over plain HTTP without any daemon configuration. With
 * `notifications`, it POSTs its events (pushes) to a webhook, as a registry in front of Berth would.
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
  /** Where the registry sends its events; none are sent when absent. */
  notifications?: RegistryNotifications;
}

/**
 * One notification endpoint (the registry's `notifications.endpoints[]`). Retries are quick, so
 * a test waits a second, not the registry's default backoff, for a delivery that failed.
 * https://distribution.github.io/distribution/about/notifications/
 */
export interface RegistryNotifications {
  /** The URL the registry POSTs envelopes to, e.g. `<berth api>/webhooks/registry`. */
  url: string;
  /** Sent as `Authorization: Bearer <token>` with every delivery. */
  bearerToken?: string;
  /** Further headers on every delivery. */
  headers?: Record<string, string>;
  /** How long one delivery may take; 2 s by default. */
  timeoutMs?: number;
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
      ...notificationsSection(options.notifications),
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

/** The `notifications` section; JSON strings are valid YAML scalars, so values need no escaping of their own. */
function notificationsSection(notifications: RegistryNotifications | undefined): string[] {
  if (notifications === undefined) return [];
  const headers: Record<string, string> = { ...notifications.headers };
  if (notifications.bearerToken !== undefined) headers.Authorization = `Bearer ${notifications.bearerToken}`;
  return [
    'notifications:',
    '  endpoints:',
    '    - name: berth',
    `      url: ${JSON.stringify(notifications.url)}`,
    ...(Object.keys(headers).length === 0 ? [] : ['      headers:', ...Object.entries(headers).map(([name, value]) => `        ${JSON.stringify(name)}: [${JSON.stringify(value)}]`)]),
    `      timeout: ${notifications.timeoutMs ?? 2000}ms`,
    // After one failed delivery, wait 200 ms and try again (the registry retries until it succeeds).
    '      threshold: 1',
    '      backoff: 200ms',
    // Manifest pushes only, as a setup for Berth would send. Registry 2.8 applies `ignore.actions`
    // only when some media type is ignored too, so blobs (octet-stream) go by media type.
    '      ignoredmediatypes: [application/octet-stream]',
    '      ignore:',
    '        actions: [pull]',
  ];
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


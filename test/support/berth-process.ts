/**
 * Starts the real `berth up` (the bin script, as a user would) in a temporary home on free
 * loopback ports, and reaches what it serves: the API with the official SDK's credentials, the
 * router over HTTPS with the local CA.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { DatabaseSync } from 'node:sqlite';
import { networkNameFor } from '../../src/adapters/docker/container-mapping.ts';
import { DockerEngineClient } from '../../src/adapters/docker/engine-client.ts';
import { freePort } from './net.ts';
import { join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;

export { freePort };

export interface BerthUp {
  home: string;
  apiUrl: string;
  httpPort: number;
  httpsPort: number;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  ca: string;
  process: ChildProcess;
  output(): string;
  /** The control plane's pid (from its pid file). */
  controlPlanePid(): number;
  stop(): Promise<void>;
}

export async function startBerth(options: { config?: Record<string, unknown>; home?: string } = {}): Promise<BerthUp> {
  const home = options.home ?? mkdtempSync(join(tmpdir(), 'berth-test-'));
  const [apiPort, httpPort, httpsPort] = [await freePort(), await freePort(), await freePort()];
  const config = {
    reconcile: { intervalMs: 250, startupTimeoutSeconds: 20, stopGraceSeconds: 1 },
    ...options.config,
  };
  writeFileSync(join(home, 'berth.json'), JSON.stringify(config));
  const child = spawn(process.execPath, [
    join(ROOT, 'bin/berth.mjs'), 'up', '--home', home, '--api-port', String(apiPort),
    '--http-port', String(httpPort), '--https-port', String(httpsPort), '--router-host', '127.0.0.1',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    await waitFor(() => output.includes('Berth is up.'), 30_000, () => `berth up did not come up; output:\n${output}`, () => child.exitCode !== null);
  } catch (error) {
    // A supervisor that never came up keeps restarting its children: stop it (SIGINT, so it
    // stops them too), or the test file hangs.
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGINT');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      child.kill('SIGKILL');
    }
    if (options.home === undefined) rmSync(home, { recursive: true, force: true });
    throw error;
  }
  const credentials = readCredentials(home);
  return {
    home,
    apiUrl: `http://127.0.0.1:${apiPort}`,
    httpPort,
    httpsPort,
    region: 'us-east-1',
    credentials,
    ca: readFileSync(join(home, 'ca', 'ca.crt'), 'utf8'),
    process: child,
    output: () => output,
    controlPlanePid: () => Number(readFileSync(join(home, 'run', 'control-plane.pid'), 'utf8')),
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGINT');
        await exited;
      }
      // A throw-away home's installation is gone for good: so is the bridge network Berth made
      // for it (Docker has room for about 30), once the test has removed its containers.
      if (options.home === undefined) {
        await removeInstallationNetwork(home);
        rmSync(home, { recursive: true, force: true });
      }
    },
  };
}

async function removeInstallationNetwork(home: string): Promise<void> {
  let installationId: string | undefined;
  try {
    const db = new DatabaseSync(join(home, 'berth.db'), { readOnly: true });
    installationId = (db.prepare("SELECT value FROM meta WHERE key = 'installation-id'").get() as { value?: string } | undefined)?.value;
    db.close();
  } catch {
    return;
  }
  if (installationId === undefined) return;
  const docker = new DockerEngineClient();
  // Still in use (a test left a container behind) or never made (no Docker): leave it.
  await docker.removeNetwork(networkNameFor(installationId)).catch(() => undefined);
  await docker.close();
}

/** Polls `check` until it holds; a check that throws counts as not yet (its error is reported). */
/** The administrator key Berth wrote to `<home>/credentials`, as an AWS shared-credentials file. */
export function readCredentials(home: string): { accessKeyId: string; secretAccessKey: string } {
  const text = readFileSync(join(home, 'credentials'), 'utf8');
  return {
    accessKeyId: /aws_access_key_id = (\S+)/.exec(text)?.[1] ?? '',
    secretAccessKey: /aws_secret_access_key = (\S+)/.exec(text)?.[1] ?? '',
  };
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, message: () => string, abort?: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline || abort?.()) {
      throw new Error(`${message()}${lastError === undefined ? '' : `\nlast error: ${(lastError as Error).message}`}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** GET over HTTPS to `host` (a service URL host) through the router on 127.0.0.1. */
export function httpsGet(berth: BerthUp, host: string, path = '/', timeoutMs = 10_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port: berth.httpsPort, path, servername: host, ca: berth.ca, headers: { host: `${host}:${berth.httpsPort}` }, agent: false, timeout: timeoutMs },
      (res) => collect(res, resolve, reject),
    );
    req.once('timeout', () => req.destroy(new Error(`GET https://${host}${path} timed out`)));
    req.once('error', reject);
    req.end();
  });
}

/** GET over plain HTTP to the router (which redirects to HTTPS). */
export function httpGet(berth: BerthUp, host: string, path = '/', method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: berth.httpPort, path, method, headers: { host: `${host}:${berth.httpPort}` }, agent: false }, (res) =>
      collect(res, resolve, reject),
    );
    req.once('error', reject);
    req.end();
  });
}

function collect(res: import('node:http').IncomingMessage, resolve: (r: Reply) => void, reject: (e: Error) => void): void {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => (body += chunk));
  res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
  res.once('error', reject);
}

/**
 * @module
 * Whether tests can use a real Docker engine. Without one, a test skips on a developer's machine
 * and fails in CI: CI must never pass by skipping what it exists to run.
 */
import type { SuiteContext, TestContext } from 'node:test';
import { Client } from 'undici';
import { DEFAULT_DOCKER_SOCKET, DockerEngineClient, ENGINE_API_VERSION } from '../../src/adapters/docker/engine-client.ts';

/** Why the engine at `socketPath` cannot be used, or undefined when it answers a ping. */
export async function dockerUnavailableReason(socketPath: string = DEFAULT_DOCKER_SOCKET): Promise<string | undefined> {
  const client = new DockerEngineClient({ socketPath });
  try {
    await client.ping({ signal: AbortSignal.timeout(5_000) });
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await client.close();
  }
}

export async function dockerAvailable(socketPath: string = DEFAULT_DOCKER_SOCKET): Promise<boolean> {
  return (await dockerUnavailableReason(socketPath)) === undefined;
}

/**
 * For a test's or suite's `skip` option: `describe('...', { skip: await dockerSkip() }, ...)`.
 * False when the engine answers; the reason to skip when it does not; throws when `CI` is set.
 */
export async function dockerSkip(socketPath: string = DEFAULT_DOCKER_SOCKET): Promise<string | false> {
  const reason = await dockerUnavailableReason(socketPath);
  if (reason === undefined) return false;
  if (process.env.CI) throw new Error(`This test needs a Docker engine and CI must not skip it: ${reason}`);
  return `no Docker engine (${reason}); start one with \`dockerd >/var/log/dockerd.log 2>&1 &\``;
}

/**
 * True when the test can go on. Otherwise throws when `CI` is set (the test fails), or marks the
 * test skipped and returns false: `if (!(await requireDocker(t))) return;`. A suite's context
 * cannot skip, so there it throws too: give the suite `{ skip: await dockerSkip() }` instead.
 */
export async function requireDocker(t: TestContext | SuiteContext, socketPath: string = DEFAULT_DOCKER_SOCKET): Promise<boolean> {
  const skip = await dockerSkip(socketPath);
  if (skip === false) return true;
  if (!('skip' in t)) throw new Error(`${skip}; a suite cannot skip from a hook, give it { skip: await dockerSkip() }`);
  t.skip(skip);
  return false;
}

/**
 * `POST /containers/{id}/kill`, as `docker kill` does (SIGKILL unless `signal` says otherwise):
 * the engine client has no kill, since Berth only ever stops containers gracefully.
 */
export async function killContainer(id: string, signal = 'SIGKILL', socketPath: string = DEFAULT_DOCKER_SOCKET): Promise<void> {
  const client = new Client('http://docker', { socketPath });
  try {
    const response = await client.request({
      method: 'POST',
      path: `/v${ENGINE_API_VERSION}/containers/${encodeURIComponent(id)}/kill`,
      query: { signal },
    });
    const text = await response.body.text();
    if (response.statusCode >= 300) throw new Error(`Docker engine answered POST /containers/${id}/kill with ${response.statusCode}: ${text}`);
  } finally {
    await client.close();
  }
}

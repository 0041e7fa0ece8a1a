/**
 * DockerRuntime against the real engine and a real registry: images travel through the registry,
 * instances answer HTTP on their bridge addresses, and installations sharing the engine stay apart.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LABEL } from '../../src/adapters/docker/container-mapping.ts';
import { DockerRuntime } from '../../src/adapters/docker/docker-runtime.ts';
import { DockerEngineClient } from '../../src/adapters/docker/engine-client.ts';
import { isEngineStatus } from '../../src/adapters/docker/engine-error.ts';
import { RuntimeError, type Instance, type InstanceSpec } from '../../src/core/runtime.ts';
import { requireDocker } from '../support/docker.ts';
import { buildHttpImage, EXIT_CODE, EXIT_MESSAGE, pushImage } from '../support/images.ts';
import { startRegistry } from '../support/registry.ts';

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

test('DockerRuntime on a real engine and registry', { timeout: 120_000 }, async (t) => {
  if (!(await requireDocker(t))) return;

  const registry = await startRegistry();
  const client = new DockerEngineClient();
  const runtime = new DockerRuntime({ client, installationId: `test${hex(8)}` });
  const neighbour = new DockerRuntime({ client, installationId: `test${hex(8)}` });
  const crowd = new DockerRuntime({ client, installationId: `test${hex(8)}` });
  const images: string[] = [];
  t.after(async () => {
    await cleanUp(client, [runtime, neighbour, crowd], images);
    await registry.stop();
    await client.close();
  });

  const token = hex(4);
  const body = `hello from berth ${token}\n`;
  const repository = `${registry.host}/berth-test/http`;
  const tagged = `${repository}:${token}`;
  const exitImage = `berth-test/exit:${token}`;
  images.push(tagged, `${repository}:latest`, exitImage);
  let digested = '';

  const spec = (overrides: Partial<InstanceSpec> = {}): InstanceSpec => ({
    instanceId: `i${hex(6)}`,
    serviceId: `s${hex(6)}`,
    serviceName: 'web-app',
    revisionId: `r${hex(6)}`,
    image: digested,
    port: 8080,
    env: {},
    cpuUnits: 256,
    memoryMb: 512,
    ...overrides,
  });

  await t.test('ensureImage pulls an image that only the registry has', async () => {
    await buildHttpImage(client, tagged, { body });
    const { digest } = await pushImage(client, tagged);
    await client.removeImage(tagged, { force: true });
    assert.equal(await client.inspectImage(tagged), undefined);

    await runtime.ensureImage(tagged);
    const pulled = await client.inspectImage(tagged);
    assert.ok(pulled?.RepoDigests?.includes(`${repository}@${digest}`), `pulled image digests: ${pulled?.RepoDigests?.join(', ')}`);
    digested = `${repository}@${digest}`;
    images.push(digested);
  });

  await t.test('ensureImage pulls by digest', async () => {
    await client.removeImage(tagged, { force: true });
    assert.equal(await client.inspectImage(digested), undefined);
    await runtime.ensureImage(digested);
    assert.ok(await client.inspectImage(digested));
  });

  await t.test('a reference without a tag means :latest', async () => {
    await client.tagImage(digested, repository);
    await pushImage(client, `${repository}:latest`);
    await client.removeImage(`${repository}:latest`, { force: true });
    await runtime.ensureImage(repository);
    assert.ok(await client.inspectImage(`${repository}:latest`));
  });

  let first: Instance | undefined;
  await t.test('start runs an instance that answers on its bridge address, without published ports', async () => {
    first = await runtime.start(spec());
    assert.equal(first.state, 'running');
    assert.match(first.address ?? '', /^\d+\.\d+\.\d+\.\d+:8080$/);
    assert.deepEqual(await httpGet(`http://${first.address}/`), { status: 200, body });
    // The serving fixture answers 404 for what it lacks (health-check tests rely on it).
    assert.equal((await httpGet(`http://${first.address}/missing`)).status, 404);
  });

  await t.test('env, PORT and startCommand reach the application', async () => {
    const startCommand = 'echo "$GREETING on $PORT" > /www/env.txt && exec /bin/busybox httpd -f -p "$PORT" -h /www';
    const instance = await runtime.start(spec({ port: 9091, env: { GREETING: 'hi there', PORT: '1' }, startCommand }));
    assert.match(instance.address ?? '', /:9091$/);
    assert.deepEqual(await httpGet(`http://${instance.address}/env.txt`), { status: 200, body: 'hi there on 9091\n' });
  });

  await t.test('containers carry their labels, limits and network', async () => {
    assert.ok(first);
    const inspected = await client.inspectContainer(first.runtimeId);
    assert.ok(inspected);
    assert.equal(inspected.Name, `/berth-web-app-${first.instanceId}`);
    assert.equal(inspected.Config.Labels?.[LABEL.installation], runtime.installationId);
    assert.equal(inspected.Config.Labels?.[LABEL.instanceId], first.instanceId);
    assert.equal(inspected.Config.Labels?.[LABEL.serviceId], first.serviceId);
    assert.equal(inspected.Config.Labels?.[LABEL.revisionId], first.revisionId);
    assert.equal(inspected.Config.Labels?.[LABEL.serviceName], 'web-app');
    assert.ok(inspected.Config.Env?.includes('PORT=8080'));
    assert.equal(inspected.HostConfig.NanoCpus, 250_000_000);
    assert.equal(inspected.HostConfig.Memory, 512 * 1024 * 1024);
    assert.equal(inspected.HostConfig.RestartPolicy?.Name, 'no');
    assert.equal(inspected.HostConfig.Init, true);
    assert.equal(inspected.HostConfig.NetworkMode, runtime.networkName);
    assert.equal(Object.keys(inspected.HostConfig.PortBindings ?? {}).length, 0);
    assert.ok(inspected.NetworkSettings.Networks[runtime.networkName]);
  });

  await t.test("list shows this installation's instances and no one else's", async () => {
    assert.ok(first);
    const foreign = await neighbour.start(spec());
    const listed = await runtime.list();
    assert.deepEqual(listed.map((instance) => instance.state), ['running', 'running']);
    const mine = listed.find((instance) => instance.runtimeId === first?.runtimeId);
    assert.deepEqual(mine, { ...first, createdAt: mine?.createdAt });
    assert.ok(Math.abs((mine?.createdAt ?? 0) - first.createdAt) < 1_000);
    assert.deepEqual((await neighbour.list()).map((instance) => instance.runtimeId), [foreign.runtimeId]);
  });

  await t.test('start replaces a leftover container of the same name', async () => {
    assert.ok(first);
    const again = await runtime.start(spec({ instanceId: first.instanceId, serviceId: first.serviceId, revisionId: first.revisionId }));
    assert.notEqual(again.runtimeId, first.runtimeId);
    assert.equal(await client.inspectContainer(first.runtimeId), undefined);
    first = again;
  });

  await t.test('an instance that exits at once is reported exited, with its code and its stderr', async () => {
    await buildHttpImage(client, exitImage, { behaviour: 'exit' });
    const started = await runtime.start(spec({ image: exitImage }));
    const exited = await waitFor(async () => (await runtime.list()).find((i) => i.runtimeId === started.runtimeId && i.state === 'exited'));
    assert.equal(exited.exitCode, EXIT_CODE);
    assert.equal(exited.address, undefined);
    assert.equal(exited.outOfMemory, undefined, 'a plain exit is not an OOM kill');
    assert.equal(await runtime.logs(started.runtimeId, 10), `${EXIT_MESSAGE}\n`);
  });

  await t.test('instances of a new installation starting together make one network between them', async () => {
    // The engine's duplicate-name check is not atomic: unserialized, this made two networks of
    // one name and every later start failed with "network ... is ambiguous".
    const started = await Promise.all(Array.from({ length: 5 }, () => crowd.start(spec())));
    assert.equal(started.filter((i) => i.state === 'running').length, 5);
    const networks = (await client.listNetworks()).filter((n) => n.Name === crowd.networkName);
    assert.equal(networks.length, 1);
    assert.equal((await crowd.start(spec())).state, 'running');
  });

  await t.test('ensureImage answers the image id, which keeps running the old image after the tag moves', async () => {
    const moving = `${repository}:moving-${token}`;
    images.push(moving);
    const old = await buildHttpImage(client, moving, { body: `old ${token}\n` });
    await pushImage(client, moving);
    await client.removeImage(moving, { force: true });
    const oldId = await runtime.ensureImage(moving);
    assert.match(oldId, /^sha256:[0-9a-f]{64}$/);
    assert.equal(oldId, old.imageId);
    images.push(oldId);
    assert.equal(await runtime.ensureImage(moving), oldId, 'without refresh, what is here');

    // The registry's tag moves to a new image; the engine still has the old one under it.
    const fresh = await buildHttpImage(client, moving, { body: `new ${token}\n` });
    images.push(fresh.imageId);
    await pushImage(client, moving);
    await client.tagImage(oldId, moving);
    assert.equal(await runtime.ensureImage(moving), oldId, 'without refresh, still what is here');
    const newId = await runtime.ensureImage(moving, { refresh: true });
    assert.equal(newId, fresh.imageId);
    assert.equal((await client.inspectImage(moving))?.Id, newId, 'the refresh pulled the moved tag');

    // An id names its image for good: no pull, even when refreshing.
    assert.equal(await runtime.ensureImage(oldId, { refresh: true }), oldId);
    const before = await runtime.start(spec({ image: oldId }));
    const after = await runtime.start(spec({ image: newId }));
    assert.deepEqual(await httpGet(`http://${before.address}/`), { status: 200, body: `old ${token}\n` });
    assert.deepEqual(await httpGet(`http://${after.address}/`), { status: 200, body: `new ${token}\n` });
    assert.equal((await client.inspectContainer(before.runtimeId))?.Image, oldId);
    // The listing reads labels, not the image: an instance started by id maps as any other.
    const listed = (await runtime.list()).find((i) => i.runtimeId === before.runtimeId);
    assert.deepEqual(listed, { ...before, createdAt: listed?.createdAt });
    await runtime.remove(before.runtimeId, 1);
    await runtime.remove(after.runtimeId, 1);

    const gone = `sha256:${'0'.repeat(64)}`;
    await assert.rejects(runtime.ensureImage(gone), (error) => {
      assert.ok(error instanceof RuntimeError);
      assert.equal(error.reason, 'image-pull');
      assert.match(error.message, new RegExp(`'${gone}'.*no image has that id on this engine.*deploy the service again`));
      return true;
    });
  });

  await t.test('an instance killed for going over its memory limit is listed exited with outOfMemory', async (t) => {
    // dd's 256 MiB block is one buffer it fills from /dev/zero: its pages are touched, so resident.
    const started = await runtime.start(spec({ memoryMb: 64, startCommand: 'exec /bin/busybox dd if=/dev/zero of=/dev/null bs=256M count=1' }));
    const exited = await waitFor(async () => (await runtime.list()).find((i) => i.runtimeId === started.runtimeId && i.state === 'exited'), 30_000);
    if (exited.exitCode === 0 && exited.outOfMemory === undefined) {
      // Only where the kernel lacks swap accounting (MemorySwap ignored) and the machine has swap.
      t.skip('dd filled 256 MiB under a 64 MiB limit and exited 0: this engine let it swap instead of OOM-killing it (no swap accounting)');
      return;
    }
    assert.equal(exited.outOfMemory, true, `exited with ${exited.exitCode}: ${await runtime.logs(started.runtimeId, 5)}`);
    assert.equal(exited.exitCode, 137);
    await runtime.remove(started.runtimeId, 1);
  });

  await t.test('storageUsage gives the bytes each running instance wrote outside its image', async () => {
    const filling = await runtime.start(spec({ startCommand: '/bin/busybox dd if=/dev/zero of=/fill bs=1M count=8 && exec /bin/busybox httpd -f -p "$PORT" -h /www' }));
    const fresh = await runtime.start(spec());
    // httpd answers once dd is done.
    assert.equal((await httpGet(`http://${filling.address}/`)).status, 200);
    const usage = await runtime.storageUsage();
    assert.ok((usage.get(filling.runtimeId) ?? 0) >= 8 * 1024 * 1024, `filling: ${usage.get(filling.runtimeId)}`);
    assert.ok((usage.get(fresh.runtimeId) ?? Infinity) < 1024 * 1024, `fresh: ${usage.get(fresh.runtimeId)}`);
    const running = (await runtime.list()).filter((i) => i.state === 'running').map((i) => i.runtimeId);
    assert.deepEqual([...usage.keys()].sort(), running.sort(), 'exactly the running instances of this installation');
    assert.ok(!(await neighbour.storageUsage()).has(filling.runtimeId));
    await runtime.remove(filling.runtimeId, 1);
    await runtime.remove(fresh.runtimeId, 1);
  });

  await t.test('an instance the engine stopped (as dockerd stops every container when it shuts down) lists as exited and removes', async () => {
    const started = await runtime.start(spec());
    // dockerd without live-restore stops containers at shutdown, SIGTERM then SIGKILL; with
    // RestartPolicy 'no' they stay exited when it comes back.
    await client.stopContainer(started.runtimeId, 0);
    const listed = (await runtime.list()).find((i) => i.runtimeId === started.runtimeId);
    assert.equal(listed?.state, 'exited');
    assert.equal(listed.address, undefined);
    assert.equal(typeof listed.exitCode, 'number');
    assert.equal(listed.outOfMemory, undefined);
    assert.ok(!(await runtime.storageUsage()).has(started.runtimeId));
    await runtime.remove(started.runtimeId, 5);
    assert.equal(await client.inspectContainer(started.runtimeId), undefined);
    await runtime.remove(started.runtimeId, 5);
  });

  await t.test('a container with the installation label but no instance id (a build step) is not an instance', async () => {
    const { id } = await client.createContainer(`berth-build-step-${hex(4)}`, { Image: digested, Labels: { [LABEL.installation]: runtime.installationId, [LABEL.serviceId]: 's1' } });
    try {
      const listed = await runtime.list();
      assert.ok(!listed.some((i) => i.runtimeId === id), 'the build step container was listed as an instance');
    } finally {
      await client.removeContainer(id, { force: true });
    }
  });

  await t.test('remove stops and removes an instance; removing it again is fine', async () => {
    assert.ok(first);
    await runtime.remove(first.runtimeId, 2);
    assert.equal(await client.inspectContainer(first.runtimeId), undefined);
    assert.ok(!(await runtime.list()).some((instance) => instance.runtimeId === first?.runtimeId));
    await runtime.remove(first.runtimeId, 2);
  });

  await t.test('a missing image fails with image-pull, naming the image', async () => {
    const missing = `${registry.host}/berth-test/missing:${token}`;
    await assert.rejects(runtime.ensureImage(missing), (error) => {
      assert.ok(error instanceof RuntimeError);
      assert.equal(error.reason, 'image-pull');
      assert.match(error.message, new RegExp(`'${missing}'.*manifest unknown`));
      return true;
    });
    await assert.rejects(runtime.ensureImage('Not/A/Reference'), { name: 'RuntimeError', reason: 'image-pull', message: /Not\/A\/Reference/ });
  });

  await t.test('start fails with start when the engine lacks the image, leaving nothing behind', async () => {
    const before = (await runtime.list()).length;
    const absent = spec({ image: `berth-test/absent:${token}` });
    await assert.rejects(runtime.start(absent), { name: 'RuntimeError', reason: 'start', message: /berth-test\/absent/ });
    assert.equal((await runtime.list()).length, before);
  });
});

/** GET with retries while the app is still binding its port: connection refused until it listens. */
async function httpGet(url: string): Promise<{ status: number; body: string }> {
  return waitFor(async () => {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      return { status: response.status, body: await response.text() };
    } catch {
      return undefined;
    }
  });
}

/** Polls `probe` every 50 ms until it gives a value, for at most `timeoutMs`. */
async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Gave up waiting after ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** Removes every container and network of the given runtimes and the images, whatever state the test left. */
async function cleanUp(client: DockerEngineClient, runtimes: DockerRuntime[], images: string[]): Promise<void> {
  const ignoreMissing = (error: unknown): void => {
    if (!isEngineStatus(error, 404)) throw error;
  };
  for (const runtime of runtimes) {
    const containers = await client.listContainers({ all: true, labels: [`${LABEL.installation}=${runtime.installationId}`] });
    await Promise.all(containers.map((c) => client.removeContainer(c.Id, { force: true, volumes: true }).catch(ignoreMissing)));
    await client.removeNetwork(runtime.networkName).catch(ignoreMissing);
  }
  for (const image of images) await client.removeImage(image, { force: true }).catch(ignoreMissing);
}

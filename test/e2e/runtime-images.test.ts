/**
 * os-packages mode for real: `berth-os/debian:bookworm` made with debootstrap from Debian's
 * mirror and imported, then `berth-runtime/nodejs:bookworm` (Debian's Node.js 18, NODEJS_18),
 * `berth-runtime/nodejs22:bookworm` (Node.js 22 from the npm registry over it) and
 * `berth-runtime/python:bookworm` built from their recipes, then a detected Node.js and Python
 * source built on them.
 *
 * The first run on a machine takes minutes; the images stay in the engine, so a later run only
 * checks them. Each phase's time goes to the test's diagnostics. Run alone with
 * `node --test test/e2e/runtime-images.test.ts`; remove the images (`docker rmi
 * berth-runtime/nodejs22:bookworm berth-runtime/nodejs:bookworm berth-runtime/python:bookworm
 * berth-os/debian:bookworm`) to measure a cold start.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DockerBuilder } from '../../src/adapters/docker/docker-builder.ts';
import { DockerEngineClient } from '../../src/adapters/docker/engine-client.ts';
import { RuntimeImageProvider, debianBaseImage, osPackagesImages } from '../../src/adapters/docker/runtime-images.ts';
import { planBuild } from '../../src/core/build/build-plan.ts';
import { dockerSkip } from '../support/docker.ts';
import { TEST_LOCK_DIR, ensureOsRuntimeImages } from '../support/runtime-images.ts';

const skip = await dockerSkip();

describe('os-packages runtime images', { skip, timeout: 45 * 60_000 }, () => {
  const client = new DockerEngineClient();
  const { images, provider } = osPackagesImages({ client, lockDir: TEST_LOCK_DIR });
  const removeAfter: string[] = [];
  const directories: string[] = [];

  after(async () => {
    for (const image of removeAfter) await client.removeImage(image).catch(() => undefined);
    for (const directory of directories) rmSync(directory, { recursive: true, force: true });
    await client.close();
  });

  /** Ensures `image`, reporting how long it took and whether it had to be made. */
  async function timedEnsure(t: TestContext, image: string): Promise<string[]> {
    const existed = (await client.inspectImage(image)) !== undefined;
    const lines: string[] = [];
    const started = performance.now();
    await provider.ensure([image], (line) => lines.push(line));
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    t.diagnostic(`${image}: ${existed ? 'already there, checked' : 'made'} in ${seconds} s`);
    assert.ok((await client.inspectImage(image)) !== undefined, `${image} exists`);
    return lines;
  }

  /** Runs `command` in `image` to its end; resolves with its output and exit code. */
  async function runOnce(image: string, command: string): Promise<{ output: string; exitCode: number }> {
    const { id } = await client.createContainer(`berth-e2e-runtime-${randomBytes(4).toString('hex')}`, {
      Image: image,
      Entrypoint: ['/bin/sh', '-c'],
      Cmd: [command],
      HostConfig: { NetworkMode: 'none' },
    });
    try {
      await client.startContainer(id);
      let state = await client.inspectContainer(id);
      for (let i = 0; i < 300 && state?.State.Running === true; i += 1) {
        await sleep(100);
        state = await client.inspectContainer(id);
      }
      const output = (await client.containerLogs(id)).map((frame) => frame.data.toString()).join('');
      return { output, exitCode: state?.State.ExitCode ?? -1 };
    } finally {
      await client.removeContainer(id, { force: true });
    }
  }

  test('the Debian base: debootstrap, then import', async (t) => {
    const lines = await timedEnsure(t, debianBaseImage());
    if (lines.length > 0) assert.ok(lines.some((line) => line.startsWith('Making base image berth-os/debian:bookworm: a Debian bookworm root file system with debootstrap')), lines.join('\n'));
    const { output } = await runOnce(debianBaseImage(), '. /etc/os-release; echo "$VERSION_CODENAME"; test -e /etc/dpkg/dpkg.cfg.d/berth-slim && echo slim');
    assert.equal(output, 'bookworm\nslim\n');
  });

  test('NODEJS_18 runs on berth-runtime/nodejs:bookworm: Debian\'s Node.js 18 and npm', async (t) => {
    assert.equal(images.NODEJS_18.run, 'berth-runtime/nodejs:bookworm');
    const lines = await timedEnsure(t, images.NODEJS_18.run);
    if (lines.length > 0) assert.ok(lines.some((line) => line.startsWith('Building base image berth-runtime/nodejs:bookworm')), lines.join('\n'));
    const { output, exitCode } = await runOnce(images.NODEJS_18.run, 'node --version && npm --version');
    assert.equal(exitCode, 0, output);
    assert.match(output, /^v18\.\d+\.\d+\n\d+\.\d+\.\d+\n$/);
    t.diagnostic(`node and npm: ${output.trim().replace('\n', ', ')}`);
  });

  // A bug: every NODEJS_* runtime ran on Debian's Node.js 18, so `runtime: nodejs22` got 18.
  test('NODEJS_22 runs on berth-runtime/nodejs22:bookworm: Node.js 22 from the npm registry, with its npm', async (t) => {
    assert.equal(images.NODEJS_22.run, 'berth-runtime/nodejs22:bookworm');
    const lines = await timedEnsure(t, images.NODEJS_22.run);
    if (lines.length > 0) {
      assert.ok(lines.some((line) => line.startsWith(`Building base image berth-runtime/nodejs22:bookworm from Node.js 22 (node-linux-${process.arch}@22)`)), lines.join('\n'));
    }
    // npm and npx are scripts run by whichever `node` PATH finds first; `npm version` names it.
    const { output, exitCode } = await runOnce(images.NODEJS_22.run, 'node --version && npm --version && npx --version && npm version --json | grep \'"node":\' && echo "$npm_config_nodedir"');
    assert.equal(exitCode, 0, output);
    assert.match(output, /^v22\.\d+\.\d+\n10\.\d+\.\d+\n10\.\d+\.\d+\n {2}"node": "22\.\d+\.\d+",\n\/opt\/node\n$/);
    t.diagnostic(`node and npm: ${output.trim().split('\n').slice(0, 2).join(', ')}`);
    // Debian's own Node.js stays where Debian's packages look for it.
    assert.match((await runOnce(images.NODEJS_22.run, '/usr/bin/node --version')).output, /^v18\./);
  });

  test('berth-runtime/python:bookworm runs python3 and pip3, which may install system-wide', async (t) => {
    const lines = await timedEnsure(t, images.PYTHON_311.run);
    if (lines.length > 0) assert.ok(lines.some((line) => line.startsWith('Building base image berth-runtime/python:bookworm')), lines.join('\n'));
    const { output, exitCode } = await runOnce(images.PYTHON_311.run, 'python3 --version && pip3 --version && echo "PIP_BREAK_SYSTEM_PACKAGES=$PIP_BREAK_SYSTEM_PACKAGES"');
    assert.equal(exitCode, 0, output);
    assert.match(output, /^Python 3\.11\.\d+\npip \d+[\d.]* from .*\nPIP_BREAK_SYSTEM_PACKAGES=1\n$/);
    t.diagnostic(`python: ${output.split('\n')[0] ?? ''}`);
  });

  test('the test helper makes every Node.js and Python runtime\'s image, each on its own major', async (t) => {
    const started = performance.now();
    const lines: string[] = [];
    const ready = await ensureOsRuntimeImages({ client, onLog: (line) => lines.push(line) });
    const built = lines.filter((line) => line.startsWith('Built base image'));
    t.diagnostic(`ensureOsRuntimeImages: ${((performance.now() - started) / 1000).toFixed(1)} s${built.length > 0 ? `; ${built.join('; ')}` : ', all there'}`);
    assert.deepEqual(ready.images.NODEJS_22, images.NODEJS_22);
    for (const [name, major] of [['NODEJS_12', 12], ['NODEJS_14', 14], ['NODEJS_16', 16], ['NODEJS_18', 18], ['NODEJS_22', 22]] as const) {
      const { output, exitCode } = await runOnce(ready.images[name].run, 'node --version && npm --version');
      assert.equal(exitCode, 0, `${name}: ${output}`);
      assert.match(output, new RegExp(`^v${major}\\.`), `${name}: ${output}`);
    }
  });

  test('detected Node.js and Python sources build on them, cold then from cache', async (t) => {
    const builder = new DockerBuilder({ client, installationId: 'test-runtime-images', baseImages: provider });
    const marker = randomBytes(4).toString('hex');
    const sources = {
      node: {
        'package.json': JSON.stringify({ name: 'hello', version: '1.0.0', scripts: { build: `echo build-${marker} > built.txt`, start: 'node app.js' } }),
        'package-lock.json': JSON.stringify({ name: 'hello', version: '1.0.0', lockfileVersion: 3, requires: true, packages: { '': { name: 'hello', version: '1.0.0' } } }),
        'app.js': 'console.log(require("fs").readFileSync("/app/built.txt", "utf8").trim())\n',
      },
      python: {
        'requirements.txt': `# nothing to install: PyPI is not reachable from here (${marker})\n`,
        'app.py': 'print("python", __import__("sys").version_info[:2])\n',
      },
    };
    for (const [language, files] of Object.entries(sources)) {
      const directory = mkdtempSync(join(tmpdir(), `berth-e2e-${language}-`));
      directories.push(directory);
      for (const [name, content] of Object.entries(files)) writeFileSync(join(directory, name), content);
      const plan = planBuild({ files: Object.keys(files) }, { ConfigurationSource: 'REPOSITORY' }, images);
      const timings: string[] = [];
      let image = '';
      for (const attempt of ['cold', 'cached']) {
        const lines: string[] = [];
        const started = performance.now();
        ({ image } = await builder.build({
          buildId: randomBytes(8).toString('hex'),
          serviceId: randomBytes(16).toString('hex'),
          serviceName: `e2e-${language}`,
          revisionId: '1',
          sourceDirectory: directory,
          plan,
          onLog: (line) => lines.push(line),
        }));
        removeAfter.push(image);
        timings.push(`${attempt} ${((performance.now() - started) / 1000).toFixed(1)} s`);
        if (attempt === 'cached') assert.ok(lines.filter((line) => line === ' ---> Using cache').length >= 4, lines.join('\n'));
      }
      t.diagnostic(`${language} generated build: ${timings.join(', ')}`);
      const command = language === 'node' ? 'cd /app && node app.js' : 'cd /app && python3 app.py';
      const { output, exitCode } = await runOnce(image, command);
      assert.equal(exitCode, 0, output);
      assert.equal(output, language === 'node' ? `build-${marker}\n` : 'python (3, 11)\n');
    }
  });

  test('two providers (as two processes would) make a missing image once, and waiters in one provider share it', async () => {
    const recipe = {
      image: `berth-test/lock-probe:${randomBytes(4).toString('hex')}`,
      language: 'nodejs' as const,
      contents: 'a probe',
      dockerfile: `FROM ${debianBaseImage()}\nRUN ["/bin/sh","-c","sleep 2"]\n`,
    };
    removeAfter.push(recipe.image);
    const providers = [0, 1].map(() => new RuntimeImageProvider({ client, lockDir: TEST_LOCK_DIR, recipes: [recipe], debian: {} }));
    const logs: string[][] = [[], [], []];
    await Promise.all([
      providers[0]?.ensure([recipe.image], (line) => logs[0]?.push(line)),
      providers[1]?.ensure([recipe.image], (line) => logs[1]?.push(line)),
      providers[1]?.ensure([recipe.image], (line) => logs[2]?.push(line)),
    ]);
    const builders = logs.filter((log) => log.some((line) => line.startsWith(`Building base image ${recipe.image}`)));
    // Provider 1's two callers share one creation and both see its output; provider 0 or 1 built it.
    assert.ok(builders.length === 1 || (builders.length === 2 && builders.includes(logs[1] ?? []) && builders.includes(logs[2] ?? [])), logs.map((l) => l.join('\n')).join('\n---\n'));
    assert.ok(logs[2]?.some((line) => line.startsWith(`Waiting for base image ${recipe.image}`)), logs[2]?.join('\n'));
    const waitedForLock = logs.some((log) => log.some((line) => /^Waiting for process \d+ on .* to finish preparing base image/.test(line)));
    assert.ok(waitedForLock, logs.map((l) => l.join('\n')).join('\n---\n'));
  });
});

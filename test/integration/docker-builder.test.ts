/**
 * DockerBuilder against the real engine, on a busybox base image made here (no registry, no
 * debootstrap: test/e2e/runtime-images.test.ts covers the Debian images). Covers both plan
 * kinds, the image it labels and configures, failures named by step and command, the layer
 * cache, `.dockerignore` and symbolic links, logs that arrive while the build runs, the context
 * limit, cancellation and an engine that is not there.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BUILD_LABEL, DockerBuilder } from '../../src/adapters/docker/docker-builder.ts';
import { DockerEngineClient } from '../../src/adapters/docker/engine-client.ts';
import { RuntimeImageProvider } from '../../src/adapters/docker/runtime-images.ts';
import { planBuild, type BuildPlan, type CodeConfiguration } from '../../src/core/build/build-plan.ts';
import { runtimeImageMap } from '../../src/core/build/managed-runtimes.ts';
import { BuildError, type BuildRequest } from '../../src/core/builder.ts';
import { createTarArchive, type TarEntry } from '../../src/core/tar-archive.ts';
import { dockerSkip } from '../support/docker.ts';
import { FIXTURE_LABEL } from '../support/images.ts';
import { TEST_LOCK_DIR } from '../support/runtime-images.ts';

/** busybox with every applet linked in /bin, and /usr/bin/env for the `env NAME=value` RUN form. */
const BASE = 'berth-test/builder-base:1';
const INSTALLATION = 'test-builder';

const skip = await dockerSkip();

describe('DockerBuilder', { skip, timeout: 600_000 }, () => {
  const client = new DockerEngineClient();
  const provider = new RuntimeImageProvider({ client, lockDir: TEST_LOCK_DIR });
  const builder = new DockerBuilder({ client, installationId: INSTALLATION, baseImages: provider });
  const images = runtimeImageMap({ NODEJS_22: BASE, PYTHON_3: BASE });
  const built: string[] = [];
  const directories: string[] = [];

  before(async () => {
    const applets = execFileSync('/bin/busybox', ['--list']).toString().trim().split('\n');
    const entries: TarEntry[] = [
      { type: 'file', path: 'Dockerfile', content: 'FROM scratch\nCOPY rootfs/ /\nCMD ["/bin/sh"]\n' },
      { type: 'directory', path: 'rootfs/bin' },
      { type: 'file', path: 'rootfs/bin/busybox', content: readFileSync('/bin/busybox'), mode: 0o755 },
      ...applets.filter((name) => name !== 'busybox').map((name): TarEntry => ({ type: 'symlink', path: `rootfs/bin/${name}`, target: 'busybox' })),
      { type: 'directory', path: 'rootfs/usr/bin' },
      { type: 'symlink', path: 'rootfs/usr/bin/env', target: '/bin/busybox' },
      { type: 'directory', path: 'rootfs/tmp', mode: 0o1777 },
    ];
    await client.buildImage(createTarArchive(entries), { tag: BASE, labels: { [FIXTURE_LABEL]: 'true' } });
  });

  after(async () => {
    for (const image of built) await builder.discard(image);
    for (const directory of directories) rmSync(directory, { recursive: true, force: true });
    await client.close();
  });

  function source(files: Record<string, string>): string {
    const directory = mkdtempSync(join(tmpdir(), 'berth-build-source-'));
    directories.push(directory);
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(join(directory, path, '..'), { recursive: true });
      writeFileSync(join(directory, path), content);
    }
    return directory;
  }

  function request(sourceDirectory: string, plan: BuildPlan, overrides: Partial<BuildRequest> = {}): BuildRequest & { lines: string[] } {
    const lines: string[] = [];
    return {
      buildId: randomBytes(8).toString('hex'),
      serviceId: randomBytes(16).toString('hex'),
      serviceName: 'builder-test',
      revisionId: randomBytes(8).toString('hex'),
      sourceDirectory,
      plan,
      onLog: (line) => lines.push(line),
      lines,
      ...overrides,
    };
  }

  async function build(req: BuildRequest): Promise<string> {
    const { image } = await builder.build(req);
    built.push(image);
    return image;
  }

  const api = (values: Record<string, unknown>): CodeConfiguration => ({
    ConfigurationSource: 'API',
    CodeConfigurationValues: { Runtime: 'NODEJS_22', StartCommand: 'cat /app/built.txt', ...values } as never,
  });

  /** Runs `command` in `image` to its end, without a network; resolves with its output. */
  async function runOnce(image: string, command: string): Promise<string> {
    const name = `berth-builder-test-${randomBytes(4).toString('hex')}`;
    const { id } = await client.createContainer(name, { Image: image, Entrypoint: ['/bin/sh', '-c'], Cmd: [command], HostConfig: { NetworkMode: 'none' } });
    try {
      await client.startContainer(id);
      for (let i = 0; i < 100 && (await client.inspectContainer(id))?.State.Running === true; i += 1) await sleep(100);
      return (await client.containerLogs(id)).map((frame) => frame.data.toString()).join('');
    } finally {
      await client.removeContainer(id, { force: true });
    }
  }

  test('a dockerfile plan builds the source Dockerfile into a labelled berth-build image', async () => {
    const directory = source({ Dockerfile: `FROM ${BASE}\nCOPY . /src\nCMD ["cat", "/src/hello.txt"]\n`, 'hello.txt': 'hello\n' });
    const plan = planBuild({ files: ['Dockerfile', 'hello.txt'] }, { ConfigurationSource: 'REPOSITORY' });
    assert.equal(plan.kind, 'dockerfile');
    const req = request(directory, plan, { serviceId: 'ABCDEF0123456789abcdef0123456789' });
    const image = await build(req);
    assert.equal(image, `berth-build/abcdef0123456789abcdef0123456789:${req.buildId}`);
    const inspected = await client.inspectImage(image);
    assert.deepEqual(
      Object.fromEntries(Object.entries(inspected?.Config?.Labels ?? {}).filter(([key]) => key.startsWith('berth.'))),
      {
        [BUILD_LABEL.installation]: INSTALLATION,
        [BUILD_LABEL.serviceId]: req.serviceId,
        [BUILD_LABEL.revisionId]: req.revisionId,
        [BUILD_LABEL.buildId]: req.buildId,
        [FIXTURE_LABEL]: 'true',
      },
    );
    assert.ok(req.lines.some((line) => line.startsWith('Step 2/') && line.endsWith(' : COPY . /src')), req.lines.join('\n'));

    await builder.discard(image);
    assert.equal(await client.inspectImage(image), undefined);
    await builder.discard(image);
  });

  test('a generated plan: build commands run in the build stage, /app reaches the run image with its CMD and ENV', async () => {
    const directory = source({ 'package.json': '{}', 'app.js': 'console.log(1)\n' });
    const plan = planBuild(
      { files: ['package.json', 'app.js'] },
      api({ BuildCommand: 'echo built > /app/built.txt', RuntimeEnvironmentVariables: { GREETING: 'hello world' }, Port: '3000' }),
      images,
    );
    assert.equal(plan.kind, 'generated');
    const image = await build(request(directory, plan));
    const config = (await client.inspectImage(image))?.Config as { Cmd?: string[]; Env?: string[] } | undefined;
    assert.deepEqual(config?.Cmd, ['/bin/sh', '-c', 'cat /app/built.txt']);
    assert.ok(config?.Env?.includes('PORT=3000') && config.Env.includes('GREETING=hello world'), JSON.stringify(config?.Env));
    assert.equal(await runOnce(image, 'cat /app/built.txt'), 'built\n');
    // Berth's Dockerfile and .dockerignore were read by the engine, then dropped from the context.
    assert.equal(await runOnce(image, 'ls -A /app | sort | tr "\\n" " "'), 'app.js built.txt package.json ');
  });

  test('a failing build command is a BuildError naming the step, the command, its exit code and output', async () => {
    const directory = source({ 'package.json': '{}' });
    const failing = 'echo about to fail; echo oops >&2; exit 7';
    const plan = planBuild({ files: ['package.json'] }, api({ BuildCommand: failing }), images);
    await assert.rejects(builder.build(request(directory, plan)), (error) => {
      assert.ok(error instanceof BuildError, String(error));
      assert.equal(error.command, failing);
      assert.match(error.message, /^Build failed at step 4\/\d+: the command 'echo about to fail; echo oops >&2; exit 7' exited with code 7; last output: (about to fail \| oops|oops \| about to fail)$/);
      assert.ok(error.outputTail.includes('about to fail') && error.outputTail.includes('oops'), error.outputTail.join('\n'));
      return true;
    });
  });

  test('a failing command run through env NAME=value (pre-run with build env) reports the command alone', async () => {
    const yaml = [
      'version: 1.0',
      'runtime: nodejs22',
      'build:',
      '  commands:',
      '    build:',
      '      - echo "building for $STAGE"',
      '  env:',
      '    - name: STAGE',
      '      value: test',
      'run:',
      '  pre-run:',
      '    - echo "pre-run for $STAGE"; exit 9',
      '  command: node app.js',
      '',
    ].join('\n');
    const directory = source({ 'apprunner.yaml': yaml });
    const plan = planBuild({ files: ['apprunner.yaml'], apprunnerYaml: yaml }, { ConfigurationSource: 'REPOSITORY' }, images);
    await assert.rejects(builder.build(request(directory, plan)), (error) => {
      assert.ok(error instanceof BuildError, String(error));
      assert.equal(error.command, 'echo "pre-run for $STAGE"; exit 9');
      assert.match(error.message, /exited with code 9; last output: pre-run for test$/);
      return true;
    });
  });

  test('an unchanged rebuild is served from the layer cache', async (t) => {
    const marker = randomBytes(6).toString('hex');
    const directory = source({ 'package.json': '{}', 'marker.txt': marker });
    const plan = planBuild({ files: ['package.json', 'marker.txt'] }, api({ BuildCommand: `sleep 1; echo ${marker} > /app/built.txt` }), images);
    const coldStart = performance.now();
    const cold = request(directory, plan);
    await build(cold);
    const coldMs = performance.now() - coldStart;
    const warmStart = performance.now();
    const warm = request(directory, plan);
    await build(warm);
    const warmMs = performance.now() - warmStart;
    t.diagnostic(`generated build on busybox: cold ${coldMs.toFixed(0)} ms, unchanged rebuild ${warmMs.toFixed(0)} ms`);
    const runStep = warm.lines.findIndex((line) => /^Step \d+\/\d+ : RUN .*sleep 1/.test(line));
    assert.ok(runStep >= 0, warm.lines.join('\n'));
    assert.equal(warm.lines[runStep + 1], ' ---> Using cache', warm.lines.join('\n'));
    assert.ok(!cold.lines.includes(' ---> Using cache') || cold.lines.indexOf(' ---> Using cache') < cold.lines.findIndex((line) => line.includes('sleep 1')));
    assert.ok(warmMs < coldMs, `cached ${warmMs} ms should beat cold ${coldMs} ms`);
  });

  test('.dockerignore is honoured and symbolic links stay links, never followed out of the directory', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'berth-outside-'));
    directories.push(outside);
    writeFileSync(join(outside, 'private.txt'), 'private');
    const checks = [
      'set -e', 'cd /src',
      'test ! -e node_modules', 'test ! -e debug.log', 'test -e sub/debug.log', 'test -e keep.log', 'test ! -e x/y/z.tmp',
      'test ! -e .git', 'test ! -e Dockerfile', 'test ! -e .dockerignore',
      'test -L main.js', 'test "$(readlink main.js)" = app.js', 'test "$(cat main.js)" = app',
      'test -L outside', 'test ! -e outside/private.txt', 'test -L private.txt', 'test ! -e private.txt',
      'echo checks passed',
    ].join('; ');
    const directory = source({
      Dockerfile: `FROM ${BASE}\nCOPY . /src\nRUN ${JSON.stringify(['/bin/sh', '-c', checks])}\n`,
      '.dockerignore': 'Dockerfile\n.dockerignore\nnode_modules/\n*.log\n!keep.log\n**/*.tmp\n',
      'app.js': 'app',
      'node_modules/pkg/index.js': '',
      'debug.log': '', 'keep.log': '', 'sub/debug.log': '', 'x/y/z.tmp': '',
      '.git/HEAD': 'ref: refs/heads/main\n',
    });
    symlinkSync('app.js', join(directory, 'main.js'));
    symlinkSync(outside, join(directory, 'outside'));
    symlinkSync(join(outside, 'private.txt'), join(directory, 'private.txt'));
    const req = request(directory, planBuild({ files: ['Dockerfile'] }, { ConfigurationSource: 'REPOSITORY' }));
    await build(req);
    assert.ok(req.lines.includes('checks passed'), req.lines.join('\n'));
  });

  test('log lines arrive while the build runs, not when it ends', async () => {
    const marker = randomBytes(6).toString('hex');
    const directory = source({ Dockerfile: `FROM ${BASE}\nRUN ["/bin/sh","-c","echo early-${marker}; sleep 2; echo late-${marker}"]\n` });
    let earlyAt = 0;
    const req = request(directory, planBuild({ files: ['Dockerfile'] }, { ConfigurationSource: 'REPOSITORY' }), {
      onLog: (line) => {
        if (line === `early-${marker}`) earlyAt = performance.now();
      },
    });
    await build(req);
    const doneAt = performance.now();
    assert.ok(earlyAt > 0, 'the early line was logged');
    assert.ok(doneAt - earlyAt > 1_500, `early line came ${(doneAt - earlyAt).toFixed(0)} ms before the end`);
  });

  test('a context over the limit fails before the engine sees it', async () => {
    const limited = new DockerBuilder({ client, installationId: INSTALLATION, baseImages: provider, maxContextBytes: 1024 });
    const directory = source({ Dockerfile: `FROM ${BASE}\n`, 'big.bin': 'x'.repeat(4096) });
    await assert.rejects(limited.build(request(directory, planBuild({ files: ['Dockerfile'] }, { ConfigurationSource: 'REPOSITORY' }))), (error) => {
      assert.ok(error instanceof BuildError);
      assert.match(error.message, /build context is larger than the limit of 1024 bytes/);
      return true;
    });
  });

  test('aborting stops the build in the engine too', async () => {
    const marker = randomBytes(6).toString('hex');
    const directory = source({ Dockerfile: `FROM ${BASE}\nRUN ["/bin/sh","-c","echo started-${marker}; sleep 60"]\n` });
    const controller = new AbortController();
    const reason = new Error('cancelled by the test');
    const req = request(directory, planBuild({ files: ['Dockerfile'] }, { ConfigurationSource: 'REPOSITORY' }), {
      signal: controller.signal,
      onLog: (line) => {
        if (line === `started-${marker}`) controller.abort(reason);
      },
    });
    const started = performance.now();
    await assert.rejects(builder.build(req), (error) => error === reason);
    assert.ok(performance.now() - started < 30_000);
    // The engine removes the step's container once it notices the client has gone.
    let running = true;
    for (let i = 0; i < 100 && running; i += 1) {
      const containers = await client.listContainers({ all: true });
      running = containers.some((c) => (c as unknown as { Command: string }).Command.includes(marker));
      if (running) await sleep(200);
    }
    assert.equal(running, false, 'the RUN container is gone');
    assert.equal(await client.inspectImage(`berth-build/${req.serviceId}:${req.buildId}`), undefined);
  });

  test('no engine at the socket is a BuildError that says so', async () => {
    const absent = new DockerBuilder({ socketPath: join(tmpdir(), 'berth-no-engine.sock'), installationId: INSTALLATION, baseImages: provider });
    const directory = source({ Dockerfile: `FROM ${BASE}\n` });
    await assert.rejects(absent.build(request(directory, planBuild({ files: ['Dockerfile'] }, { ConfigurationSource: 'REPOSITORY' }))), (error) => {
      assert.ok(error instanceof BuildError);
      assert.match(error.message, /^Build could not start: Docker engine not reachable at .*berth-no-engine\.sock/);
      return true;
    });
    await absent.close();
  });
});

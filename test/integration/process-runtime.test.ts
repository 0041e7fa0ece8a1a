/**
 * ProcessBuilder and ProcessRuntime with real processes and files: builds with the machine's own
 * node and python3, instances answering HTTP on their own loopback ports, a second runtime over
 * the same directory standing in for a restarted control plane, exit codes, SIGKILL after the
 * grace, and the cgroup v2 limits decision. Every instance started is removed afterwards.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { cgroupOomKills, probeCgroupV2 } from '../../src/adapters/process/cgroup-limits.ts';
import { PROCESS_IMAGE_PREFIX, parseProcessImage } from '../../src/adapters/process/process-artifact.ts';
import { ProcessBuilder } from '../../src/adapters/process/process-builder.ts';
import { ProcessRuntime } from '../../src/adapters/process/process-runtime.ts';
import { planBuild, type CodeConfiguration } from '../../src/core/build/build-plan.ts';
import { BuildError } from '../../src/core/builder.ts';
import { RuntimeError, type Instance, type InstanceSpec } from '../../src/core/runtime.ts';

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');
const PATH = process.env['PATH'] ?? '/usr/bin:/bin';

const NODE_SERVER = `
const { createServer } = require('node:http');
const { readFileSync } = require('node:fs');
const built = readFileSync('built.txt', 'utf8').trim();
createServer((req, res) => res.end(\`\${built} port=\${process.env.PORT} greeting=\${process.env.GREETING}\`))
  .listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening on', process.env.PORT));
`;

const PYTHON_APP = `
import os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{os.environ['MESSAGE']} prefix={sys.prefix} port={os.environ['PORT']}".encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

HTTPServer(('127.0.0.1', int(os.environ['APP_PORT'])), Handler).serve_forever()
`;

const APPRUNNER_YAML = `version: 1.0
runtime: python311
build:
  commands:
    build:
      - pip3 install -r requirements.txt
run:
  runtime-version: 3.11.9
  command: python3 app.py
  network:
    port: 8000
    env: APP_PORT
  env:
    - name: MESSAGE
      value: hello from python
`;

test('ProcessBuilder and ProcessRuntime with real processes', { timeout: 180_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-process-'));
  const installationId = `test${hex(8)}`;
  const builder = new ProcessBuilder({ root, searchPath: PATH });
  const runtime = new ProcessRuntime({ root, installationId, searchPath: PATH });
  t.after(async () => {
    // A fresh runtime over the root sees every instance any runtime here started.
    const sweeper = new ProcessRuntime({ root, installationId, searchPath: PATH });
    for (const instance of await sweeper.list()) await sweeper.remove(instance.runtimeId, 0);
    await rm(root, { recursive: true, force: true });
  });

  const makeSource = async (files: Record<string, string>): Promise<string> => {
    const dir = join(root, 'sources', hex(6));
    for (const [name, text] of Object.entries(files)) {
      await mkdir(dirname(join(dir, name)), { recursive: true });
      await writeFile(join(dir, name), text);
    }
    return dir;
  };
  const build = async (dir: string, configuration: CodeConfiguration, signal?: AbortSignal): Promise<{ image: string; log: string[] }> => {
    const files = await readdir(dir);
    const yaml = files.includes('apprunner.yaml') ? await readFile(join(dir, 'apprunner.yaml'), 'utf8') : undefined;
    const plan = planBuild(yaml === undefined ? { files } : { files, apprunnerYaml: yaml }, configuration);
    const log: string[] = [];
    const result = await builder.build({
      buildId: hex(16),
      serviceId: hex(16),
      serviceName: 'web',
      revisionId: hex(16),
      sourceDirectory: dir,
      plan,
      onLog: (line) => log.push(line),
      ...(signal === undefined ? {} : { signal }),
    });
    return { image: result.image, log };
  };
  const spec = (image: string, overrides: Partial<InstanceSpec> = {}): InstanceSpec => ({
    instanceId: `i${hex(6)}`,
    serviceId: `s${hex(6)}`,
    serviceName: 'web',
    revisionId: `r${hex(6)}`,
    image,
    port: 8080,
    env: {},
    cpuUnits: 1024,
    memoryMb: 2048,
    ...overrides,
  });
  const api = (values: Record<string, unknown>): CodeConfiguration => ({
    ConfigurationSource: 'API',
    CodeConfigurationValues: { Runtime: 'NODEJS_22', ...values } as never,
  });

  let nodeImage = '';
  const running: Instance[] = [];

  await t.test('a Node.js build from CodeConfigurationValues runs as two instances, each on its own port', async () => {
    const dir = await makeSource({ 'server.js': NODE_SERVER, '.git/HEAD': 'ref: refs/heads/main\n' });
    await symlink('/etc', join(dir, 'outside'));
    const { image, log } = await build(dir, api({
      BuildCommand: 'echo built-by-berth > built.txt',
      StartCommand: 'node server.js',
      RuntimeEnvironmentVariables: { GREETING: 'hi' },
    }));
    nodeImage = image;
    assert.ok(image.startsWith(PROCESS_IMAGE_PREFIX), image);
    assert.ok(log.some((l) => /^berth: node on this machine: v\d+/.test(l)), log.join('\n'));
    const app = join(root, 'builds', parseProcessImage(image) ?? '', 'app');
    assert.equal((await readFile(join(app, 'built.txt'), 'utf8')).trim(), 'built-by-berth');
    assert.equal(existsSync(join(app, '.git')), false, '.git is not copied');
    assert.ok((await lstat(join(app, 'outside'))).isSymbolicLink(), 'a symbolic link stays a link');
    assert.equal(await readlink(join(app, 'outside')), '/etc');

    assert.equal(await runtime.ensureImage(image), image, 'a build cannot move: its name pins it');
    assert.equal(await runtime.ensureImage(image, { refresh: true }), image);
    const first = await runtime.start(spec(image));
    const second = await runtime.start(spec(image, { serviceId: first.serviceId, revisionId: first.revisionId }));
    running.push(first, second);
    assert.equal(first.state, 'running');
    assert.notEqual(first.address, second.address);
    for (const instance of [first, second]) {
      const port = instance.address?.split(':')[1];
      assert.equal(await fetchText(instance.address), `built-by-berth port=${port} greeting=hi`);
    }
  });

  await t.test('a new runtime over the same root (a restarted control plane) lists what runs', async () => {
    const restarted = new ProcessRuntime({ root, installationId, searchPath: PATH });
    const listed = await restarted.list();
    for (const instance of running) {
      const found = listed.find((i) => i.instanceId === instance.instanceId);
      assert.equal(found?.state, 'running');
      assert.equal(found.address, instance.address);
      assert.equal(found.revisionId, instance.revisionId);
      assert.equal(found.createdAt, instance.createdAt);
      assert.match(await fetchText(found.address), /^built-by-berth/);
    }
    const stranger = new ProcessRuntime({ root, installationId: `other${hex(4)}`, searchPath: PATH });
    assert.deepEqual(await stranger.list(), [], 'another installation sees none of them');
  });

  await t.test('an instance outlives a control plane that crashes, and its exit code is still read afterwards', async () => {
    // The control plane is another Node process, SIGKILLed once start() has resolved.
    const app = `node -e "require('http').createServer((q, s) => { s.end('bye'); setTimeout(() => process.exit(4), 50); }).listen(Number(process.env.PORT), '127.0.0.1')"`;
    const script = `
      const { ProcessRuntime } = await import(${JSON.stringify(new URL('../../src/adapters/process/process-runtime.ts', import.meta.url).href)});
      const runtime = new ProcessRuntime(${JSON.stringify({ root, installationId, searchPath: PATH })});
      const instance = await runtime.start(${JSON.stringify(spec(nodeImage, { startCommand: app }))});
      process.stdout.write(JSON.stringify(instance) + '\\n');
      setInterval(() => {}, 1000);
    `;
    const controlPlane = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = (await once(controlPlane.stdout.setEncoding('utf8'), 'data')) as [string];
    const instance = JSON.parse(line) as Instance;
    controlPlane.kill('SIGKILL');
    await once(controlPlane, 'exit');

    const listed = (await runtime.list()).find((i) => i.instanceId === instance.instanceId);
    assert.equal(listed?.state, 'running');
    assert.equal(await fetchText(listed.address), 'bye');
    const exited = await waitFor(async () => (await runtime.list()).find((i) => i.instanceId === instance.instanceId && i.state === 'exited'));
    assert.equal(exited.exitCode, 4);
    await runtime.remove(instance.runtimeId, 1);
  });

  await t.test('storageUsage grows as an instance writes into its own directory, its logs left out', async () => {
    // Writes 4 MiB under $HOME (the instance's directory) when asked; a 1 MiB line of output first.
    const app = `node -e "const fs = require('fs'), path = require('path'); console.log('x'.repeat(1 << 20));
      require('http').createServer((q, s) => { const dir = path.join(process.env.HOME, 'cache', 'deep');
        fs.mkdirSync(dir, { recursive: true }); fs.writeFileSync(path.join(dir, 'fill'), Buffer.alloc(4 << 20)); s.end('filled'); })
      .listen(Number(process.env.PORT), '127.0.0.1')"`;
    const instance = await runtime.start(spec(nodeImage, { startCommand: app }));
    const quiet = await runtime.start(spec(nodeImage, { startCommand: `node -e "setInterval(() => {}, 1000)"` }));
    const exiting = await runtime.start(spec(nodeImage, { startCommand: 'exit 0' }));
    try {
      const log = join(root, 'instances', instance.runtimeId, 'output.log');
      await waitFor(async () => ((await stat(log)).size > 1 << 20) || undefined);
      const before = await runtime.storageUsage();
      assert.ok((before.get(instance.runtimeId) ?? Infinity) < 64 * 1024, `before: ${before.get(instance.runtimeId)} bytes (output.log must not count)`);
      assert.equal(await fetchText(instance.address), 'filled');
      const after = await runtime.storageUsage();
      assert.ok((after.get(instance.runtimeId) ?? 0) >= 4 * 1024 * 1024, `after: ${after.get(instance.runtimeId)} bytes`);
      assert.ok((after.get(quiet.runtimeId) ?? Infinity) < 64 * 1024, `quiet: ${after.get(quiet.runtimeId)} bytes`);
      await waitFor(async () => (await runtime.list()).find((i) => i.runtimeId === exiting.runtimeId && i.state === 'exited'));
      assert.equal((await runtime.storageUsage()).has(exiting.runtimeId), false, 'only running instances are measured');
    } finally {
      for (const started of [instance, quiet, exiting]) await runtime.remove(started.runtimeId, 1);
    }
  });

  await t.test('remove() stops a well-behaved app at once and deletes its directory', async () => {
    const instance = running.pop();
    assert.ok(instance);
    const started = Date.now();
    await runtime.remove(instance.runtimeId, 10);
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
    assert.equal((await runtime.list()).some((i) => i.instanceId === instance.instanceId), false);
    assert.equal(existsSync(join(root, 'instances', instance.runtimeId)), false);
    await assert.rejects(fetch(`http://${instance.address}/`));
    await runtime.remove(instance.runtimeId, 10);
  });

  await t.test('an app that exits with code 3 is listed as exited with its code, and its output is kept', async () => {
    const instance = await runtime.start(spec(nodeImage, { startCommand: `node -e "console.log('going away'); process.exit(3)"` }));
    const exited = await waitFor(async () => (await runtime.list()).find((i) => i.instanceId === instance.instanceId && i.state === 'exited'));
    assert.equal(exited.exitCode, 3);
    assert.equal(exited.address, undefined);
    assert.equal(await runtime.logs(instance.runtimeId, 5), 'going away\n');
    await runtime.remove(instance.runtimeId, 1);
    await assert.rejects(runtime.logs(instance.runtimeId, 5), (error: unknown) => error instanceof RuntimeError && /does not exist/.test(error.message));
  });

  await t.test('remove() SIGKILLs an app that ignores SIGTERM once the grace has passed', async () => {
    const stubborn = `node -e "process.on('SIGTERM', () => console.log('ignoring SIGTERM')); console.log('pid', process.pid); setInterval(() => {}, 1000)"`;
    const instance = await runtime.start(spec(nodeImage, { startCommand: stubborn }));
    const pid = Number(await waitFor(async () => /^pid (\d+)$/m.exec(await runtime.logs(instance.runtimeId, 5))?.[1]));
    const started = Date.now();
    await runtime.remove(instance.runtimeId, 1);
    const took = Date.now() - started;
    assert.ok(took >= 950 && took < 4000, `remove took ${took} ms with a grace of 1 s`);
    assert.equal(isRunning(pid), false, `process ${pid} is gone`);
    assert.equal((await runtime.list()).some((i) => i.instanceId === instance.instanceId), false);
  });

  await t.test('a failing build command is a BuildError with the command and the last lines of output', async () => {
    const dir = await makeSource({ 'server.js': NODE_SERVER });
    const command = 'echo first; echo second >&2; printf "no newline"; exit 7';
    const error = await build(dir, api({ BuildCommand: command, StartCommand: 'node server.js' })).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof BuildError, String(error));
    assert.equal(error.command, command);
    assert.equal(error.message, `the command '${command}' exited with code 7`);
    // stdout and stderr are separate pipes, so only the lines, not their order, are certain.
    assert.deepEqual([...error.outputTail].sort(), ['first', 'no newline', 'second']);
    assert.deepEqual(await readdir(join(root, 'builds')).then((ids) => ids.filter((id) => !nodeImage.endsWith(id))), [], 'the failed build left nothing');
  });

  await t.test('an aborted build kills its command\'s process group', async () => {
    const dir = await makeSource({ 'server.js': NODE_SERVER });
    const controller = new AbortController();
    const pidFile = join(root, `build-pid-${hex(4)}`);
    const building = build(dir, api({ BuildCommand: `sleep 60 & echo $! > ${pidFile}; wait`, StartCommand: 'node server.js' }), controller.signal);
    const pid = Number(await waitFor(async () => (await readFile(pidFile, 'utf8').catch(() => '')).trim() || undefined));
    const started = Date.now();
    controller.abort();
    await assert.rejects(building, { name: 'AbortError' });
    assert.ok(Date.now() - started < 2000);
    await waitFor(async () => !isRunning(pid) || undefined);
  });

  await t.test('a Dockerfile cannot be built without a container engine', async () => {
    const plan = planBuild({ files: ['Dockerfile'] }, { ConfigurationSource: 'REPOSITORY' });
    await assert.rejects(
      builder.build({ buildId: hex(16), serviceId: 's', serviceName: 'web', revisionId: 'r', sourceDirectory: root, plan, onLog: () => undefined }),
      (error: unknown) => error instanceof BuildError && /Dockerfile, which needs a container engine to build; none is reachable/.test(error.message) && /apprunner\.yaml/.test(error.message),
    );
  });

  await t.test('a container image is refused clearly', async () => {
    await assert.rejects(runtime.ensureImage('nginx:1.27'), (error: unknown) =>
      error instanceof RuntimeError && error.reason === 'image-pull' &&
      error.message.includes("cannot run the container image 'nginx:1.27'") && /start Docker \(or set docker\.socket\)/.test(error.message));
    await assert.rejects(runtime.start(spec('nginx:1.27')), (error: unknown) => error instanceof RuntimeError && error.reason === 'start');
    await assert.rejects(runtime.ensureImage(`${PROCESS_IMAGE_PREFIX}${hex(16)}`), (error: unknown) =>
      error instanceof RuntimeError && /not on this machine/.test(error.message));
  });

  await t.test('a Python service from apprunner.yaml builds in a virtual environment of its own and serves', async () => {
    const dir = await makeSource({ 'apprunner.yaml': APPRUNNER_YAML, 'app.py': PYTHON_APP, 'requirements.txt': '' });
    const { image, log } = await build(dir, { ConfigurationSource: 'REPOSITORY' });
    assert.ok(log.some((l) => /^berth: python3 on this machine: Python 3\./.test(l)), log.join('\n'));
    assert.ok(log.some((l) => l.includes('runtime-version 3.11.9 is not enforced')), log.join('\n'));
    const instance = await runtime.start(spec(image));
    const venv = join(root, 'builds', parseProcessImage(image) ?? '', 'venv');
    const port = instance.address?.split(':')[1];
    assert.equal(await fetchText(instance.address), `hello from python prefix=${venv} port=${port}`);
    await runtime.remove(instance.runtimeId, 5);
  });

  await t.test('discard() removes a build, after which it cannot be started', async () => {
    const buildDir = join(root, 'builds', parseProcessImage(nodeImage) ?? '');
    for (const instance of await runtime.list()) await runtime.remove(instance.runtimeId, 5);
    await builder.discard(nodeImage);
    assert.equal(existsSync(buildDir), false);
    await assert.rejects(runtime.start(spec(nodeImage)), (error: unknown) => error instanceof RuntimeError && /not on this machine/.test(error.message));
    await builder.discard(nodeImage);
  });

  await t.test('CPU and memory limits through cgroup v2, where the machine allows it', async (t) => {
    if (runtime.limits !== 'cgroup-v2') {
      t.skip(runtime.limitsReason);
      return;
    }
    const dir = await makeSource({ 'server.js': NODE_SERVER, 'built.txt': 'limited\n' });
    const { image } = await build(dir, api({ StartCommand: 'node server.js' }));
    const instance = await runtime.start(spec(image, { cpuUnits: 512, memoryMb: 256 }));
    const cgroup = join('/sys/fs/cgroup', `berth-${installationId.slice(0, 12)}`, instance.instanceId);
    assert.equal((await readFile(join(cgroup, 'memory.max'), 'utf8')).trim(), String(256 * 1024 * 1024));
    assert.equal((await readFile(join(cgroup, 'cpu.max'), 'utf8')).trim(), '50000 100000');
    assert.match(await fetchText(instance.address), /^limited/);
    await runtime.remove(instance.runtimeId, 5);
    assert.equal(existsSync(cgroup), false, 'the cgroup is removed with the instance');

    // Buffer.alloc fills its memory, so all 256 MiB are resident: over a 64 MiB limit, the kernel kills it.
    const hungry = await runtime.start(spec(image, { memoryMb: 64, startCommand: `node -e "globalThis.kept = Buffer.alloc(256 << 20); setInterval(() => {}, 1000)"` }));
    const killed = await waitFor(async () => (await runtime.list()).find((i) => i.runtimeId === hungry.runtimeId && i.state === 'exited'), 30_000);
    assert.equal(killed.outOfMemory, true, `exited with ${killed.exitCode}: ${await runtime.logs(hungry.runtimeId, 5)}`);
    assert.equal(killed.exitCode, 137);
    await runtime.remove(hungry.runtimeId, 5);
  });

  await t.test("an OOM kill is read from the cgroup's memory.events", async () => {
    const fake = join(root, `cgroup-${hex(4)}`);
    await mkdir(fake);
    assert.equal(await cgroupOomKills(fake), 0, 'no memory.events: none');
    await writeFile(join(fake, 'memory.events'), 'low 0\nhigh 0\nmax 12\noom 1\noom_kill 0\noom_group_kill 0\n');
    assert.equal(await cgroupOomKills(fake), 0, 'an OOM without a kill');
    await writeFile(join(fake, 'memory.events'), 'low 0\nhigh 0\nmax 40\noom 2\noom_kill 2\noom_group_kill 0\n');
    assert.equal(await cgroupOomKills(fake), 2);
  });

  await t.test('the limits decision falls back to none, with the reason, where cgroup v2 cannot limit', () => {
    // This machine, as it is: the answer must follow from what /sys/fs/cgroup is.
    const isV2 = statfsSync('/sys/fs/cgroup').type === 0x63677270;
    if (!isV2) {
      assert.equal(runtime.limits, 'none');
      assert.match(runtime.limitsReason, /\/sys\/fs\/cgroup is not a cgroup v2 file system/);
    }
    // A plain directory is no cgroup file system.
    const plain = probeCgroupV2(root, installationId);
    assert.equal(plain.limits, 'none');
    assert.match(plain.reason, /is not a cgroup v2 file system/);
    // A hybrid machine's cgroup v2 mount, whose memory and cpu controllers are bound to cgroup v1.
    const unified = '/sys/fs/cgroup/unified';
    if (existsSync(unified) && statfsSync(unified).type === 0x63677270) {
      const controllers = readFileSync(join(unified, 'cgroup.controllers'), 'utf8').split(/\s+/);
      if (!controllers.includes('memory')) {
        const hybrid = probeCgroupV2(unified, installationId);
        assert.equal(hybrid.limits, 'none');
        assert.match(hybrid.reason, /lacks the memory/);
      }
    }
    assert.equal(probeCgroupV2(join(root, 'missing'), installationId).limits, 'none');
  });
});

/** GETs `/` from an instance, retrying while the app is still starting to listen. */
async function fetchText(address: string | undefined): Promise<string> {
  assert.ok(address);
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const response = await fetch(`http://${address}/`);
      return await response.text();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(50);
    }
  }
}

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await sleep(25);
  }
}

/** Alive and not a zombie (this machine's init may not reap orphans). */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

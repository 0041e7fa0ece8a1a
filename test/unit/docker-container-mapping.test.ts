import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  containerCreateBody,
  containerNameFor,
  instanceFromInspect,
  instanceFromSummary,
  instanceState,
  LABEL,
  networkNameFor,
} from '../../src/adapters/docker/container-mapping.ts';
import type { ContainerInspect, ContainerSummary } from '../../src/adapters/docker/engine-types.ts';
import { engineImageName, isImageId } from '../../src/adapters/docker/image-name.ts';
import type { InstanceSpec } from '../../src/core/runtime.ts';

const SPEC: InstanceSpec = {
  instanceId: 'inst1',
  serviceId: 'svc1',
  serviceName: 'web',
  revisionId: 'rev1',
  image: 'app:1',
  port: 8080,
  env: { A: '1', PORT: '9' },
  cpuUnits: 1024,
  memoryMb: 2048,
};
const PLACEMENT = { installationId: 'inst-abcdef0123456789', networkName: 'berth-inst-abcdef0', image: 'app:1' };

test('names follow Docker rules and the installation prefix', () => {
  assert.equal(networkNameFor('0123456789abcdef'), 'berth-0123456789ab');
  assert.equal(containerNameFor('my service!', 'a/b'), 'berth-my-service--a-b');
});

test('the create request carries labels, PORT, limits, network and no published ports', () => {
  const body = containerCreateBody(SPEC, PLACEMENT);
  assert.deepEqual(body.Env, ['A=1', 'PORT=8080']);
  assert.equal(body.Entrypoint, undefined);
  assert.deepEqual(body.Labels, {
    [LABEL.installation]: PLACEMENT.installationId,
    [LABEL.serviceId]: 'svc1',
    [LABEL.serviceName]: 'web',
    [LABEL.revisionId]: 'rev1',
    [LABEL.instanceId]: 'inst1',
    [LABEL.port]: '8080',
  });
  assert.equal(body.HostConfig?.NanoCpus, 1e9);
  assert.equal(body.HostConfig?.Memory, 2048 * 1024 * 1024);
  assert.deepEqual(body.HostConfig?.RestartPolicy, { Name: 'no' });
  assert.equal(body.HostConfig?.PortBindings, undefined);
  assert.deepEqual(Object.keys(body.NetworkingConfig?.EndpointsConfig ?? {}), [PLACEMENT.networkName]);
  assert.equal(containerCreateBody({ ...SPEC, cpuUnits: 256 }, PLACEMENT).HostConfig?.NanoCpus, 250_000_000);
});

test('startCommand runs through /bin/sh -c', () => {
  const body = containerCreateBody({ ...SPEC, startCommand: 'node server.js --port "$PORT"' }, PLACEMENT);
  assert.deepEqual(body.Entrypoint, ['/bin/sh', '-c']);
  assert.deepEqual(body.Cmd, ['node server.js --port "$PORT"']);
});

test('an environment variable name with = is refused, naming it', () => {
  assert.throws(() => containerCreateBody({ ...SPEC, env: { 'A=B': '1' } }, PLACEMENT), /"A=B"/);
});

test('engine states map onto instance states', () => {
  assert.equal(instanceState('created'), 'created');
  assert.equal(instanceState('running'), 'running');
  for (const status of ['exited', 'dead', 'removing', 'paused', 'restarting'] as const) assert.equal(instanceState(status), 'exited');
});

test('a listed container gives an address only while running', () => {
  const summary: ContainerSummary = {
    Id: 'c1',
    Names: ['/berth-web-inst1'],
    Image: 'app:1',
    Created: 1_700_000_000,
    State: 'running',
    Status: 'Up 1 second',
    Labels: containerCreateBody(SPEC, PLACEMENT).Labels ?? {},
    NetworkSettings: { Networks: { [PLACEMENT.networkName]: { NetworkID: 'n', IPAddress: '172.30.0.2' } } },
  };
  assert.deepEqual(instanceFromSummary(summary, PLACEMENT.networkName), {
    runtimeId: 'c1',
    instanceId: 'inst1',
    serviceId: 'svc1',
    revisionId: 'rev1',
    state: 'running',
    address: '172.30.0.2:8080',
    createdAt: 1_700_000_000_000,
  });
  const exited = instanceFromSummary({ ...summary, State: 'exited' }, PLACEMENT.networkName);
  assert.equal(exited.state, 'exited');
  assert.equal(exited.address, undefined);
});

test('image references: no tag means latest; a digest wins over a tag', () => {
  assert.deepEqual(engineImageName('127.0.0.1:5000/hello'), {
    repository: '127.0.0.1:5000/hello',
    tag: 'latest',
    digest: undefined,
    apiTag: 'latest',
    reference: '127.0.0.1:5000/hello:latest',
  });
  assert.equal(engineImageName('127.0.0.1:5000/hello:1').apiTag, '1');
  const digest = `sha256:${'a'.repeat(64)}`;
  assert.deepEqual(engineImageName(`team/app:1@${digest}`), {
    repository: 'team/app',
    tag: '1',
    digest,
    apiTag: digest,
    reference: `team/app@${digest}`,
  });
  assert.throws(() => engineImageName('Upper/Case'), /"Upper\/Case" is not valid/);
});

test('an inspected container tells an OOM kill, only once it has exited', () => {
  const inspect = (state: Partial<ContainerInspect['State']>): ContainerInspect => ({
    Id: 'c1',
    Name: '/berth-web-inst1',
    Created: '2024-05-01T10:00:00.123456789Z',
    Image: `sha256:${'e'.repeat(64)}`,
    State: { Status: 'exited', Running: false, ExitCode: 137, Error: '', OOMKilled: true, ...state },
    Config: { Image: `sha256:${'e'.repeat(64)}`, Env: null, Labels: containerCreateBody(SPEC, PLACEMENT).Labels ?? null, Tty: false },
    HostConfig: {},
    NetworkSettings: { Networks: {} },
  });
  assert.deepEqual(instanceFromInspect(inspect({}), PLACEMENT.networkName), {
    runtimeId: 'c1',
    instanceId: 'inst1',
    serviceId: 'svc1',
    revisionId: 'rev1',
    state: 'exited',
    exitCode: 137,
    outOfMemory: true,
    createdAt: Date.parse('2024-05-01T10:00:00.123Z'),
  });
  // A dead container (its removal failed) has exited too.
  assert.equal(instanceFromInspect(inspect({ Status: 'dead' }), PLACEMENT.networkName).outOfMemory, true);
  // The engine flags a container whose app outlived the kill of one of its processes: it still runs.
  const survivor = instanceFromInspect(inspect({ Status: 'running', Running: true, ExitCode: 0 }), PLACEMENT.networkName);
  assert.equal(survivor.state, 'running');
  assert.equal('outOfMemory' in survivor, false);
  assert.equal('outOfMemory' in instanceFromInspect(inspect({ ExitCode: 1, OOMKilled: false }), PLACEMENT.networkName), false);
});

test('an image id runs as it is: never parsed as a reference, never given a tag', () => {
  const id = `sha256:${'f'.repeat(64)}`;
  assert.equal(isImageId(id), true);
  for (const other of ['sha256:abc', `sha256:${'F'.repeat(64)}`, `app@${id}`, `${id}x`, 'app:1']) assert.equal(isImageId(other), false, other);
  assert.equal(containerCreateBody(SPEC, { ...PLACEMENT, image: id }).Image, id);
});

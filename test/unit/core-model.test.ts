import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseImageReference } from '../../src/core/image-reference.ts';
import { parseCpu, parseMemory } from '../../src/core/instance-size.ts';
import { paginate } from '../../src/core/pagination.ts';
import { resolveConfig } from '../../src/core/config.ts';
import { HealthState } from '../../src/core/health.ts';
import { DEFAULT_HEALTH_CHECK } from '../../src/core/service.ts';
import { routeTableTag } from '../../src/core/routes.ts';
import { BerthError } from '../../src/core/errors.ts';

describe('image references', () => {
  const valid: [string, ReturnType<typeof parseImageReference>][] = [
    ['nginx', { repository: 'nginx' }],
    ['library/nginx:1.27', { repository: 'library/nginx', tag: '1.27' }],
    ['127.0.0.1:5000/team/app:1', { registry: '127.0.0.1:5000', repository: 'team/app', tag: '1' }],
    ['localhost/app', { registry: 'localhost', repository: 'app' }],
    ['registry.example.com/a/b/c@sha256:' + 'a'.repeat(64), { registry: 'registry.example.com', repository: 'a/b/c', digest: 'sha256:' + 'a'.repeat(64) }],
    ['123456789012.dkr.ecr.us-east-1.amazonaws.com/app:latest', { registry: '123456789012.dkr.ecr.us-east-1.amazonaws.com', repository: 'app', tag: 'latest' }],
    ['[::1]:5000/app', { registry: '[::1]:5000', repository: 'app' }],
  ];
  for (const [reference, parsed] of valid) test(`accepts ${reference}`, () => assert.deepEqual(parseImageReference(reference), parsed));
  for (const reference of ['', 'App', 'Team/app', 'app::1', 'app:', ':1', 'a b', 'app@sha256:short', '/app', 'app/', `x/${'a'.repeat(260)}`]) {
    test(`refuses ${JSON.stringify(reference.slice(0, 30))}`, () => assert.equal(parseImageReference(reference), undefined));
  }
});

describe('instance sizes', () => {
  test('both forms, numeric result', () => {
    assert.equal(parseCpu('0.25 vCPU'), 256);
    assert.equal(parseCpu('4096'), 4096);
    assert.equal(parseMemory('0.5 GB'), 512);
    assert.equal(parseMemory('12 GB'), 12288);
    assert.equal(parseCpu('3 vCPU'), undefined);
    assert.equal(parseMemory('5 GB'), undefined);
  });
});

describe('pagination', () => {
  const items = ['a', 'b', 'c', 'd', 'e'];
  test('walks every page once, then no token', () => {
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = paginate(items, (x) => x, 'scope', 2, token);
      seen.push(...page.items);
      token = page.nextToken;
    } while (token !== undefined);
    assert.deepEqual(seen, items);
  });
  test('without MaxResults everything comes in one page', () => {
    assert.deepEqual(paginate(items, (x) => x, 'scope'), { items });
  });
  test('a token from another listing, or garbage, is refused', () => {
    const token = paginate(items, (x) => x, 'one', 2).nextToken;
    assert.throws(() => paginate(items, (x) => x, 'two', 2, token), /does not belong to this listing/);
    assert.throws(() => paginate(items, (x) => x, 'one', 2, '!!!'), (e: BerthError) => e.code === 'InvalidRequestException');
  });
});

describe('configuration', () => {
  test('layers override defaults and the result is frozen', () => {
    const config = resolveConfig('/srv/berth', { router: { httpsPort: 443 } }, { domain: 'apps.example.com' });
    assert.equal(config.router.httpsPort, 443);
    assert.equal(config.router.httpPort, 8080);
    assert.equal(config.domain, 'apps.example.com');
    assert.ok(Object.isFrozen(config.router));
  });
  test('bad values are named with what is allowed', () => {
    assert.throws(() => resolveConfig('/h', { router: { httpsPort: 70000 } }), /'router.httpsPort' is 70000; expected a port number/);
    assert.throws(() => resolveConfig('/h', { domain: 'Bad_Domain' }), /'domain' is "Bad_Domain"; expected a lower-case DNS name/);
    assert.throws(() => resolveConfig('/h', { api: { prot: 1 } as never }), /Unknown configuration 'api.prot'/);
    assert.throws(() => resolveConfig('/h', { colour: 'blue' } as never), /Unknown configuration 'colour'/);
    assert.throws(() => resolveConfig('relative', {}), /'home' is "relative"; expected an absolute path/);
  });
});

describe('health thresholds', () => {
  const check = { ...DEFAULT_HEALTH_CHECK, HealthyThreshold: 2, UnhealthyThreshold: 3 };
  const ok = { ok: true, detail: 'ok' };
  const bad = { ok: false, detail: 'refused' };
  test('healthy after HealthyThreshold successes in a row; unhealthy after UnhealthyThreshold failures', () => {
    const state = new HealthState();
    state.record(ok, check);
    assert.equal(state.verdict, 'starting');
    state.record(bad, check);
    state.record(ok, check);
    assert.equal(state.verdict, 'starting', 'the run of successes restarted');
    assert.equal(state.record(ok, check), true);
    assert.equal(state.verdict, 'healthy');
    state.record(bad, check);
    state.record(bad, check);
    assert.equal(state.verdict, 'healthy');
    state.record(bad, check);
    assert.equal(state.verdict, 'unhealthy');
    assert.equal(state.lastDetail, 'refused');
  });
  test('failures while starting do not make an instance unhealthy (the deploy deadline judges those)', () => {
    const state = new HealthState();
    for (let i = 0; i < 10; i++) state.record(bad, check);
    assert.equal(state.verdict, 'starting');
  });
});

describe('route table tags', () => {
  test('ignore order, change with any target', () => {
    const a = { host: 'a.localhost', serviceId: '1', serviceName: 'a', targets: [{ instanceId: 'i1', address: '10.0.0.1:8080' }, { instanceId: 'i2', address: '10.0.0.2:8080' }] };
    const b = { host: 'b.localhost', serviceId: '2', serviceName: 'b', targets: [] };
    assert.equal(routeTableTag({ routes: [a, b] }), routeTableTag({ routes: [b, { ...a, targets: [...a.targets].reverse() }] }));
    assert.notEqual(routeTableTag({ routes: [a, b] }), routeTableTag({ routes: [a, { ...b, targets: [{ instanceId: 'i3', address: '10.0.0.3:8080' }] }] }));
  });
});

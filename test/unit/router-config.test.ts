import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseRouterConfig } from '../../src/edges/router/config.ts';

const paths = { controlSocketPath: '/run/berth/control.sock', routesCacheFile: '/run/berth/routes.json', caDir: '/var/lib/berth/ca' };

describe('router configuration', () => {
  test('fills in the defaults and freezes the result', () => {
    const config = parseRouterConfig(paths);
    assert.deepEqual(config, { listenHost: '0.0.0.0', httpPort: 8080, httpsPort: 8443, requestTimeoutMs: 120_000, idleTimeoutMs: 120_000, queueLimit: 1000, queueTimeoutMs: 10_000, domain: 'localhost', ...paths });
    assert.ok(Object.isFrozen(config));
  });

  test('takes the idle timeout', () => {
    assert.equal(parseRouterConfig({ ...paths, idleTimeoutMs: 30_000 }).idleTimeoutMs, 30_000);
  });

  test('takes the queue limit and timeout; a limit of 0 is allowed (nothing waits)', () => {
    const config = parseRouterConfig({ ...paths, queueLimit: 0, queueTimeoutMs: 2500 });
    assert.equal(config.queueLimit, 0);
    assert.equal(config.queueTimeoutMs, 2500);
    assert.equal(parseRouterConfig({ ...paths, queueLimit: 100_000 }).queueLimit, 100_000);
  });

  test('refuses bad values, naming the setting, the value and what is allowed', () => {
    assert.throws(() => parseRouterConfig('x'), /must be a JSON object, got 'x'/);
    assert.throws(() => parseRouterConfig({ ...paths, httpsPort: 70000 }), /httpsPort must be a port number from 0 to 65535, got '70000'/);
    assert.throws(() => parseRouterConfig({ ...paths, requestTimeoutMs: 0 }), /requestTimeoutMs must be a whole number of milliseconds from 1/);
    assert.throws(() => parseRouterConfig({ ...paths, idleTimeoutMs: 1.5 }), /idleTimeoutMs must be a whole number of milliseconds from 1 to 2147483647, got '1.5'/);
    assert.throws(() => parseRouterConfig({ ...paths, caDir: undefined }), /caDir is required/);
    assert.throws(() => parseRouterConfig({ ...paths, queueLimit: -1 }), /queueLimit must be a whole number from 0 to 100000, got '-1'/);
    assert.throws(() => parseRouterConfig({ ...paths, queueLimit: 100_001 }), /queueLimit must be a whole number from 0 to 100000, got '100001'/);
    assert.throws(() => parseRouterConfig({ ...paths, queueLimit: '10' }), /queueLimit must be a whole number/);
    assert.throws(() => parseRouterConfig({ ...paths, queueTimeoutMs: 0 }), /queueTimeoutMs must be a whole number of milliseconds from 1 to 2147483647, got '0'/);
    assert.throws(() => parseRouterConfig({ ...paths, listenhost: '::' }), /unknown router setting 'listenhost'; allowed: listenHost, /);
  });
});

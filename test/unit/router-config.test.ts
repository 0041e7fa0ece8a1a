import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseRouterConfig } from '../../src/edges/router/config.ts';

const paths = { controlSocketPath: '/run/berth/control.sock', routesCacheFile: '/run/berth/routes.json', caDir: '/var/lib/berth/ca' };

describe('router configuration', () => {
  test('fills in the defaults and freezes the result', () => {
    const config = parseRouterConfig(paths);
    assert.deepEqual(config, { listenHost: '0.0.0.0', httpPort: 8080, httpsPort: 8443, requestTimeoutMs: 120_000, idleTimeoutMs: 120_000, domain: 'localhost', ...paths });
    assert.ok(Object.isFrozen(config));
  });

  test('takes the idle timeout', () => {
    assert.equal(parseRouterConfig({ ...paths, idleTimeoutMs: 30_000 }).idleTimeoutMs, 30_000);
  });

  test('refuses bad values, naming the setting, the value and what is allowed', () => {
    assert.throws(() => parseRouterConfig('x'), /must be a JSON object, got 'x'/);
    assert.throws(() => parseRouterConfig({ ...paths, httpsPort: 70000 }), /httpsPort must be a port number from 0 to 65535, got '70000'/);
    assert.throws(() => parseRouterConfig({ ...paths, requestTimeoutMs: 0 }), /requestTimeoutMs must be a whole number of milliseconds from 1/);
    assert.throws(() => parseRouterConfig({ ...paths, idleTimeoutMs: 1.5 }), /idleTimeoutMs must be a whole number of milliseconds from 1 to 2147483647, got '1.5'/);
    assert.throws(() => parseRouterConfig({ ...paths, caDir: undefined }), /caDir is required/);
    assert.throws(() => parseRouterConfig({ ...paths, listenhost: '::' }), /unknown router setting 'listenhost'; allowed: listenHost, /);
  });
});

/**
 * Health probes against a real HTTP server on loopback. App Runner's health check Path is any
 * string: one HTTP cannot carry used to throw out of the probe, which failed every reconciler
 * pass of the service so its deployment never ended (found by the API fuzz test).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { NetworkProber } from '../../src/adapters/probe/network-prober.ts';
import { DEFAULT_HEALTH_CHECK } from '../../src/core/service.ts';

describe('network prober', () => {
  let server: Server;
  let address: string;
  before(async () => {
    server = createServer((req, res) => {
      res.statusCode = req.url === '/health' ? 200 : 404;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    address = `127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const http = (Path: string) => ({ ...DEFAULT_HEALTH_CHECK, Protocol: 'HTTP' as const, Path });

  test('an HTTP probe passes on 2xx and fails on 404, saying what it got', async () => {
    assert.deepEqual(await new NetworkProber().probe(address, http('/health')), { ok: true, detail: `HTTP GET /health on port ${address.split(':')[1]} answered 200` });
    const missing = await new NetworkProber().probe(address, http('/nope'));
    assert.equal(missing.ok, false);
    assert.match(missing.detail, /answered 404/);
  });

  test('a path HTTP cannot carry fails the probe with the reason instead of throwing', async () => {
    for (const path of ['4NOwxz D#V', '/a\tb', '/\u0000']) {
      const result = await new NetworkProber().probe(address, http(path));
      assert.equal(result.ok, false);
      assert.match(result.detail, /cannot be sent in an HTTP request \(it has a space or a control character\); use a path such as \/health/);
    }
  });
});

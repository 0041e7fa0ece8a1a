import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classifyHeader, clientResponseHeaders, HeaderKind, upstreamRequestHead } from '../../src/edges/router/forwarding-headers.ts';
import { hostKey } from '../../src/edges/router/host.ts';
import { parseRouteTable } from '../../src/edges/router/parse-route-table.ts';

describe('hostKey', () => {
  test('lower-cases and drops the port and a trailing dot; returns the same string when nothing changes', () => {
    const plain = 'hello-abc.localhost';
    assert.equal(hostKey(plain), plain);
    assert.equal(hostKey('Hello-ABC.localhost:8443'), 'hello-abc.localhost');
    assert.equal(hostKey('hello-abc.localhost.'), 'hello-abc.localhost');
    assert.equal(hostKey('hello-abc.localhost.:443'), 'hello-abc.localhost');
    assert.equal(hostKey('[::1]:8443'), '[::1]');
    assert.equal(hostKey('[FE80::1]'), '[fe80::1]');
    assert.equal(hostKey('[::1'), '');
    assert.equal(hostKey(''), '');
  });
});

describe('forwarding headers', () => {
  test('classifies field names case-insensitively', () => {
    assert.equal(classifyHeader('Connection'), HeaderKind.connection);
    assert.equal(classifyHeader('KEEP-ALIVE'), HeaderKind.hopByHop);
    assert.equal(classifyHeader('Proxy-Authorization'), HeaderKind.hopByHop);
    assert.equal(classifyHeader('Proxy'), HeaderKind.hopByHop);
    assert.equal(classifyHeader('TE'), HeaderKind.hopByHop);
    assert.equal(classifyHeader('Trailer'), HeaderKind.hopByHop);
    assert.equal(classifyHeader('Upgrade'), HeaderKind.hopByHop);
    assert.equal(classifyHeader('Transfer-Encoding'), HeaderKind.transferEncoding);
    assert.equal(classifyHeader('X-Forwarded-Proto'), HeaderKind.xForwardedReplaced);
    assert.equal(classifyHeader('content-type'), HeaderKind.other);
    assert.equal(classifyHeader('Accept'), HeaderKind.other);
    assert.equal(classifyHeader('proxy-'), HeaderKind.other);
  });

  test('the request head: hop-by-hop fields removed, Connection-named ones too, X-Forwarded-* set', () => {
    const head = upstreamRequestHead([
      'Host', 'app.localhost:8443',
      'Connection', 'keep-alive, X-Secret',
      'X-Secret', 'hop',
      'Transfer-Encoding', 'chunked',
      'X-Forwarded-For', '203.0.113.7',
      'X-Forwarded-For', '198.51.100.1',
      'X-Forwarded-Proto', 'http',
      'Expect', '100-continue',
      'Accept', '*/*',
    ], '127.0.0.1');
    assert.deepEqual(head, {
      headers: [
        'Host', 'app.localhost:8443',
        'Accept', '*/*',
        'x-forwarded-for', '203.0.113.7, 198.51.100.1, 127.0.0.1',
        'x-forwarded-proto', 'https',
        'x-forwarded-host', 'app.localhost:8443',
      ],
      host: 'app.localhost:8443',
      hostCount: 1,
      hasBody: true,
    });
  });

  test('counts Host fields, and takes the authority of an absolute-form target instead', () => {
    assert.equal(upstreamRequestHead(['host', 'a', 'host', 'b'], '::1').hostCount, 2);
    assert.equal(upstreamRequestHead([], '::1').hostCount, 0);
    const head = upstreamRequestHead(['Host', 'ignored.example', 'Content-Length', '0'], '::1', 'app.localhost');
    assert.deepEqual(head.headers.slice(0, 2), ['Host', 'app.localhost']);
    assert.equal(head.host, 'app.localhost');
    assert.equal(head.hasBody, true);
  });

  test('the response head: hop-by-hop fields removed, repeated fields kept', () => {
    assert.deepEqual(clientResponseHeaders({
      connection: 'close, x-internal',
      'x-internal': '1',
      'keep-alive': 'timeout=5',
      'transfer-encoding': 'chunked',
      'proxy-authenticate': 'Basic',
      'set-cookie': ['a=1', 'b=2'],
      'content-type': 'text/plain',
    }), ['set-cookie', ['a=1', 'b=2'], 'content-type', 'text/plain']);
  });
});

describe('parseRouteTable', () => {
  const valid = { routes: [{ host: 'app.localhost', serviceId: 's', serviceName: 'app', targets: [{ instanceId: 'i', address: '127.0.0.1:8080' }] }] };

  test('accepts a well-formed table', () => {
    assert.deepEqual(parseRouteTable(valid), valid);
    assert.deepEqual(parseRouteTable({ routes: [{ ...valid.routes[0], targets: [{ instanceId: 'i', address: '[::1]:80' }] }] }).routes[0]!.targets[0]!.address, '[::1]:80');
  });

  test('refuses a malformed one, saying where and what', () => {
    assert.throws(() => parseRouteTable([]), /the route table must be an object, got '\[\]'/);
    assert.throws(() => parseRouteTable({}), /must have a routes array/);
    assert.throws(() => parseRouteTable({ routes: [{ ...valid.routes[0], host: 'App.localhost' }] }), /routes\[0\]\.host must be a lower-case host name without port, got 'App.localhost'/);
    assert.throws(() => parseRouteTable({ routes: [valid.routes[0], valid.routes[0]] }), /routes\[1\]\.host 'app.localhost' appears in two routes/);
    assert.throws(() => parseRouteTable({ routes: [{ ...valid.routes[0], targets: [{ instanceId: 'i', address: 'nowhere' }] }] }), /routes\[0\]\.targets\[0\]\.address must be host:port, got 'nowhere'/);
    assert.throws(() => parseRouteTable({ routes: [{ ...valid.routes[0], targets: [{ instanceId: 'i', address: 'h:99999' }] }] }), /must be host:port/);
    assert.throws(() => parseRouteTable({ routes: [{ ...valid.routes[0], serviceName: '' }] }), /routes\[0\]\.serviceName must be a non-empty string/);
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { routeTableTag, type RouteTable } from '../../src/core/routes.ts';
import { parseRouteTable } from '../../src/edges/router/parse-route-table.ts';

const base = { host: 'app.localhost', serviceId: 's', serviceName: 'app', targets: [{ instanceId: 'i1', address: '127.0.0.1:8000' }] };

describe('route table parsing', () => {
  test("keeps a route's timeouts and pause, and the tag it was sent with", () => {
    const sent: RouteTable = { routes: [{ ...base, requestTimeoutMs: 3_600_000, idleTimeoutMs: 30_000, paused: true }, { ...base, host: 'b.localhost' }] };
    const parsed = parseRouteTable(JSON.parse(JSON.stringify(sent)));
    assert.deepEqual(parsed, sent);
    assert.equal(routeTableTag(parsed), routeTableTag(sent));
    // `paused: false` is the same as absent.
    assert.deepEqual(parseRouteTable({ routes: [{ ...base, paused: false }] }), { routes: [base] });
  });

  test('keeps a route\'s cap and hold, and the tag it was sent with; hold false is the same as absent', () => {
    const sent: RouteTable = { routes: [{ ...base, maxConcurrency: 80, hold: true }, { ...base, host: 'b.localhost', targets: [], hold: true }] };
    const parsed = parseRouteTable(JSON.parse(JSON.stringify(sent)));
    assert.deepEqual(parsed, sent);
    assert.equal(routeTableTag(parsed), routeTableTag(sent));
    assert.notEqual(routeTableTag(parsed), routeTableTag({ routes: [base, { ...base, host: 'b.localhost', targets: [] }] }));
    assert.deepEqual(parseRouteTable({ routes: [{ ...base, hold: false }] }), { routes: [base] });
  });

  test('refuses a cap that is not a whole number from 1 and a hold that is not a boolean, naming the field', () => {
    assert.throws(() => parseRouteTable({ routes: [{ ...base, maxConcurrency: 0 }] }), /routes\[0\]\.maxConcurrency must be a whole number of requests from 1 to 100000, got '0'/);
    assert.throws(() => parseRouteTable({ routes: [{ ...base, maxConcurrency: 2.5 }] }), /routes\[0\]\.maxConcurrency must be a whole number/);
    assert.throws(() => parseRouteTable({ routes: [{ ...base, maxConcurrency: '10' }] }), /routes\[0\]\.maxConcurrency must be a whole number/);
    assert.throws(() => parseRouteTable({ routes: [{ ...base, hold: 1 }] }), /routes\[0\]\.hold must be true or false, got '1'/);
  });

  test('refuses timeouts out of range and a paused that is not a boolean, naming the field', () => {
    assert.throws(() => parseRouteTable({ routes: [{ ...base, requestTimeoutMs: 3_600_001 }] }), /routes\[0\]\.requestTimeoutMs must be a whole number of milliseconds from 1 to 3600000, got '3600001'/);
    assert.throws(() => parseRouteTable({ routes: [{ ...base, idleTimeoutMs: 0 }] }), /routes\[0\]\.idleTimeoutMs must be a whole number/);
    assert.throws(() => parseRouteTable({ routes: [{ ...base, idleTimeoutMs: '5' }] }), /routes\[0\]\.idleTimeoutMs must be a whole number/);
    assert.throws(() => parseRouteTable({ routes: [{ ...base, paused: 'yes' }] }), /routes\[0\]\.paused must be true or false, got 'yes'/);
  });
});

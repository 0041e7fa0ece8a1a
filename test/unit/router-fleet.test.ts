import assert from 'node:assert/strict';
import { test } from 'node:test';
import { routeTableTag, type RouteTable } from '../../src/core/routes.ts';
import { RouterFleet } from '../../src/control/router-fleet.ts';

function table(...instanceIds: string[]): RouteTable {
  return { routes: [{ host: 'a.localhost', serviceId: 's', serviceName: 'a', targets: instanceIds.map((id, i) => ({ instanceId: id, address: `127.0.0.1:${9000 + i}` })) }] };
}

test('router fleet: when a withdrawn instance counts as drained', async (t) => {
  let now = 1_000;
  const clock = { now: () => now };

  await t.test('with no router alive, at once', () => {
    const fleet = new RouterFleet(clock);
    fleet.published(table('x'));
    const since = fleet.published(table());
    assert.equal(fleet.drained('x', since), true);
  });

  await t.test('only once every live router serves a table published since the withdrawal, with no request left on it', () => {
    const fleet = new RouterFleet(clock);
    const before = table('x', 'y');
    fleet.published(before);
    fleet.record({ routerId: 'r1', tableTag: routeTableTag(before), instances: { x: 2, y: 0 } });
    fleet.record({ routerId: 'r2', tableTag: routeTableTag(before), instances: { x: 0, y: 1 } });
    const after = table('y');
    const since = fleet.published(after);
    // Both still report the old table: x may still get requests.
    assert.equal(fleet.drained('x', since), false);
    now += 5;
    fleet.record({ routerId: 'r1', tableTag: routeTableTag(after), instances: { x: 1, y: 0 } });
    assert.equal(fleet.drained('x', since), false, 'r1 still has a request on x; r2 has not moved on');
    fleet.record({ routerId: 'r2', tableTag: routeTableTag(after), instances: { y: 1 } });
    assert.equal(fleet.drained('x', since), false, 'r1 still has a request on x');
    fleet.record({ routerId: 'r1', tableTag: routeTableTag(after), instances: { y: 0 } });
    assert.equal(fleet.drained('x', since), true);
    assert.deepEqual(fleet.inFlight(), new Map([['y', 1]]));
  });

  await t.test('a table the fleet never saw published (a router on an older control plane\'s table) is not drained', () => {
    const fleet = new RouterFleet(clock);
    fleet.record({ routerId: 'r1', tableTag: 'deadbeef-1', instances: {} });
    const since = fleet.published(table());
    assert.equal(fleet.drained('x', since), false);
  });

  await t.test('a router that stopped reporting stops counting', () => {
    const fleet = new RouterFleet(clock, { liveForMs: 3000 });
    const old = table('x');
    fleet.published(old);
    fleet.record({ routerId: 'gone', tableTag: routeTableTag(old), instances: { x: 5 } });
    const since = fleet.published(table());
    assert.equal(fleet.drained('x', since), false);
    now += 3001;
    assert.equal(fleet.drained('x', since), true);
    assert.equal(fleet.live().length, 0);
  });

  await t.test('a table published again after the withdrawal counts from its new publication', () => {
    const fleet = new RouterFleet(clock);
    const empty = table();
    fleet.published(empty);
    fleet.record({ routerId: 'r1', tableTag: routeTableTag(empty), instances: {} });
    fleet.published(table('x'));
    const since = fleet.published(empty);
    // r1 never adopted the table with x, and serves a table equal to the one published at `since`.
    assert.equal(fleet.drained('x', since), true);
  });

  await t.test('tables published within one millisecond keep their order: a router on the one still naming the instance has not moved on', () => {
    // The reconciler publishes its unchanged table at the end of a pass, and the table without a
    // withdrawn instance may follow in the same millisecond. A router that last reported the
    // first, between two of the instance's requests, may send it more.
    const fleet = new RouterFleet(clock);
    const withX = table('x');
    fleet.published(withX);
    fleet.record({ routerId: 'r1', tableTag: routeTableTag(withX), instances: { x: 0 } });
    fleet.published(withX);
    const since = fleet.published(table('y'));
    assert.equal(fleet.drained('x', since), false);
    fleet.record({ routerId: 'r1', tableTag: routeTableTag(table('y')), instances: { y: 3 } });
    assert.equal(fleet.drained('x', since), true);
  });
});

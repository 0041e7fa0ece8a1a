import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RouteTable } from '../../src/core/routes.ts';
import { Balancer, type Upstream } from '../../src/edges/router/balancer.ts';

/** Acquires on a host's lane, as the proxy does; undefined when the host is not routed. */
const acquire = (balancer: Balancer, host: string, avoid?: Upstream): Upstream | undefined => {
  const lane = balancer.lane(host);
  return lane === undefined ? undefined : balancer.acquire(lane, avoid);
};

const table = (...targets: Array<[string, string]>): RouteTable => ({
  routes: [{ host: 'app.localhost', serviceId: 's', serviceName: 'app', targets: targets.map(([instanceId, address]) => ({ instanceId, address })) }],
});

describe('balancer', () => {
  test('round-robin while no instance is busy', () => {
    const balancer = new Balancer();
    balancer.sync(table(['a', '10.0.0.1:80'], ['b', '10.0.0.2:80'], ['c', '10.0.0.3:80']));
    const picked: string[] = [];
    for (let i = 0; i < 6; i++) {
      const upstream = acquire(balancer, 'app.localhost')!;
      picked.push(upstream.instanceId);
      balancer.release(upstream);
    }
    assert.deepEqual(picked, ['a', 'b', 'c', 'a', 'b', 'c']);
  });

  test('the instance with the fewest outstanding requests wins', () => {
    const balancer = new Balancer();
    balancer.sync(table(['a', '10.0.0.1:80'], ['b', '10.0.0.2:80']));
    const first = acquire(balancer, 'app.localhost')!;
    const held = [acquire(balancer, 'app.localhost')!, acquire(balancer, 'app.localhost')!];
    // a: 2 (first + one), b: 1
    assert.deepEqual(Object.fromEntries(balancer.inFlight()), { a: 2, b: 1 });
    assert.equal(acquire(balancer, 'app.localhost')!.instanceId, 'b');
    balancer.release(first);
    for (const upstream of held) balancer.release(upstream);
  });

  test('a table update keeps the counts of the instances it keeps', () => {
    const balancer = new Balancer();
    balancer.sync(table(['a', '10.0.0.1:80'], ['b', '10.0.0.2:80']));
    const onA = acquire(balancer, 'app.localhost')!;
    assert.equal(onA.instanceId, 'a');
    balancer.sync(table(['a', '10.0.0.1:80'], ['c', '10.0.0.3:80']));
    assert.deepEqual(Object.fromEntries(balancer.inFlight()), { a: 1, c: 0 });
    assert.equal(acquire(balancer, 'app.localhost')!.instanceId, 'c');
    balancer.release(onA);
    assert.equal(balancer.inFlight().get('a'), 0);
  });

  test('an instance that moved to another address is a new one; the old address drains', () => {
    const balancer = new Balancer();
    balancer.sync(table(['a', '10.0.0.1:80']));
    const old = acquire(balancer, 'app.localhost')!;
    balancer.sync(table(['a', '10.0.0.9:80']));
    // The request on the old address still runs on instance a.
    assert.equal(balancer.inFlight().get('a'), 1);
    const moved = acquire(balancer, 'app.localhost')!;
    assert.equal(moved.address, '10.0.0.9:80');
    assert.notEqual(moved, old);
    assert.deepEqual([...balancer.addresses()].sort(), ['10.0.0.1:80', '10.0.0.9:80']);
    balancer.release(old);
    assert.equal(balancer.inFlight().get('a'), 1);
    assert.deepEqual([...balancer.addresses()], ['10.0.0.9:80']);
    balancer.release(moved);
    assert.equal(balancer.inFlight().get('a'), 0);
  });

  test('passes over an unreachable instance for a while, unless it is the only one', () => {
    let now = 1_000;
    const balancer = new Balancer({ unreachableMs: 500, now: () => now });
    balancer.sync(table(['a', '10.0.0.1:80'], ['b', '10.0.0.2:80']));
    const a = acquire(balancer, 'app.localhost')!;
    balancer.release(a);
    balancer.markUnreachable(a);
    for (let i = 0; i < 3; i++) {
      const upstream = acquire(balancer, 'app.localhost')!;
      assert.equal(upstream.instanceId, 'b');
      // Even busier than a, b is preferred while a is unreachable.
    }
    now += 500;
    assert.equal(acquire(balancer, 'app.localhost')!.instanceId, 'a');

    const single = new Balancer({ now: () => now });
    single.sync(table(['only', '10.0.0.1:80']));
    single.markUnreachable(acquire(single, 'app.localhost')!);
    assert.equal(acquire(single, 'app.localhost')!.instanceId, 'only');
  });

  test('never picks the instance to avoid; none left means undefined', () => {
    const balancer = new Balancer();
    balancer.sync(table(['a', '10.0.0.1:80'], ['b', '10.0.0.2:80']));
    const a = acquire(balancer, 'app.localhost')!;
    assert.equal(acquire(balancer, 'app.localhost', a)!.instanceId, 'b');
    balancer.sync(table(['a', '10.0.0.1:80']));
    assert.equal(acquire(balancer, 'app.localhost', a), undefined);
    assert.equal(acquire(balancer, 'other.localhost'), undefined);
    balancer.sync(table());
    assert.equal(acquire(balancer, 'app.localhost'), undefined);
  });

  describe('draining', () => {
    test('a withdrawn instance with requests running is never picked, stays counted, and is forgotten at zero', () => {
      const drained: Upstream[] = [];
      const balancer = new Balancer({ onDrained: (upstream) => drained.push(upstream) });
      balancer.sync(table(['a', '10.0.0.1:80'], ['b', '10.0.0.2:80']));
      const onA = [acquire(balancer, 'app.localhost')!, acquire(balancer, 'app.localhost')!, acquire(balancer, 'app.localhost')!]
        .filter((upstream) => upstream.instanceId === 'a');
      assert.equal(onA.length, 2);
      balancer.sync(table(['b', '10.0.0.2:80'], ['c', '10.0.0.3:80']));
      assert.deepEqual(Object.fromEntries(balancer.inFlight()), { a: 2, b: 1, c: 0 });
      assert.deepEqual([...balancer.addresses()].sort(), ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80']);
      // b and c soon have more requests than a, which would then win if it were still routable.
      for (let i = 0; i < 10; i++) assert.notEqual(acquire(balancer, 'app.localhost')!.instanceId, 'a');

      balancer.release(onA[0]!);
      assert.equal(balancer.inFlight().get('a'), 1);
      assert.equal(drained.length, 0);
      balancer.release(onA[1]!);
      assert.deepEqual(drained.map((upstream) => upstream.instanceId), ['a']);
      assert.equal(balancer.inFlight().has('a'), false);
      assert.equal(balancer.addresses().has('10.0.0.1:80'), false);
    });

    test('a withdrawn instance with nothing running is dropped at once, without onDrained', () => {
      const drained: Upstream[] = [];
      const balancer = new Balancer({ onDrained: (upstream) => drained.push(upstream) });
      balancer.sync(table(['a', '10.0.0.1:80'], ['b', '10.0.0.2:80']));
      balancer.release(acquire(balancer, 'app.localhost')!);
      balancer.sync(table(['b', '10.0.0.2:80']));
      assert.deepEqual(Object.fromEntries(balancer.inFlight()), { b: 0 });
      assert.deepEqual([...balancer.addresses()], ['10.0.0.2:80']);
      assert.equal(drained.length, 0);
    });

    test('a routed instance is picked even when busier than a draining one', () => {
      const balancer = new Balancer();
      balancer.sync(table(['a', '10.0.0.1:80']));
      const onA = acquire(balancer, 'app.localhost')!;
      balancer.sync(table(['b', '10.0.0.2:80']));
      const onB = [acquire(balancer, 'app.localhost')!, acquire(balancer, 'app.localhost')!];
      assert.deepEqual(onB.map((upstream) => upstream.instanceId), ['b', 'b']);
      assert.deepEqual(Object.fromEntries(balancer.inFlight()), { a: 1, b: 2 });
      balancer.release(onA);
      for (const upstream of onB) balancer.release(upstream);
    });

    test('an instance that comes back while draining is routable again with its count', () => {
      const drained: Upstream[] = [];
      const balancer = new Balancer({ onDrained: (upstream) => drained.push(upstream) });
      balancer.sync(table(['a', '10.0.0.1:80'], ['b', '10.0.0.2:80']));
      const first = acquire(balancer, 'app.localhost')!;
      assert.equal(first.instanceId, 'a');
      balancer.sync(table(['b', '10.0.0.2:80']));
      assert.equal(acquire(balancer, 'app.localhost')!.instanceId, 'b');
      balancer.sync(table(['a', '10.0.0.1:80'], ['b', '10.0.0.2:80']));
      assert.deepEqual(Object.fromEntries(balancer.inFlight()), { a: 1, b: 1 });
      // The same object, still counted: releasing the old request leaves a routed, at 0.
      const again = acquire(balancer, 'app.localhost')!;
      assert.equal(again, first);
      assert.equal(first.inFlight, 2);
      balancer.release(first);
      balancer.release(again);
      assert.equal(drained.length, 0);
      assert.equal(balancer.inFlight().get('a'), 0);
      // Withdrawn again with nothing running: gone, and never reported drained.
      balancer.sync(table(['b', '10.0.0.2:80']));
      assert.equal(balancer.inFlight().has('a'), false);
      assert.equal(drained.length, 0);
    });
  });
});

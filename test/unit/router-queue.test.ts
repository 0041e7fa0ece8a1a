// The balancer's hard cap and queue, and the load meters it keeps, with fake waiters and a fake
// clock: who gets an instance, in which order, and what the load figures say.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { Route, RouteTable } from '../../src/core/routes.ts';
import { Balancer, type Lane, type Upstream, type Waiter, type WaiterRefusal } from '../../src/edges/router/balancer.ts';
import { LoadMeter } from '../../src/edges/router/load-meter.ts';

/** A request waiting as the proxy's exchange does; it records what happens to it. */
class FakeWaiter implements Waiter {
  readonly name: string;
  readonly arrivedAt: number;
  queuedIn: Lane | null = null;
  queuePrev: Waiter | null = null;
  queueNext: Waiter | null = null;
  upstream: Upstream | undefined;
  refused: WaiterRefusal | undefined;
  readonly #onAdmit: ((waiter: FakeWaiter) => void) | undefined;

  constructor(name: string, arrivedAt = 0, onAdmit?: (waiter: FakeWaiter) => void) {
    this.name = name;
    this.arrivedAt = arrivedAt;
    this.#onAdmit = onAdmit;
  }

  admit(upstream: Upstream): void {
    assert.equal(this.queuedIn, null, `${this.name} was admitted while still queued`);
    assert.equal(this.upstream, undefined, `${this.name} was admitted twice`);
    assert.equal(this.refused, undefined, `${this.name} was admitted after being refused`);
    assert.ok(upstream.inFlight <= upstream.limit, `${this.name} took ${upstream.instanceId} over its cap: ${upstream.inFlight} > ${upstream.limit}`);
    this.upstream = upstream;
    this.#onAdmit?.(this);
  }

  refuse(code: WaiterRefusal): void {
    assert.equal(this.queuedIn, null);
    assert.equal(this.upstream, undefined);
    this.refused = code;
  }
}

const HOST = 'app.localhost';

function route(host: string, instances: string[], extra: Partial<Route> = {}): Route {
  return { host, serviceId: `${host}-id`, serviceName: host, targets: instances.map((id) => ({ instanceId: id, address: `${id}:80` })), ...extra };
}

const table = (...routes: Route[]): RouteTable => ({ routes });

const names = (waiters: FakeWaiter[]): string[] => waiters.map((waiter) => waiter.name);

describe('hard cap', () => {
  test('an instance at its cap is not picked; the least loaded with room is, ties round-robin', () => {
    const balancer = new Balancer();
    balancer.sync(table(route(HOST, ['a', 'b'], { maxConcurrency: 2 })));
    const lane = balancer.lane(HOST)!;
    const picked = Array.from({ length: 4 }, () => balancer.acquire(lane)!);
    assert.deepEqual(picked.map((upstream) => upstream.instanceId), ['a', 'b', 'a', 'b']);
    assert.equal(balancer.acquire(lane), undefined);
    balancer.release(picked[1]!);
    assert.equal(balancer.acquire(lane)!.instanceId, 'b');
    assert.equal(balancer.acquire(lane), undefined);
  });

  test('an instance routed by two hosts takes the stricter cap, counting the requests of both', () => {
    const balancer = new Balancer();
    balancer.sync(table(route(HOST, ['a'], { maxConcurrency: 3 }), route('other.localhost', ['a'], { maxConcurrency: 2 })));
    assert.ok(balancer.acquire(balancer.lane(HOST)!));
    assert.ok(balancer.acquire(balancer.lane('other.localhost')!));
    assert.equal(balancer.acquire(balancer.lane(HOST)!), undefined);
  });

  test('a retry goes to another instance with room, or stays on the failed one, never over a cap', () => {
    const balancer = new Balancer();
    balancer.sync(table(route(HOST, ['a', 'b'], { maxConcurrency: 1 })));
    const lane = balancer.lane(HOST)!;
    const onA = balancer.acquire(lane)!;
    assert.equal(onA.instanceId, 'a');
    // b has room: the request moves there and a is released.
    const onB = balancer.retry(lane, onA, true)!;
    assert.equal(onB.instanceId, 'b');
    assert.deepEqual(Object.fromEntries(balancer.inFlight()), { a: 0, b: 1 });
    // a is taken by another request: no room elsewhere, so the retry stays on b (count unchanged) or fails.
    const other = balancer.acquire(lane)!;
    assert.equal(other.instanceId, 'a');
    assert.equal(balancer.retry(lane, onB, true), onB);
    assert.equal(balancer.retry(lane, onB, false), undefined);
    assert.deepEqual(Object.fromEntries(balancer.inFlight()), { a: 1, b: 1 });
    // A failed instance withdrawn meanwhile is not reused.
    balancer.sync(table(route(HOST, ['a'], { maxConcurrency: 1 })));
    assert.equal(balancer.retry(balancer.lane(HOST)!, onB, true), undefined);
  });
});

describe('queue', () => {
  test('waiting requests get a freed slot in arrival order, one per slot', () => {
    const balancer = new Balancer();
    balancer.sync(table(route(HOST, ['a'], { maxConcurrency: 1 })));
    const lane = balancer.lane(HOST)!;
    const first = balancer.acquire(lane)!;
    const admitted: FakeWaiter[] = [];
    const waiters = ['w1', 'w2', 'w3'].map((name) => new FakeWaiter(name, 0, (waiter) => admitted.push(waiter)));
    for (const waiter of waiters) assert.equal(balancer.enqueue(lane, waiter), true);
    assert.equal(lane.queued, 3);
    assert.equal(lane.load.queued, 3);

    balancer.release(first);
    assert.deepEqual(names(admitted), ['w1']);
    assert.equal(waiters[0]!.upstream, first);
    assert.equal(first.inFlight, 1);
    balancer.release(first);
    balancer.release(first);
    assert.deepEqual(names(admitted), ['w1', 'w2', 'w3']);
    assert.equal(lane.queued, 0);
    assert.equal(lane.load.queued, 0);
    assert.equal(lane.head, null);
    assert.equal(lane.tail, null);
  });

  test('a full queue takes no more; a slot lets one in again', () => {
    const balancer = new Balancer({ queueLimit: 2 });
    balancer.sync(table(route(HOST, ['a'], { maxConcurrency: 1 })));
    const lane = balancer.lane(HOST)!;
    const running = balancer.acquire(lane)!;
    assert.equal(balancer.enqueue(lane, new FakeWaiter('w1')), true);
    assert.equal(balancer.enqueue(lane, new FakeWaiter('w2')), true);
    const refused = new FakeWaiter('w3');
    assert.equal(balancer.enqueue(lane, refused), false);
    assert.equal(refused.queuedIn, null);
    assert.equal(lane.queued, 2);
    balancer.release(running);
    assert.equal(balancer.enqueue(lane, new FakeWaiter('w4')), true);

    const none = new Balancer({ queueLimit: 0 });
    none.sync(table(route(HOST, [], { hold: true })));
    assert.equal(none.enqueue(none.lane(HOST)!, new FakeWaiter('w')), false);
  });

  test('a waiter that gives up (client gone, wait over) leaves from anywhere in the queue and is never admitted', () => {
    const balancer = new Balancer();
    balancer.sync(table(route(HOST, ['a'], { maxConcurrency: 1 })));
    const lane = balancer.lane(HOST)!;
    const running = balancer.acquire(lane)!;
    const admitted: FakeWaiter[] = [];
    const waiters = ['w1', 'w2', 'w3', 'w4'].map((name) => new FakeWaiter(name, 0, (waiter) => admitted.push(waiter)));
    for (const waiter of waiters) balancer.enqueue(lane, waiter);
    // The middle, the head, the tail; twice is harmless.
    balancer.leave(waiters[1]!);
    balancer.leave(waiters[0]!);
    balancer.leave(waiters[3]!);
    balancer.leave(waiters[3]!);
    assert.equal(lane.queued, 1);
    assert.equal(lane.load.queued, 1);
    assert.equal(lane.head, waiters[2]);
    assert.equal(lane.tail, waiters[2]);
    for (const waiter of waiters) if (waiter !== waiters[2]) assert.equal(waiter.queuedIn, null);
    balancer.release(running);
    assert.deepEqual(names(admitted), ['w3']);
    balancer.release(waiters[2]!.upstream!);
    assert.equal(running.inFlight, 0);
    assert.deepEqual(names(admitted), ['w3']);
  });

  test('a table that adds an instance or raises the cap admits waiters at once, in order, up to the room it makes', () => {
    const balancer = new Balancer();
    balancer.sync(table(route(HOST, ['a'], { maxConcurrency: 1 })));
    const lane = balancer.lane(HOST)!;
    balancer.acquire(lane);
    const admitted: FakeWaiter[] = [];
    for (const name of ['w1', 'w2', 'w3', 'w4', 'w5']) balancer.enqueue(lane, new FakeWaiter(name, 0, (waiter) => admitted.push(waiter)));
    balancer.sync(table(route(HOST, ['a', 'b'], { maxConcurrency: 1 })));
    assert.deepEqual(admitted.map((waiter) => `${waiter.name}@${waiter.upstream!.instanceId}`), ['w1@b']);
    balancer.sync(table(route(HOST, ['a', 'b'], { maxConcurrency: 2 })));
    assert.deepEqual(admitted.map((waiter) => `${waiter.name}@${waiter.upstream!.instanceId}`), ['w1@b', 'w2@a', 'w3@b']);
    assert.equal(balancer.lane(HOST), lane);
    assert.equal(lane.queued, 2);
    assert.deepEqual(Object.fromEntries(balancer.inFlight()), { a: 2, b: 2 });
  });

  test('a held route without instances queues; the first waiter signals demand, once a second; its first instance takes them in order', () => {
    let now = 0;
    const demands: string[] = [];
    const balancer = new Balancer({ now: () => now, onDemand: (lane) => demands.push(lane.host) });
    balancer.sync(table(route(HOST, [], { hold: true, maxConcurrency: 2 })));
    const lane = balancer.lane(HOST)!;
    assert.equal(balancer.acquire(lane), undefined);
    const admitted: FakeWaiter[] = [];
    const waiters = ['w1', 'w2', 'w3'].map((name) => new FakeWaiter(name, 0, (waiter) => admitted.push(waiter)));
    balancer.enqueue(lane, waiters[0]!);
    assert.deepEqual(demands, [HOST]);
    balancer.enqueue(lane, waiters[1]!);
    balancer.enqueue(lane, waiters[2]!);
    assert.deepEqual(demands, [HOST]);
    // Emptied and filled again within the second: no new signal; after it: one.
    balancer.leave(waiters[0]!);
    balancer.leave(waiters[1]!);
    balancer.leave(waiters[2]!);
    now = 500;
    const again = new FakeWaiter('w4', now, (waiter) => admitted.push(waiter));
    balancer.enqueue(lane, again);
    assert.deepEqual(demands, [HOST]);
    balancer.leave(again);
    now = 1000;
    const late = ['w5', 'w6', 'w7'].map((name) => new FakeWaiter(name, now, (waiter) => admitted.push(waiter)));
    for (const waiter of late) balancer.enqueue(lane, waiter);
    assert.deepEqual(demands, [HOST, HOST]);

    balancer.sync(table(route(HOST, ['a'], { hold: true, maxConcurrency: 2 })));
    assert.deepEqual(names(admitted), ['w5', 'w6']);
    assert.equal(lane.queued, 1);
  });

  test('waiters are refused when their route goes, is paused, or loses its instances without hold', () => {
    const balancer = new Balancer();
    const hosts = ['gone.localhost', 'paused.localhost', 'empty.localhost', 'held.localhost', 'moved.localhost'];
    balancer.sync(table(...hosts.map((host) => route(host, [], { hold: true }))));
    const waiters = new Map(hosts.map((host) => {
      const waiter = new FakeWaiter(host);
      assert.ok(balancer.enqueue(balancer.lane(host)!, waiter));
      return [host, waiter];
    }));
    balancer.sync(table(
      route('paused.localhost', [], { hold: true, paused: true }),
      route('empty.localhost', []),
      route('held.localhost', [], { hold: true }),
      { ...route('moved.localhost', [], { hold: true }), serviceId: 'another-service' },
    ));
    assert.equal(waiters.get('gone.localhost')!.refused, 'UnknownHost');
    assert.equal(waiters.get('paused.localhost')!.refused, 'ServicePaused');
    assert.equal(waiters.get('empty.localhost')!.refused, 'NoHealthyInstance');
    assert.equal(waiters.get('held.localhost')!.refused, undefined);
    assert.equal(waiters.get('held.localhost')!.queuedIn, balancer.lane('held.localhost'));
    // The host now routes to another service: its waiters were for the old one.
    assert.equal(waiters.get('moved.localhost')!.refused, 'NoHealthyInstance');
    assert.equal(balancer.lane('moved.localhost')!.queued, 0);
  });

  test('an instance shared by two hosts serves the host whose waiter came first', () => {
    const balancer = new Balancer();
    balancer.sync(table(route(HOST, ['a'], { maxConcurrency: 1 }), route('other.localhost', ['a'], { maxConcurrency: 1 })));
    const running = balancer.acquire(balancer.lane(HOST)!)!;
    const admitted: FakeWaiter[] = [];
    const record = (waiter: FakeWaiter): void => {
      admitted.push(waiter);
    };
    balancer.enqueue(balancer.lane(HOST)!, new FakeWaiter('late', 20, record));
    balancer.enqueue(balancer.lane('other.localhost')!, new FakeWaiter('early', 10, record));
    balancer.release(running);
    assert.deepEqual(names(admitted), ['early']);
    balancer.release(admitted[0]!.upstream!);
    assert.deepEqual(names(admitted), ['early', 'late']);
  });

  test('an admission that ends at once (a connection failing synchronously) lets the next waiter in', () => {
    const balancer = new Balancer();
    balancer.sync(table(route(HOST, ['a'], { maxConcurrency: 1 })));
    const lane = balancer.lane(HOST)!;
    const running = balancer.acquire(lane)!;
    const admitted: string[] = [];
    const failing = new FakeWaiter('failing', 0, (waiter) => {
      admitted.push(waiter.name);
      balancer.release(waiter.upstream!);
    });
    balancer.enqueue(lane, failing);
    balancer.enqueue(lane, new FakeWaiter('next', 0, (waiter) => admitted.push(waiter.name)));
    balancer.release(running);
    assert.deepEqual(admitted, ['failing', 'next']);
    assert.equal(running.inFlight, 1);
    assert.equal(lane.queued, 0);
  });

  test('the cap is never exceeded, waiters are admitted in arrival order, and nobody is lost, whatever happens', () => {
    const instances = ['a', 'b', 'c'];
    const hosts = ['h1.localhost', 'h2.localhost', 'h3.localhost'];
    const routeArb = (host: string): fc.Arbitrary<Route | null> => fc.option(fc.record({
      targets: fc.subarray(instances),
      cap: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
      hold: fc.boolean(),
      paused: fc.boolean(),
    }).map(({ targets, cap, hold, paused }) => {
      // h3 belongs to h1's service: two hosts, one service, shared instances.
      const r = route(host, targets, { ...(cap === undefined ? {} : { maxConcurrency: cap }), ...(hold ? { hold } : {}), ...(paused ? { paused } : {}) });
      return host === 'h3.localhost' ? { ...r, serviceId: 'h1.localhost-id' } : r;
    }), { freq: 5 });
    const op = fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('arrive' as const), host: fc.constantFrom(...hosts) }) },
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('leave' as const), pick: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('sync' as const), routes: fc.tuple(...hosts.map(routeArb)) }) },
    );
    fc.assert(fc.property(fc.array(op, { maxLength: 200 }), fc.integer({ min: 0, max: 4 }), (ops, queueLimit) => {
      let clock = 0;
      const balancer = new Balancer({ queueLimit, now: () => clock });
      balancer.sync(table(route('h1.localhost', ['a'], { maxConcurrency: 1 }), route('h2.localhost', ['b', 'c'], { maxConcurrency: 2 })));
      const running: FakeWaiter[] = [];
      const waiting: FakeWaiter[] = [];
      const ended: FakeWaiter[] = [];
      /** Per host, the arrival number of the last waiter admitted there. */
      const lastAdmitted = new Map<string, number>();
      let serial = 0;
      const onAdmit = (waiter: FakeWaiter): void => {
        const host = waiter.name.split('#')[0]!;
        const number = Number(waiter.name.split('#')[1]);
        assert.ok(number > (lastAdmitted.get(host) ?? -1), `waiter ${waiter.name} overtook an earlier one of its host`);
        lastAdmitted.set(host, number);
        waiting.splice(waiting.indexOf(waiter), 1);
        running.push(waiter);
      };
      const onRefuse = (): void => {
        for (const waiter of waiting.filter((w) => w.refused !== undefined)) {
          waiting.splice(waiting.indexOf(waiter), 1);
          ended.push(waiter);
        }
      };
      for (const step of ops) {
        clock += 1;
        switch (step.kind) {
          case 'arrive': {
            const lane = balancer.lane(step.host);
            if (lane === undefined || lane.paused) break;
            const waiter = new FakeWaiter(`${step.host}#${serial++}`, clock, onAdmit);
            const upstream = lane.head === null ? balancer.acquire(lane) : undefined;
            if (upstream !== undefined) {
              assert.ok(upstream.inFlight <= upstream.limit);
              waiter.upstream = upstream;
              running.push(waiter);
            } else if (lane.upstreams.length > 0 || lane.hold) {
              if (balancer.enqueue(lane, waiter)) waiting.push(waiter);
              else assert.equal(lane.queued, queueLimit);
            }
            break;
          }
          case 'release': {
            if (running.length === 0) break;
            const [waiter] = running.splice(step.pick % running.length, 1);
            balancer.release(waiter!.upstream!);
            ended.push(waiter!);
            break;
          }
          case 'leave': {
            if (waiting.length === 0) break;
            const [waiter] = waiting.splice(step.pick % waiting.length, 1);
            balancer.leave(waiter!);
            ended.push(waiter!);
            break;
          }
          case 'sync':
            balancer.sync(table(...step.routes.filter((r) => r !== null)));
            onRefuse();
            break;
        }
        // A queue is never waiting while one of its instances has room.
        for (const host of hosts) {
          const lane = balancer.lane(host);
          if (lane === undefined || lane.head === null) continue;
          for (const upstream of lane.upstreams) assert.ok(upstream.inFlight >= upstream.limit, `${host} queues while ${upstream.instanceId} has room`);
        }
        // The counts are the requests running on each instance.
        const expected = new Map<string, number>();
        for (const waiter of running) expected.set(waiter.upstream!.instanceId, (expected.get(waiter.upstream!.instanceId) ?? 0) + 1);
        for (const [instanceId, count] of balancer.inFlight()) assert.equal(count, expected.get(instanceId) ?? 0, `count of ${instanceId}`);
        const queued = hosts.reduce((sum, host) => sum + (balancer.lane(host)?.queued ?? 0), 0);
        assert.equal(queued, waiting.length);
      }
      // Nobody left waiting (who would be admitted as slots free), then every slot freed.
      for (const waiter of waiting.splice(0)) balancer.leave(waiter);
      for (const waiter of running.splice(0)) balancer.release(waiter.upstream!);
      assert.ok([...balancer.inFlight().values()].every((count) => count === 0));
    }), { numRuns: 300 });
  });
});

describe('load', () => {
  test('a meter averages the level over time, exactly, and starts a new interval when taken', () => {
    const meter = new LoadMeter(0);
    meter.arrive(0);
    meter.arrive(0);
    meter.depart(250);
    meter.arrive(500);
    meter.arrive(600);
    meter.depart(600);
    // Level 2 for 250 ms, 1 for 250 ms, 2 for 500 ms: 1500 / 1000.
    assert.deepEqual(meter.take(1000), { concurrency: 1.75, queued: 0, arrivals: 4, rejected: 0, intervalMs: 1000 });
    assert.deepEqual(meter.take(1500), { concurrency: 2, queued: 0, arrivals: 0, rejected: 0, intervalMs: 500 });
    // No time at all: the level itself.
    assert.deepEqual(meter.take(1500), { concurrency: 2, queued: 0, arrivals: 0, rejected: 0, intervalMs: 0 });
  });

  test('the balancer reports every routed service, its queue, and a removed one until its last request ends', () => {
    let now = 0;
    const balancer = new Balancer({ now: () => now });
    balancer.sync(table(route(HOST, ['a'], { maxConcurrency: 1 }), route('idle.localhost', ['b'])));
    const lane = balancer.lane(HOST)!;
    lane.load.arrive(now);
    const running = balancer.acquire(lane)!;
    lane.load.arrive(now);
    const waiter = new FakeWaiter('w');
    balancer.enqueue(lane, waiter);
    now = 1000;
    assert.deepEqual(balancer.takeLoads(), {
      'app.localhost-id': { concurrency: 2, queued: 1, arrivals: 2, rejected: 0, intervalMs: 1000 },
      'idle.localhost-id': { concurrency: 0, queued: 0, arrivals: 0, rejected: 0, intervalMs: 1000 },
    });
    balancer.sync(table(route('idle.localhost', ['b'])));
    assert.equal(waiter.refused, 'UnknownHost');
    lane.load.depart(now);
    now = 1500;
    assert.deepEqual(balancer.takeLoads()[HOST + '-id'], { concurrency: 1, queued: 0, arrivals: 0, rejected: 0, intervalMs: 500 });
    balancer.release(running);
    lane.load.depart(1750);
    now = 2000;
    assert.deepEqual(balancer.takeLoads()[HOST + '-id'], { concurrency: 0.5, queued: 0, arrivals: 0, rejected: 0, intervalMs: 500 });
    assert.deepEqual(Object.keys(balancer.takeLoads()), ['idle.localhost-id']);
  });
});

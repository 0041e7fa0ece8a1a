/**
 * The autoscaler's decision rules (src/control/autoscaler.ts), as a pure function driven second
 * by second: routers report load, a decision follows, and instances are taken as ready as soon
 * as they are wanted unless a test says otherwise.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CALM, decideScale, LoadWindow, STABLE_WINDOW_MS, type PanicState, type ScaleDecision, type ScalingPolicy } from '../../src/control/autoscaler.ts';
import type { ServiceLoad } from '../../src/core/routes.ts';

const T0 = 1_750_000_000_000;

interface Load {
  concurrency: number;
  queued?: number;
  arrivals?: number;
}

/** One service under the autoscaler, one decision a second after each second of reports. */
class Simulation {
  readonly window = new LoadWindow();
  now = T0;
  state: PanicState = CALM;
  current: number;
  /** Ready instances; follows `current` unless set. */
  ready: number | undefined;
  readonly policy: ScalingPolicy;
  startedAt: number;
  deployedAt: number | undefined;
  readonly decisions: ScaleDecision[] = [];

  constructor(options: { current: number; policy: Partial<ScalingPolicy>; startedAt?: number; ready?: number }) {
    this.current = options.current;
    this.ready = options.ready;
    this.policy = { minSize: 1, maxSize: 10, maxConcurrency: 10, scaleToZeroIdleMs: 90_000, ...options.policy };
    // Long enough ago that the restart grace is over, unless a test is about it.
    this.startedAt = options.startedAt ?? T0 - 10 * STABLE_WINDOW_MS;
  }

  /** `seconds` seconds of `load` (total over `routers` routers, each reporting its share), deciding after each. */
  run(seconds: number, load: Load, routers = 1): ScaleDecision[] {
    const made: ScaleDecision[] = [];
    for (let s = 0; s < seconds; s++) {
      this.now += 1000;
      for (let r = 0; r < routers; r++) this.report({ concurrency: load.concurrency / routers, queued: load.queued ?? 0, arrivals: load.arrivals ?? 0, rejected: 0, intervalMs: 1000 });
      made.push(this.decide());
    }
    return made;
  }

  report(load: ServiceLoad): void {
    this.window.record(load, this.now);
  }

  decide(): ScaleDecision {
    const decision = decideScale(this.window, {
      now: this.now,
      current: this.current,
      ready: this.ready ?? this.current,
      policy: this.policy,
      startedAt: this.startedAt,
      deployedAt: this.deployedAt,
      state: this.state,
    });
    this.state = decision.state;
    this.current = decision.desired;
    this.decisions.push(decision);
    return decision;
  }
}

const counts = (decisions: readonly ScaleDecision[]): number[] => decisions.map((d) => d.desired);

describe('LoadWindow', () => {
  test('sums the routers, weights each report by its interval, and averages over the time it has seen', () => {
    const window = new LoadWindow();
    // Two routers, every second for 10 s: 3 and 4 requests on average.
    for (let s = 1; s <= 10; s++) {
      window.record({ concurrency: 3, queued: 0, arrivals: 5, rejected: 0, intervalMs: 1000 }, T0 + s * 1000);
      window.record({ concurrency: 4, queued: 0, arrivals: 5, rejected: 0, intervalMs: 1000 }, T0 + s * 1000);
    }
    assert.equal(window.average(T0 + 10_000, 6000).toFixed(6), '7.000000', 'the panic window: the two routers together');
    assert.equal(window.average(T0 + 10_000, STABLE_WINDOW_MS).toFixed(6), '7.000000', 'only 10 s seen: averaged over those, not diluted over 60 s');
    // A report of a short interval (a router reporting at once) counts for its length only.
    window.record({ concurrency: 100, queued: 1, arrivals: 1, rejected: 0, intervalMs: 100 }, T0 + 10_100);
    const panic = window.average(T0 + 10_100, 6000);
    assert.ok(panic > 7 && panic < 10, `100 requests for 0.1 s barely move a 6 s average: ${panic}`);
    assert.equal(window.lastDemandAt, T0 + 10_100);
  });

  test('silence is no load once reports have stopped for a few seconds', () => {
    const window = new LoadWindow();
    for (let s = 1; s <= 6; s++) window.record({ concurrency: 12, queued: 0, arrivals: 1, rejected: 0, intervalMs: 1000 }, T0 + s * 1000);
    assert.equal(window.average(T0 + 6500, 6000).toFixed(6), '12.000000', 'a decision just after a report: the window ends at the report');
    assert.equal(window.average(T0 + 12_000 + 6000, 6000), 0, 'no report for over a window: nothing');
    assert.ok(window.average(T0 + 10_000, 6000) < 12, 'routers silent for 4 s: the silence counts as idle time');
  });

  test('a report of no load records no demand', () => {
    const window = new LoadWindow();
    window.record({ concurrency: 0, queued: 0, arrivals: 0, rejected: 0, intervalMs: 1000 }, T0);
    assert.equal(window.lastDemandAt, undefined);
    window.record({ concurrency: 0, queued: 0, arrivals: 0, rejected: 2, intervalMs: 1000 }, T0 + 1000);
    assert.equal(window.lastDemandAt, T0 + 1000, 'requests refused were demand too');
  });
});

describe('decideScale', () => {
  test('steady load at the target keeps the count, over one router or three', () => {
    // MaxConcurrency 10: a target of 7 per instance; 21 requests in flight need exactly 3.
    for (const routers of [1, 3]) {
      const sim = new Simulation({ current: 3, policy: { maxConcurrency: 10 } });
      const decisions = sim.run(120, { concurrency: 21, arrivals: 50 }, routers);
      assert.deepEqual(new Set(counts(decisions)), new Set([3]), `${routers} router(s)`);
      assert.ok(decisions.every((d) => !d.panicking && d.target === 7 && d.reason === 'load'));
      assert.equal(decisions.at(-1)?.stable.toFixed(3), '21.000');
    }
  });

  test('a load that grows slowly is followed by the stable window, without panic', () => {
    // 9.5 requests need 2 instances of 7, but fit the one instance's cap of 10 and are under
    // twice what it is sized for.
    const sim = new Simulation({ current: 1, policy: { maxConcurrency: 10 } });
    sim.run(60, { concurrency: 7 });
    assert.equal(sim.current, 1);
    const decisions = sim.run(120, { concurrency: 9.5 });
    assert.equal(sim.current, 2, 'ceil(9.5 / 7)');
    assert.ok(decisions.every((d) => !d.panicking), 'no panic');
  });

  test('on demand: a load over what the ready instances take at their cap is sized for at once, before the windows see it', () => {
    // The benchmark's step: 1 instance of cap 5 (target 3.5), idle, then 15 at once. The panic
    // window still holds five idle seconds and would ask for 2 instances only.
    const sim = new Simulation({ current: 1, policy: { maxConcurrency: 5, maxSize: 5 } });
    sim.run(70, { concurrency: 0 });
    const [first] = sim.run(1, { concurrency: 15, queued: 10, arrivals: 15 });
    assert.ok(first !== undefined && first.panicking, 'it panics');
    assert.ok(Math.ceil(first.panic / 3.5) < 5, `the panic window alone asks for ${Math.ceil(first.panic / 3.5)}`);
    assert.equal(first.desired, 5, 'ceil(15 / 3.5) = 5, all MaxSize allows');
    // A load at the cap of what is ready does not queue: no on-demand jump.
    const calm = new Simulation({ current: 2, policy: { maxConcurrency: 5, maxSize: 5 } });
    calm.run(70, { concurrency: 10 });
    assert.equal(calm.current, 3, 'the stable window: ceil(10 / 3.5)');
  });

  test('a burst panics and scales up within one decision, never beyond MaxSize', () => {
    const sim = new Simulation({ current: 1, policy: { maxConcurrency: 10, maxSize: 8 } });
    sim.run(70, { concurrency: 5 });
    assert.equal(sim.current, 1);
    const [first, ...rest] = sim.run(30, { concurrency: 200, arrivals: 500 });
    assert.ok(first !== undefined && first.panicking, 'the first decision after the burst panics');
    // 200 requests at once on one instance of cap 10: sized for on demand, as far as MaxSize allows
    // (the panic window alone, one second of 200 and five of 5, would ask for 6).
    assert.equal(first.desired, 8);
    assert.ok(first.desired > Math.ceil(first.stable / 7), `the stable window alone would have asked for ${Math.ceil(first.stable / 7)}`);
    assert.ok(rest.every((d) => d.panicking && d.desired <= 8), `counts: ${counts(rest).join(',')}`);
    assert.equal(sim.current, 8, 'MaxSize');
  });

  test('a decision raises the count at most tenfold of what is ready', () => {
    const sim = new Simulation({ current: 1, policy: { maxConcurrency: 1, maxSize: 25 } });
    const [first] = sim.run(1, { concurrency: 1000 });
    assert.equal(first?.desired, 10);
    assert.equal(sim.run(1, { concurrency: 1000 })[0]?.desired, 25);
  });

  test('when the load goes, panic holds the count for a stable window, then it halves at most per decision down to MinSize', () => {
    const sim = new Simulation({ current: 2, policy: { maxConcurrency: 10, minSize: 2, maxSize: 16 } });
    sim.run(10, { concurrency: 14 });
    // More than twice what 16 instances are sized for: panic goes on all along the burst.
    sim.run(20, { concurrency: 300 });
    assert.equal(sim.current, 16);
    const after = sim.run(200, { concurrency: 0 });
    const panicking = after.filter((d) => d.panicking);
    assert.ok(panicking.length >= 60, `panic lasts a stable window after the burst: ${panicking.length} decisions`);
    assert.ok(after.slice(0, panicking.length).every((d) => d.panicking), 'in one stretch');
    assert.ok(panicking.every((d) => d.desired === 16), 'never down while panicking');
    const calm = after.slice(panicking.length);
    let previous = 16;
    for (const decision of calm) {
      assert.ok(decision.desired >= Math.floor(previous / 2), `from ${previous} to ${decision.desired} in one decision`);
      previous = decision.desired;
    }
    assert.deepEqual(counts(calm).filter((n, i, all) => n !== all[i - 1]), [8, 4, 2], 'halving, then MinSize');
    assert.equal(sim.current, 2);
  });

  test('halving is of the instances ready, not of the count wanted', () => {
    const sim = new Simulation({ current: 10, ready: 4, policy: { maxConcurrency: 10, minSize: 1 } });
    const [first] = sim.run(1, { concurrency: 0 });
    assert.equal(first?.desired, 2, 'floor(4 ready / 2)');
  });

  test('MinSize 0: zero after the idle period without a request, not a second before', () => {
    const sim = new Simulation({ current: 1, policy: { minSize: 0, scaleToZeroIdleMs: 30_000 } });
    sim.run(20, { concurrency: 2, arrivals: 3 });
    const lastRequest = sim.now;
    const idle = sim.run(40, { concurrency: 0 });
    const zeroAt = idle.findIndex((d) => d.desired === 0);
    assert.equal(sim.now - 40_000 + (zeroAt + 1) * 1000 - lastRequest, 30_000, 'exactly the idle period after the last request');
    assert.ok(idle.slice(0, zeroAt).every((d) => d.desired === 1), 'one instance until then');
    assert.equal(idle[zeroAt]?.reason, 'scale-to-zero');
    assert.ok(idle.slice(zeroAt).every((d) => d.desired === 0), 'and zero from then on');
  });

  test('MinSize 0: a long request in flight is not idleness', () => {
    const sim = new Simulation({ current: 1, policy: { minSize: 0, scaleToZeroIdleMs: 5000 } });
    sim.run(1, { concurrency: 1, arrivals: 1 });
    const decisions = sim.run(60, { concurrency: 1 });
    assert.ok(decisions.every((d) => d.desired === 1));
  });

  test('MinSize 0: the idle period overrides panic', () => {
    const sim = new Simulation({ current: 1, policy: { minSize: 0, maxSize: 5, maxConcurrency: 10, scaleToZeroIdleMs: 10_000 } });
    sim.run(5, { concurrency: 100, arrivals: 100 });
    assert.equal(sim.current, 5);
    const idle = sim.run(10, { concurrency: 0 });
    assert.ok(idle.slice(0, -1).every((d) => d.panicking && d.desired === 5));
    assert.deepEqual([idle.at(-1)?.desired, idle.at(-1)?.panicking], [0, false]);
  });

  test('from zero, a waiting request asks for an instance in the same decision', () => {
    const sim = new Simulation({ current: 0, policy: { minSize: 0, scaleToZeroIdleMs: 30_000 } });
    sim.run(100, { concurrency: 0 });
    assert.equal(sim.current, 0, 'nothing wakes a service at zero but a request');
    // The router reports at once when a request finds no instance: 5 ms after its last report.
    sim.now += 5;
    sim.report({ concurrency: 1, queued: 1, arrivals: 1, rejected: 0, intervalMs: 5 });
    const woken = sim.decide();
    assert.deepEqual([woken.desired, woken.reason], [1, 'scale-from-zero']);
  });

  test('from zero, a crowd asks for more than one instance at once', () => {
    const sim = new Simulation({ current: 0, policy: { minSize: 0, maxSize: 20, maxConcurrency: 1 } });
    sim.run(10, { concurrency: 0 });
    const [woken] = sim.run(1, { concurrency: 100, queued: 100, arrivals: 100 });
    assert.equal(woken?.reason, 'scale-from-zero');
    assert.equal(woken?.desired, 10, 'as many as the up rate allows from nothing ready (10 x 1)');
  });

  test('after a restart: no decrease for a stable window, increases at once', () => {
    const startedAt = T0;
    const quiet = new Simulation({ current: 6, startedAt, policy: { maxConcurrency: 10 } });
    const decisions = quiet.run(59, { concurrency: 0 });
    assert.ok(decisions.every((d) => d.desired === 6), `kept during the first stable window: ${counts(decisions).join(',')}`);
    assert.equal(quiet.run(1, { concurrency: 0 })[0]?.desired, 3, 'then halving');

    const busy = new Simulation({ current: 2, startedAt, policy: { maxConcurrency: 10, maxSize: 20 } });
    busy.run(3, { concurrency: 140 });
    assert.ok(busy.current > 2, `up at once: ${busy.current}`);
  });

  test('after a restart, MinSize 0: one running waits its idle period from the start; one at zero stays there', () => {
    const running = new Simulation({ current: 1, startedAt: T0, policy: { minSize: 0, scaleToZeroIdleMs: 20_000 } });
    const decisions = running.run(25, { concurrency: 0 });
    assert.equal(decisions.findIndex((d) => d.desired === 0), 19, '20 s after the start');

    const asleep = new Simulation({ current: 0, startedAt: T0, policy: { minSize: 0 } });
    assert.ok(asleep.run(5, { concurrency: 0 }).every((d) => d.desired === 0));
  });

  test('MinSize 0: a deployment restarts the idle clock', () => {
    const sim = new Simulation({ current: 1, policy: { minSize: 0, scaleToZeroIdleMs: 10_000 } });
    sim.run(1, { concurrency: 1, arrivals: 1 });
    sim.run(60, { concurrency: 0 });
    assert.equal(sim.current, 0);
    // A deployment brought an instance up (the API counts 1) and has just ended.
    sim.current = 1;
    sim.deployedAt = sim.now;
    const decisions = sim.run(12, { concurrency: 0 });
    assert.equal(decisions.findIndex((d) => d.desired === 0), 9, 'the idle period after the deployment ended');
  });

  test('the count stays within [MinSize, MaxSize] whatever it was', () => {
    const sim = new Simulation({ current: 30, policy: { minSize: 3, maxSize: 12, maxConcurrency: 10 } });
    assert.equal(sim.run(1, { concurrency: 1000 })[0]?.desired, 12);
    const low = new Simulation({ current: 0, policy: { minSize: 3, maxSize: 12 } });
    assert.equal(low.run(1, { concurrency: 0 })[0]?.desired, 3);
  });
});

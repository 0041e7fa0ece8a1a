import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tapFailures } from '../../scripts/tap-failures.ts';

/** What node:test's TAP reporter printed for a suite with one failing and one passing test, and a failing top-level test. */
const tap = `TAP version 13
# Subtest: outer
    # Subtest: inner fails
    not ok 1 - inner fails
      ---
      duration_ms: 1.337947
      type: 'test'
      location: '/tmp/tapfail.test.ts:4:3'
      failureType: 'testCodeFailure'
      error: |-
        one is not two
        
        1 !== 2
        
      code: 'ERR_ASSERTION'
      stack: |-
        TestContext.<anonymous> (file:///tmp/tapfail.test.ts:4:38)
      ...
    # Subtest: inner ok
    ok 2 - inner ok
      ---
      duration_ms: 0.132627
      type: 'test'
      ...
    1..2
not ok 1 - outer
  ---
  duration_ms: 2.482398
  type: 'suite'
  location: '/tmp/tapfail.test.ts:3:1'
  failureType: 'subtestsFailed'
  error: '1 subtest failed'
  code: 'ERR_TEST_FAILURE'
  ...
# Subtest: top fails
not ok 2 - top fails
  ---
  duration_ms: 0.186507
  type: 'test'
  location: '/tmp/tapfail.test.ts:7:1'
  failureType: 'testCodeFailure'
  error: 'it''s broken'
  code: 'ERR_TEST_FAILURE'
  ...
# Subtest: skipped
ok 3 - skipped # SKIP no engine
1..3
`;

test('lists the tests that failed themselves, with their suite path, location and first error line', () => {
  assert.deepEqual(tapFailures(tap), [
    { name: 'outer > inner fails', location: '/tmp/tapfail.test.ts:4:3', error: 'one is not two' },
    { name: 'top fails', location: '/tmp/tapfail.test.ts:7:1', error: "it's broken" },
  ]);
});

test('a passing run has no failures', () => {
  assert.deepEqual(tapFailures('TAP version 13\n# Subtest: a\nok 1 - a\n  ---\n  duration_ms: 1\n  ...\n1..1\n'), []);
});

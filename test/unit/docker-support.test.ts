/**
 * The test-support rule that CI never skips Docker tests: without an engine, a developer's run
 * skips with a reason and a CI run fails.
 */
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { dockerSkip } from '../support/docker.ts';

const NO_ENGINE = join(tmpdir(), 'berth-no-engine-here.sock');

async function withCi<T>(value: string | undefined, run: () => Promise<T>): Promise<T> {
  const saved = process.env.CI;
  if (value === undefined) delete process.env.CI;
  else process.env.CI = value;
  try {
    return await run();
  } finally {
    if (saved === undefined) delete process.env.CI;
    else process.env.CI = saved;
  }
}

test('without an engine, a local run skips and says why', async () => {
  const skip = await withCi(undefined, () => dockerSkip(NO_ENGINE));
  assert.match(String(skip), /no Docker engine .*not reachable at .*berth-no-engine-here\.sock/);
});

test('without an engine, a CI run fails instead of skipping', async () => {
  await withCi('true', () => assert.rejects(dockerSkip(NO_ENGINE), /CI must not skip it/));
});

/**
 * The invalid-request table (issue 3): every constraint of every operation, each sent as a raw
 * signed request to a real control plane. Each must fail with its error type and HTTP status
 * and a message naming what is wrong, and must change nothing in the store. The cases live
 * beside this file, one `*.cases.ts` per family of operations.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ERRORS, type ErrorCode } from '../../src/core/errors.ts';
import { APP_RUNNER_OPERATIONS } from '../../src/core/model/app-runner-shapes.ts';
import { startApiHarness, type ApiHarness } from '../support/api-harness.ts';
import type { CaseFamily, Fixtures, InvalidCase } from './invalid-requests/types.ts';

const folder = join(import.meta.dirname, 'invalid-requests');
const families: CaseFamily[] = [];
for (const file of readdirSync(folder).filter((f) => f.endsWith('.cases.ts')).sort()) {
  families.push(((await import(join(folder, file))) as { family: CaseFamily }).family);
}
const allCases: InvalidCase[] = families.flatMap((f) => f.cases.flat());

let api: ApiHarness;
let fixtures: Fixtures = {};

before(async () => {
  api = await startApiHarness({ quotas: { services: 6 } });
  const collected: Record<string, string> = {};
  for (const family of families) Object.assign(collected, await family.setup?.(api, collected));
  fixtures = collected;
  await api.settle();
});

after(async () => {
  await api?.close();
});

test('the table has at least 200 cases and covers every App Runner operation', () => {
  assert.ok(allCases.length >= 200, `only ${allCases.length} cases`);
  const covered = new Set(allCases.map((c) => c.operation));
  const missing = APP_RUNNER_OPERATIONS.filter((op) => !covered.has(op));
  assert.deepEqual(missing, [], `operations without an invalid-request case: ${missing.join(', ')}`);
  const names = allCases.map((c) => `${c.operation}: ${c.name}`);
  assert.equal(new Set(names).size, names.length, 'case names repeat');
});

for (const family of families) {
  describe(family.name, () => {
    for (const c of family.cases.flat()) {
      test(`${c.operation}: ${c.name}`, async () => {
        const body = c.body(fixtures);
        const before = api.dump();
        const reply = await api.send(c.operation, typeof body === 'string' ? body : JSON.stringify(body));
        assert.equal(reply.json.__type, c.error, `expected ${c.error}, got ${reply.status} ${JSON.stringify(reply.json)}`);
        assert.equal(reply.status, c.status ?? ERRORS[c.error as ErrorCode], `HTTP status of ${c.error}`);
        assert.match(String(reply.json.Message), c.message);
        assert.equal(api.dump(), before, 'the failed request changed the store');
      });
    }
  });
}

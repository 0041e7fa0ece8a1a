// The layering check (.dependency-cruiser.cjs) catches what it is meant to: a fixture tree with
// one of each violation, plus allowed imports that must stay quiet, cruised with the real config.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CONFIG = join(root, '.dependency-cruiser.cjs');
const DEPCRUISE = join(root, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

interface Violation {
  from: string;
  to: string;
  rule: { name: string; severity: string };
}

interface CruiseResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs dependency-cruiser in `cwd` with the repository's config, as `npm run layers` does. */
async function cruise(cwd: string, outputType: 'err' | 'json'): Promise<CruiseResult> {
  const child = spawn(process.execPath, [DEPCRUISE, '--config', CONFIG, '--output-type', outputType, 'src'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  return { code, stdout, stderr };
}

/** Every violation as `rule: from -> to`, sorted. */
async function violations(cwd: string): Promise<string[]> {
  const { code, stdout, stderr } = await cruise(cwd, 'json');
  assert.ok(stdout.startsWith('{'), `dependency-cruiser printed no JSON (exit ${code}): ${stderr}${stdout}`);
  const report = JSON.parse(stdout) as { summary: { violations: Violation[] } };
  for (const v of report.summary.violations) assert.equal(v.rule.severity, 'error', `${v.rule.name} should be an error`);
  return report.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort();
}

/** The fixture: file path → content. Comments mark each import as allowed or as the violation it is. */
const FIXTURE: Record<string, string> = {
  'package.json': JSON.stringify({ name: 'layers-fixture', type: 'module', private: true, dependencies: { undici: '*' }, devDependencies: { 'dev-tool': '*' } }),
  'node_modules/undici/package.json': JSON.stringify({ name: 'undici', main: 'index.js' }),
  'node_modules/undici/index.js': 'export const Pool = 1;\n',
  'node_modules/dev-tool/package.json': JSON.stringify({ name: 'dev-tool', main: 'index.js' }),
  'node_modules/dev-tool/index.js': 'export const tool = 1;\n',
  // Installed only as some other package's dependency: not in package.json.
  'node_modules/transitive/package.json': JSON.stringify({ name: 'transitive', main: 'index.js' }),
  'node_modules/transitive/index.js': 'export const t = 1;\n',

  'src/core/ok.ts': "import { createHash } from 'node:crypto'; // allowed: pure\nexport const ok = createHash;\n",
  'src/core/bad.ts': [
    "import { x } from '../adapters/docker/x.ts'; // core-imports-only-core",
    "import { readFileSync } from 'node:fs'; // core-does-no-io",
    "import { request } from 'http'; // core-does-no-io, without the node: prefix",
    "import type { DatabaseSync } from 'node:sqlite'; // core-does-no-io, even type-only",
    "import { Pool } from 'undici'; // core-no-http-client",
    "import { ok } from './ok.ts'; // allowed",
    'export const bad = [x, readFileSync, request, Pool, ok] as const;',
    'export type Db = DatabaseSync;',
  ].join('\n'),
  'src/core/cycle-a.ts': "import { b } from './cycle-b.ts'; // no-circular\nexport const a = () => b;\n",
  'src/core/cycle-b.ts': "import { a } from './cycle-a.ts'; // no-circular\nexport const b = () => a;\n",

  'src/adapters/docker/x.ts': [
    "import { y } from '../tls/y.ts'; // adapter-imports-core-and-own-folder",
    "import { z } from './z.ts'; // allowed: same adapter folder",
    "import { ok } from '../../core/ok.ts'; // allowed",
    "import { Pool } from 'undici'; // allowed: declared dependency, adapters do I/O",
    "import { readFileSync } from 'node:fs'; // allowed",
    "import { tool } from 'dev-tool'; // src-no-dev-dependencies",
    "import { t } from 'transitive'; // src-only-declared-packages",
    'export const x = [y, z, ok, Pool, readFileSync, tool, t];',
  ].join('\n'),
  'src/adapters/docker/z.ts': 'export const z = 1;\n',
  'src/adapters/tls/y.ts': "import { ok } from '../../core/ok.ts'; // allowed\nexport const y = ok;\n",

  'src/control/c.ts': [
    "import { y } from '../adapters/tls/y.ts'; // control-imports-only-core",
    "import { ok } from '../core/ok.ts'; // allowed",
    "import { d } from './d.ts'; // allowed: same layer",
    'export const c = [y, ok, d];',
  ].join('\n'),
  'src/control/d.ts': 'export const d = 1;\n',

  'src/edges/router/r.ts': [
    "import { s } from '../api/s.ts'; // edge-imports-lower-layers-and-own-folder",
    "import { c } from '../../control/c.ts'; // allowed",
    "import { x } from '../../adapters/docker/x.ts'; // allowed",
    "import { ok } from '../../core/ok.ts'; // allowed",
    "import { q } from './q.ts'; // allowed: same edge folder",
    "import { missing } from './missing.ts'; // no-unresolvable",
    'export const r = [s, c, x, ok, q, missing];',
  ].join('\n'),
  'src/edges/router/q.ts': 'export const q = 1;\n',
  'src/edges/api/s.ts': "import { m } from '../../main/m.ts'; // nothing-imports-main\nexport const s = m;\n",

  'src/main/m.ts': [
    "import { c } from '../control/c.ts'; // allowed: main imports anything",
    "import { ok } from '../core/ok.ts'; // allowed",
    "import { y } from '../adapters/tls/y.ts'; // allowed",
    "import { n } from './n.ts'; // allowed: within main",
    'export const m = [c, ok, y, n];',
  ].join('\n'),
  'src/main/n.ts': 'export const n = 1;\n',
};

const EXPECTED = [
  'adapter-imports-core-and-own-folder: src/adapters/docker/x.ts -> src/adapters/tls/y.ts',
  'control-imports-only-core: src/control/c.ts -> src/adapters/tls/y.ts',
  'core-does-no-io: src/core/bad.ts -> http',
  'core-does-no-io: src/core/bad.ts -> node:sqlite',
  'core-does-no-io: src/core/bad.ts -> fs',
  'core-imports-only-core: src/core/bad.ts -> src/adapters/docker/x.ts',
  'core-no-http-client: src/core/bad.ts -> node_modules/undici/index.js',
  'edge-imports-lower-layers-and-own-folder: src/edges/router/r.ts -> src/edges/api/s.ts',
  // An edge importing main breaks two rules: main is neither a lower layer nor importable.
  'edge-imports-lower-layers-and-own-folder: src/edges/api/s.ts -> src/main/m.ts',
  // A cycle is reported once, at its first module.
  'no-circular: src/core/cycle-a.ts -> src/core/cycle-b.ts',
  'no-unresolvable: src/edges/router/r.ts -> ./missing.ts',
  'nothing-imports-main: src/edges/api/s.ts -> src/main/m.ts',
  'src-no-dev-dependencies: src/adapters/docker/x.ts -> node_modules/dev-tool/index.js',
  'src-only-declared-packages: src/adapters/docker/x.ts -> node_modules/transitive/index.js',
].sort();

describe('layer rules (.dependency-cruiser.cjs)', () => {
  let fixture = '';
  before(async () => {
    fixture = await mkdtemp(join(tmpdir(), 'berth-layers-'));
    for (const [path, content] of Object.entries(FIXTURE)) {
      await mkdir(dirname(join(fixture, path)), { recursive: true });
      await writeFile(join(fixture, path), content);
    }
    // The same compiler options as the repository, so `.ts` specifiers resolve the same way.
    await copyFile(join(root, 'tsconfig.json'), join(fixture, 'tsconfig.json'));
  });
  after(async () => {
    if (fixture !== '') await rm(fixture, { recursive: true, force: true });
  });

  it('reports each kind of violation, and nothing for allowed imports', async () => {
    assert.deepEqual(await violations(fixture), EXPECTED);
  });

  it('fails the command on violations', async () => {
    // The JSON reporter always exits 0; the default one (npm run layers) exits with the error count.
    const { code, stdout } = await cruise(fixture, 'err');
    assert.equal(code, EXPECTED.length, stdout);
    assert.match(stdout, /no-circular/);
  });

  it('passes on the real src', async () => {
    const found = await violations(root);
    assert.deepEqual(found, [], `layer violations in src:\n${found.join('\n')}`);
    const { code, stdout, stderr } = await cruise(root, 'err');
    assert.equal(code, 0, stdout + stderr);
  });
});

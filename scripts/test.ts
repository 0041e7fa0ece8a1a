/**
 * @module
 * `npm test`: typecheck, lint, layering check, then the tests, each as a child process with its
 * output streamed through. Every stage runs even after one fails, so one run shows every
 * problem; the exit status is non-zero if any failed. `--unit` runs only test/unit.
 *
 * The tests run in two stages: test/{unit,integration,e2e}, two files at a time, then
 * test/faults one file at a time, after everything else: a fault test may break what every other
 * test shares (it restarts the Docker engine), so nothing may run beside it.
 *
 * Runs under Node 24 (scripts/node24.mjs), and so do the stages: process.execPath is reused.
 * Each stage gets its own process group, so processes a test leaks (a server it started and
 * never stopped) are found and terminated when the stage ends, and fail it.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tapFailures } from './tap-failures.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (path: string): string => join(root, 'node_modules', path);

interface Stage {
  name: string;
  args: string[];
}

const args = process.argv.slice(2);
const unknown = args.filter((arg) => arg !== '--unit');
if (unknown.length > 0) {
  console.error(`scripts/test.ts: unknown argument(s) ${unknown.map((a) => `'${a}'`).join(', ')}; the only option is --unit (run test/unit only)`);
  process.exit(2);
}
const unitOnly = args.includes('--unit');

const tapDirectory = mkdtempSync(join(tmpdir(), 'berth-test-'));
/** Each test stage's TAP copy, for the closing count over all of them. */
const tapCopies: string[] = [];

/** A stage running the test files `glob` matches (node expands it, braces included; no shell is involved). */
function testStage(glob: string, concurrency: number): Stage {
  const tapCopy = join(tapDirectory, `results-${tapCopies.length}.tap`);
  tapCopies.push(tapCopy);
  return {
    name: `tests (${glob})`,
    args: [
      '--disable-warning=ExperimentalWarning',
      '--test',
      `--test-concurrency=${concurrency}`,
      // A backstop so CI cannot hang on one test; tests that legitimately take long set their own.
      '--test-timeout=600000',
      // A test file whose tests are done exits even if a handle it leaked would keep it alive;
      // the leaked process itself is caught by the process-group check below.
      '--test-force-exit',
      // TAP ends with the "# pass N" / "# fail N" summary whether or not stdout is a terminal;
      // a second copy goes to a file, for the closing count below.
      '--test-reporter=tap',
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${tapCopy}`,
      glob,
    ],
  };
}

const stages: Stage[] = [
  { name: 'typecheck', args: [bin('typescript/bin/tsc'), '--noEmit', '-p', '.'] },
  { name: 'lint', args: [bin('eslint/bin/eslint.js'), '.'] },
  { name: 'layers', args: [bin('dependency-cruiser/bin/dependency-cruise.mjs'), '--config', '.dependency-cruiser.cjs', 'src'] },
  // Two files at a time: the machines have two cores, and integration tests share one Docker engine.
  testStage(unitOnly ? 'test/unit/**/*.test.ts' : 'test/{unit,integration,e2e}/**/*.test.ts', 2),
  // One at a time, and only once the stage above has ended: each breaks something all tests share.
  ...(unitOnly ? [] : [testStage('test/faults/**/*.test.ts', 1)]),
];

/** The process group of the stage running now, for signal forwarding. */
let currentGroup: number | undefined;
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    interrupted = true;
    // The stage is in its own group, so a terminal's Ctrl-C does not reach it by itself.
    if (currentGroup !== undefined) signalGroup(currentGroup, signal);
  });
}

/** Sends a signal to a process group; false when the group has no process left. */
function signalGroup(group: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-group, signal);
    return true;
  } catch {
    return false;
  }
}

/** Terminates what a stage left running in its group; true if anything was left. */
async function reapGroup(group: number): Promise<boolean> {
  if (!signalGroup(group, 0)) return false;
  signalGroup(group, 'SIGTERM');
  for (let waited = 0; waited < 5000 && signalGroup(group, 0); waited += 100) await sleep(100);
  signalGroup(group, 'SIGKILL');
  return true;
}

async function run(stage: Stage): Promise<number> {
  // No stdin: a background process group reading the terminal would be stopped (SIGTTIN).
  const child = spawn(process.execPath, stage.args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], detached: true });
  currentGroup = child.pid;
  const code = await new Promise<number>((resolve) => {
    child.on('error', (error) => {
      console.error(`scripts/test.ts: could not start ${stage.name}: ${error.message}`);
      resolve(1);
    });
    // `code` is null when a signal killed the stage: that is a failure too.
    child.on('close', (exitCode) => resolve(exitCode ?? 1));
  });
  if (child.pid === undefined) return code;
  currentGroup = undefined;
  if (await reapGroup(child.pid)) {
    console.error(`scripts/test.ts: ${stage.name} left processes running (a test started a process and did not stop it); terminated them`);
    return code === 0 ? 1 : code;
  }
  return code;
}

const results: Array<{ name: string; code: number; seconds: string }> = [];
for (const stage of stages) {
  if (interrupted) break;
  console.log(`\n=== ${stage.name} ${'='.repeat(Math.max(3, 72 - stage.name.length))}`);
  const started = performance.now();
  const code = await run(stage);
  results.push({ name: stage.name, code, seconds: ((performance.now() - started) / 1000).toFixed(1) });
}

console.log(`\n=== summary ${'='.repeat(64)}`);
for (const { name, code, seconds } of results) {
  console.log(`${code === 0 ? 'ok  ' : 'FAIL'}  ${name}  (${seconds} s${code === 0 ? '' : `, exit ${code}`})`);
}
if (interrupted) console.log('interrupted: remaining stages skipped');
// The closing line: the test runner's own count, read from each test stage's TAP summary and added up.
const taps = tapCopies.filter((path) => existsSync(path)).map((path) => readFileSync(path, 'utf8'));
if (taps.length > 0) {
  const count = (name: string): number =>
    taps.reduce((sum, tap) => sum + Number([...tap.matchAll(new RegExp(`^# ${name} (\\d+)$`, 'gm'))].at(-1)?.[1] ?? 0), 0);
  console.log(`tests: ${count('pass')} passed, ${count('fail') + count('cancelled')} failed, ${count('skipped')} skipped`);
  // Named last, so a log's tail says which tests failed and why without scrolling back to them.
  for (const failure of taps.flatMap(tapFailures)) {
    console.log(`failed: ${failure.name}${failure.location ? ` (${failure.location.replace(`${root}/`, '')})` : ''}`);
    if (failure.error) console.log(`        ${failure.error}`);
  }
}
process.exitCode = interrupted || results.some((r) => r.code !== 0) ? 1 : 0;

// Runs its arguments under Node 24: `node scripts/node24.mjs file.ts args...`. npm scripts go
// through it so that they work whether the machine's `node` is 24 or an older one. Plain JS.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { node24 } from './node-version.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const node = node24(root);
if (!existsSync(node)) {
  console.error('berth: Node.js 24 is needed; run `npm install` (it fetches Node 24 when the machine has an older one)');
  process.exit(1);
}
const child = spawn(node, ['--disable-warning=ExperimentalWarning', ...process.argv.slice(2)], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => {
  if (signal) process.kill(process.pid, signal);
  else process.exit(code ?? 1);
});

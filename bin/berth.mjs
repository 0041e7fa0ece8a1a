#!/usr/bin/env node
// The `berth` executable. Plain JS so it starts on any Node; it runs the TypeScript CLI under
// Node 24 (in this process when it is new enough, else in a child on the project-local Node).
import { spawn } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { node24, satisfies } from '../scripts/node-version.mjs';

const root = join(dirname(realpathSync(fileURLToPath(import.meta.url))), '..');
const entry = join(root, 'src', 'main', 'cli.ts');

if (satisfies(process.versions.node)) {
  const { run } = await import(pathToFileURL(entry).href);
  run(process.argv.slice(2));
} else {
  const node = node24(root);
  if (!existsSync(node)) {
    console.error('berth: Node.js 24 is needed; run `npm install` in the Berth checkout (it fetches Node 24)');
    process.exit(1);
  }
  const child = spawn(node, ['--disable-warning=ExperimentalWarning', entry, ...process.argv.slice(2)], { stdio: 'inherit' });
  // Forward Ctrl-C and termination to the real process; it shuts down cleanly on its own.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
}

// Runs after `npm install` under whatever Node the machine has. Berth needs Node.js 24
// (node:sqlite, type stripping). Where the running Node is already 24 or newer nothing
// happens; otherwise the official Node 24 binary is installed from the npm registry into
// .node/, where scripts/node24.mjs and bin/berth.mjs find it. Plain JS: it must run on old Node.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_VERSION, localNodePath, satisfies } from './node-version.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

if (satisfies(process.versions.node)) process.exit(0);
if (existsSync(localNodePath(root))) process.exit(0);

const pkg = `node-${process.platform}-${process.arch}@${NODE_VERSION}`;
console.error(`berth: Node ${process.versions.node} is older than 24; installing ${pkg} into .node/`);
const npm = process.env.npm_execpath
  ? [process.execPath, [process.env.npm_execpath]]
  : ['npm', []];
const result = spawnSync(npm[0], [...npm[1], 'install', '--no-save', '--no-package-lock', '--ignore-scripts',
  '--prefix', join(root, '.node'), pkg], { stdio: 'inherit' });
if (result.status !== 0 || !existsSync(localNodePath(root))) {
  console.error(`berth: could not install ${pkg}; install Node.js 24 yourself and run npm install again`);
  process.exit(1);
}

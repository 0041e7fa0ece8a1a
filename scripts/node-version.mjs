// The Node.js version Berth runs on, and where a project-local copy lives. Plain JS.
import { join } from 'node:path';

export const NODE_VERSION = '24.21.0';
export const MIN_MAJOR = 24;

export function satisfies(version) {
  return Number(version.split('.')[0]) >= MIN_MAJOR;
}

export function localNodePath(root) {
  return join(root, '.node', 'node_modules', `node-${process.platform}-${process.arch}`, 'bin', 'node');
}

/** The Node binary to run Berth with: this one if new enough, else the project-local one. */
export function node24(root) {
  return satisfies(process.versions.node) ? process.execPath : localNodePath(root);
}

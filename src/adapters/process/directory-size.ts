/**
 * @module
 * The bytes of the files under a directory, as Docker counts a container's writable layer
 * (`SizeRw`): the apparent size of every file and symbolic link, each hard-linked file once,
 * directories themselves not counted, symbolic links never followed. The walk tolerates a tree
 * that changes under it (an app writing and deleting files as it is measured): what vanished
 * counts as nothing, and a subdirectory it may not read counts as empty.
 */
import type { Dirent } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface DirectorySizeOptions {
  /** Names directly under the directory to leave out (the runtime's own files among the app's). */
  exclude?: (name: string) => boolean;
}

/** Total bytes under `path`; 0 when it does not exist. */
export async function directorySize(path: string, options: DirectorySizeOptions = {}): Promise<number> {
  const skip = options.exclude ?? (() => false);
  const seen = new Set<string>();
  let total = 0;
  const walk = async (directory: string, top: boolean): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(directory, { withFileTypes: true });
    } catch (error) {
      if (isGoneOrForbidden(error)) return;
      throw error;
    }
    for (const entry of entries) {
      if (top && skip(entry.name)) continue;
      const child = join(directory, entry.name);
      if (entry.isDirectory()) {
        await walk(child, false);
        continue;
      }
      try {
        const stats = await lstat(child);
        if (stats.nlink > 1) {
          const inode = `${stats.dev}:${stats.ino}`;
          if (seen.has(inode)) continue;
          seen.add(inode);
        }
        total += stats.size;
      } catch (error) {
        if (!isGoneOrForbidden(error)) throw error;
      }
    }
  };
  await walk(path, true);
  return total;
}

function isGoneOrForbidden(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES' || code === 'EPERM';
}

/**
 * @module
 * The build context a source directory becomes: a tar of its files for `POST /build`, minus
 * `.git` and what its `.dockerignore` excludes, plus any files Berth adds (its own Dockerfile).
 *
 * - Symbolic links go in as links and are never followed, so a link cannot pull a file from
 *   outside the directory into the context. Sockets, FIFOs and devices are left out.
 * - The directory is walked first (names and sizes only) so that a context over the size limit
 *   fails before any byte is sent; then the tar is produced file by file as the engine reads it,
 *   so memory holds one file at a time, not the whole context.
 * - Every entry gets the same modification time and root ownership: the same files give the same
 *   bytes, so the classic builder's cache for `COPY` hits across fetches of the same commit. The
 *   time is 2000-01-01, not 0: zip (Python wheels, Java jars) refuses times before 1980.
 *
 * `.dockerignore` follows Docker's rules (https://docs.docker.com/build/concepts/context/#dockerignore-files):
 * one pattern per line, `#` comments, paths from the context root, `*` and `?` within a path
 * segment, `**` across any number of segments, `!` re-includes, the last matching line wins, and
 * a pattern that matches a directory excludes everything in it.
 */
import { lstat, open, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildError } from '../../core/builder.ts';
import { createTarArchive, type TarEntry } from '../../core/tar-archive.ts';

export const DEFAULT_MAX_CONTEXT_BYTES = 500 * 1024 * 1024;
/** 2000-01-01T00:00:00Z, in seconds. */
const CONTEXT_MTIME = 946_684_800;
const END_OF_ARCHIVE_BYTES = 1024;

export interface BuildContextOptions {
  /** File bytes above which the context is refused. */
  readonly maxBytes?: number;
  /** Files Berth puts at the root; a source file of the same name is left out. */
  readonly addedFiles?: readonly { readonly path: string; readonly content: string }[];
  /**
   * Root files sent even when `.dockerignore` excludes them: the engine must read the
   * Dockerfile, and it drops both files from the context itself when `.dockerignore` lists them.
   */
  readonly alwaysSend?: readonly string[];
  readonly signal?: AbortSignal;
}

export interface BuildContext {
  /** Entries in the archive (files, directories, links). */
  readonly entries: number;
  /** Bytes of file content in the archive. */
  readonly bytes: number;
  /** The archive, produced as it is read; read it once. */
  readonly tar: AsyncIterable<Uint8Array>;
}

type PlannedEntry =
  | { readonly type: 'file'; readonly path: string; readonly mode: number; readonly source: string | { readonly content: string } }
  | { readonly type: 'directory'; readonly path: string; readonly mode: number }
  | { readonly type: 'symlink'; readonly path: string; readonly target: string };

/** Walks `directory` and returns its context; throws BuildError for a context that cannot be sent. */
export async function prepareBuildContext(directory: string, options: BuildContextOptions = {}): Promise<BuildContext> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_CONTEXT_BYTES;
  const added = new Map((options.addedFiles ?? []).map((file) => [file.path, file.content]));
  const alwaysSend = new Set(options.alwaysSend ?? []);
  const rootInfo = await lstat(directory).catch(() => undefined);
  if (rootInfo === undefined || !rootInfo.isDirectory()) {
    throw new BuildError(`The source directory ${directory} does not exist or is not a directory`);
  }
  const ignore = DockerIgnore.parse(await readIgnoreFile(directory));
  const entries: PlannedEntry[] = [];
  let bytes = 0;

  const visit = async (relative: string): Promise<void> => {
    options.signal?.throwIfAborted();
    const absolute = relative === '' ? directory : join(directory, relative);
    const names = (await readdir(absolute)).sort(byCodeUnits);
    for (const name of names) {
      const path = relative === '' ? name : `${relative}/${name}`;
      if (name === '.git') continue;
      if (relative === '' && added.has(name)) continue;
      const info = await lstat(join(absolute, name));
      const excluded = ignore.excludes(path) && !(relative === '' && alwaysSend.has(name));
      if (info.isDirectory()) {
        // An excluded directory is still walked when a `!` line might bring back something in it.
        if (excluded && !ignore.hasExceptions) continue;
        if (!excluded) entries.push(checked({ type: 'directory', path, mode: info.mode & 0o7777 }));
        await visit(path);
      } else if (excluded) {
        continue;
      } else if (info.isFile()) {
        bytes += info.size;
        if (bytes > maxBytes) {
          throw new BuildError(
            `The build context is larger than the limit of ${mebibytes(maxBytes)}: the source directory has more than that in files Berth would send to the builder (reached at ${path}). Add a .dockerignore at the root of the source directory listing what the build does not need (node_modules, build output, data files)`,
          );
        }
        entries.push(checked({ type: 'file', path, mode: info.mode & 0o7777, source: join(absolute, name) }));
      } else if (info.isSymbolicLink()) {
        entries.push(checked({ type: 'symlink', path, target: await readlink(join(absolute, name)) }));
      }
      // Sockets, FIFOs and devices have no place in an image's source.
    }
  };
  await visit('');
  for (const [path, content] of added) {
    bytes += Buffer.byteLength(content);
    entries.push(checked({ type: 'file', path, mode: 0o644, source: { content } }));
  }
  return { entries: entries.length, bytes, tar: archive(entries, options.signal) };
}

/** Throws a BuildError now for an entry that ustar cannot hold, rather than half-way through sending. */
function checked(entry: PlannedEntry): PlannedEntry {
  try {
    createTarArchive([tarEntry(entry, '')]);
  } catch (error) {
    throw new BuildError(`Cannot send ${entry.path} to the builder: ${error instanceof Error ? error.message : String(error)}`);
  }
  return entry;
}

async function* archive(entries: readonly PlannedEntry[], signal: AbortSignal | undefined): AsyncGenerator<Uint8Array> {
  for (const entry of entries) {
    signal?.throwIfAborted();
    let content: Uint8Array | string = '';
    if (entry.type === 'file') {
      try {
        content = typeof entry.source === 'string' ? await readFile(entry.source) : entry.source.content;
      } catch (error) {
        throw new BuildError(`Cannot read ${entry.path} from the source directory: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    // One entry's archive without the end-of-archive blocks is exactly that entry's records.
    const single = createTarArchive([tarEntry(entry, content)]);
    yield single.subarray(0, single.length - END_OF_ARCHIVE_BYTES);
  }
  yield Buffer.alloc(END_OF_ARCHIVE_BYTES);
}

function tarEntry(entry: PlannedEntry, content: Uint8Array | string): TarEntry {
  switch (entry.type) {
    case 'file':
      return { type: 'file', path: entry.path, content, mode: entry.mode, mtime: CONTEXT_MTIME };
    case 'directory':
      return { type: 'directory', path: entry.path, mode: entry.mode, mtime: CONTEXT_MTIME };
    case 'symlink':
      return { type: 'symlink', path: entry.path, target: entry.target, mtime: CONTEXT_MTIME };
  }
}

/** The root `.dockerignore`, when it is a regular file; at most 1 MiB of it. */
async function readIgnoreFile(directory: string): Promise<string> {
  const path = join(directory, '.dockerignore');
  const info = await lstat(path).catch(() => undefined);
  if (info === undefined || !info.isFile()) return '';
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(Math.min(info.size, 1024 * 1024));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function mebibytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${bytes} bytes`;
  return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MiB`;
}

interface IgnoreRule {
  readonly pattern: RegExp;
  readonly exception: boolean;
}

/** A parsed `.dockerignore`. */
export class DockerIgnore {
  readonly #rules: readonly IgnoreRule[];
  /** Whether any line starts with `!`, so an excluded directory may still hold included files. */
  readonly hasExceptions: boolean;

  private constructor(rules: readonly IgnoreRule[]) {
    this.#rules = rules;
    this.hasExceptions = rules.some((rule) => rule.exception);
  }

  static parse(text: string): DockerIgnore {
    const rules: IgnoreRule[] = [];
    for (const raw of text.split(/\r?\n/)) {
      if (raw.startsWith('#')) continue;
      let line = raw.trim();
      const exception = line.startsWith('!');
      if (exception) line = line.slice(1).trim();
      const path = cleanPattern(line);
      if (path === '') continue;
      rules.push({ pattern: patternRegExp(path), exception });
    }
    return new DockerIgnore(rules);
  }

  /** Whether `path` (relative, `/`-separated) is excluded: by a match on it or on a directory above it. */
  excludes(path: string): boolean {
    const segments = path.split('/');
    let excluded = false;
    for (const rule of this.#rules) {
      let matched = rule.pattern.test(path);
      for (let depth = 1; !matched && depth < segments.length; depth += 1) {
        matched = rule.pattern.test(segments.slice(0, depth).join('/'));
      }
      if (matched) excluded = !rule.exception;
    }
    return excluded;
  }
}

/** As Go's `filepath.Clean`, then relative to the root: `/dir/` and `./dir` both mean `dir`. */
function cleanPattern(pattern: string): string {
  const segments: string[] = [];
  for (const segment of pattern.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  return segments.join('/');
}

/** Docker's translation of a pattern to a regular expression, anchored at both ends. */
function patternRegExp(pattern: string): RegExp {
  let source = '';
  for (let index = 0; index < pattern.length; index += 1) {
    const char = pattern.charAt(index);
    if (char === '*') {
      if (pattern.charAt(index + 1) === '*') {
        index += 1;
        // `**/` is read as `**`: any number of segments, including none.
        if (pattern.charAt(index + 1) === '/') index += 1;
        source += index + 1 >= pattern.length ? '.*' : '(.*/)?';
      } else {
        source += '[^/]*';
      }
    } else if (char === '?') {
      source += '[^/]';
    } else if (char === '\\' && index + 1 < pattern.length) {
      index += 1;
      source += escapeRegExp(pattern.charAt(index));
    } else if (char === '[') {
      const end = pattern.indexOf(']', index + 2);
      if (end === -1) {
        source += '\\[';
      } else {
        const body = pattern.slice(index + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\');
        source += `[${body}]`;
        index = end;
      }
    } else {
      source += escapeRegExp(char);
    }
  }
  return new RegExp(`^${source}$`, 's');
}

function escapeRegExp(char: string): string {
  return /[.+^${}()|[\]\\/]/.test(char) ? `\\${char}` : char;
}

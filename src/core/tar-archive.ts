/**
 * @module
 * A minimal writer of POSIX ustar archives, in memory, for Docker build contexts (the engine's
 * `POST /build` takes the context as a tar stream). Regular files, directories and symbolic
 * links; paths up to 255 bytes through the ustar `prefix` field. Pure: no file system access.
 * Format: POSIX.1-1988 ustar, as in https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html#tag_20_92_13_06
 */

export type TarEntry =
  | { type: 'file'; path: string; content: Uint8Array | string; mode?: number; mtime?: number }
  | { type: 'directory'; path: string; mode?: number; mtime?: number }
  | { type: 'symlink'; path: string; target: string; mtime?: number };

const BLOCK = 512;
const NAME_BYTES = 100;
const PREFIX_BYTES = 155;
/** 11 octal digits: the largest size and mtime a ustar header holds. */
const MAX_OCTAL_11 = 0o77777777777;
const TYPE_FLAG = { file: '0', symlink: '2', directory: '5' } as const;
const DEFAULT_MODE = { file: 0o644, symlink: 0o777, directory: 0o755 } as const;

/**
 * The archive holding `entries` in the order given. Modification times default to 0 so the same
 * entries always give the same bytes (and hit the same build cache). Throws on a path or value
 * that ustar cannot hold.
 */
export function createTarArchive(entries: Iterable<TarEntry>): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const content = entry.type === 'file' ? toBytes(entry.content) : Buffer.alloc(0);
    parts.push(header(entry, content.length));
    if (content.length > 0) {
      parts.push(content);
      const padding = (BLOCK - (content.length % BLOCK)) % BLOCK;
      if (padding > 0) parts.push(Buffer.alloc(padding));
    }
  }
  // The end of an archive is two zero-filled blocks.
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}

function header(entry: TarEntry, size: number): Buffer {
  const path = normalizePath(entry.path);
  const { name, prefix } = splitPath(entry.type === 'directory' ? `${path}/` : path);
  const mode = entry.type === 'symlink' ? DEFAULT_MODE.symlink : (entry.mode ?? DEFAULT_MODE[entry.type]);
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
    throw new Error(`Tar entry ${JSON.stringify(entry.path)} has mode ${String(mode)}: expected an integer from 0 to 0o7777`);
  }
  const mtime = entry.mtime ?? 0;
  if (!Number.isInteger(mtime) || mtime < 0 || mtime > MAX_OCTAL_11) {
    throw new Error(`Tar entry ${JSON.stringify(entry.path)} has mtime ${mtime}: expected whole seconds from 0 to ${MAX_OCTAL_11}`);
  }
  if (size > MAX_OCTAL_11) throw new Error(`Tar entry ${JSON.stringify(entry.path)} is ${size} bytes: ustar holds at most ${MAX_OCTAL_11}`);
  const linkName = entry.type === 'symlink' ? entry.target : '';
  if (Buffer.byteLength(linkName) > NAME_BYTES || linkName.includes('\0')) {
    throw new Error(`Symbolic link target ${JSON.stringify(linkName)} is not valid in ustar: at most ${NAME_BYTES} bytes, no NUL`);
  }

  const block = Buffer.alloc(BLOCK);
  block.write(name, 0, NAME_BYTES);
  writeOctal(block, 100, 8, mode);
  writeOctal(block, 108, 8, 0); // uid
  writeOctal(block, 116, 8, 0); // gid
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, mtime);
  block.write(TYPE_FLAG[entry.type], 156, 1);
  block.write(linkName, 157, NAME_BYTES);
  block.write('ustar\0', 257, 6);
  block.write('00', 263, 2);
  writeOctal(block, 329, 8, 0); // devmajor
  writeOctal(block, 337, 8, 0); // devminor
  block.write(prefix, 345, PREFIX_BYTES);
  // The checksum is the byte sum of the header with its own field read as eight spaces.
  block.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return block;
}

/** Relative, `/`-separated, no `.`/`..` or empty segments: what a build context may contain. */
function normalizePath(path: string): string {
  const trimmed = path.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  const segments = trimmed.split('/');
  if (trimmed === '' || path.startsWith('/') || path.includes('\0') || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new Error(`Tar entry path ${JSON.stringify(path)} is not valid: expected a relative path without empty, '.' or '..' segments`);
  }
  return trimmed;
}

/** Fits a path into `name` (100 bytes) and, when longer, `prefix` (155 bytes), split at a `/`. */
function splitPath(path: string): { name: string; prefix: string } {
  if (Buffer.byteLength(path) <= NAME_BYTES) return { name: path, prefix: '' };
  // The split slash belongs to neither field; a directory's trailing slash cannot be the split.
  for (let index = path.indexOf('/'); index !== -1 && index < path.length - 1; index = path.indexOf('/', index + 1)) {
    const prefix = path.slice(0, index);
    const name = path.slice(index + 1);
    if (Buffer.byteLength(prefix) > PREFIX_BYTES) break;
    if (Buffer.byteLength(name) <= NAME_BYTES) return { name, prefix };
  }
  throw new Error(
    `Tar entry path ${JSON.stringify(path)} is too long for ustar: it needs a '/' that leaves at most ${PREFIX_BYTES} bytes before it and ${NAME_BYTES} after`,
  );
}

/** Zero-padded octal digits then a NUL, filling `width` bytes. */
function writeOctal(block: Buffer, offset: number, width: number, value: number): void {
  block.write(`${value.toString(8).padStart(width - 1, '0')}\0`, offset, width, 'ascii');
}

function toBytes(content: Uint8Array | string): Buffer {
  return typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content.buffer, content.byteOffset, content.byteLength);
}

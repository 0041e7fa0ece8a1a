/**
 * The ustar writer, checked against GNU tar: what `tar -tv` lists and what `tar -x` extracts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createTarArchive, type TarEntry } from '../../src/core/tar-archive.ts';

// 60 + 1 + 60 + 1 + 20 bytes: over the 100 bytes of `name`, so it needs the prefix field.
const LONG_DIRECTORY = `${'d'.repeat(60)}/${'e'.repeat(60)}`;
const LONG_FILE = `${LONG_DIRECTORY}/${'f'.repeat(16)}.txt`;
const BIG = Buffer.alloc(1300, 'x');

const ENTRIES: TarEntry[] = [
  { type: 'file', path: 'Dockerfile', content: 'FROM scratch\n' },
  { type: 'directory', path: 'bin' },
  { type: 'file', path: 'bin/tool', content: BIG, mode: 0o755 },
  { type: 'symlink', path: 'bin/alias', target: 'tool' },
  { type: 'file', path: 'empty', content: '' },
  { type: 'directory', path: LONG_DIRECTORY, mode: 0o700 },
  { type: 'file', path: LONG_FILE, content: 'deep\n', mtime: 1_700_000_000 },
  { type: 'file', path: './héllo.txt', content: 'accents\n' },
];

function withArchive(entries: TarEntry[], use: (archivePath: string, directory: string) => void): void {
  const directory = mkdtempSync(join(tmpdir(), 'berth-tar-'));
  try {
    const archivePath = join(directory, 'archive.tar');
    writeFileSync(archivePath, createTarArchive(entries));
    use(archivePath, directory);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

function tar(args: string[]): string {
  const result = spawnSync('tar', args, { encoding: 'utf8', env: { ...process.env, TZ: 'UTC', LC_ALL: 'C.UTF-8' } });
  assert.equal(result.status, 0, `tar ${args.join(' ')} failed: ${result.stderr}`);
  // GNU tar warns on stderr about bad checksums or a missing end of archive while still exiting 0.
  assert.equal(result.stderr, '');
  return result.stdout;
}

test('tar -tv lists every entry with its type, mode, size, owner and time', () => {
  withArchive(ENTRIES, (archivePath) => {
    const listing = tar(['--numeric-owner', '-tvf', archivePath])
      .trim()
      .split('\n')
      .map((line) => line.replace(/\s+/g, ' '));
    assert.deepEqual(listing, [
      '-rw-r--r-- 0/0 13 1970-01-01 00:00 Dockerfile',
      'drwxr-xr-x 0/0 0 1970-01-01 00:00 bin/',
      '-rwxr-xr-x 0/0 1300 1970-01-01 00:00 bin/tool',
      'lrwxrwxrwx 0/0 0 1970-01-01 00:00 bin/alias -> tool',
      '-rw-r--r-- 0/0 0 1970-01-01 00:00 empty',
      `drwx------ 0/0 0 1970-01-01 00:00 ${LONG_DIRECTORY}/`,
      `-rw-r--r-- 0/0 5 2023-11-14 22:13 ${LONG_FILE}`,
      '-rw-r--r-- 0/0 8 1970-01-01 00:00 héllo.txt',
    ]);
  });
});

test('tar -x restores contents, modes and links', () => {
  withArchive(ENTRIES, (archivePath, directory) => {
    const out = join(directory, 'out');
    tar(['--one-top-level=' + out, '-xf', archivePath]);
    assert.equal(readFileSync(join(out, 'Dockerfile'), 'utf8'), 'FROM scratch\n');
    assert.deepEqual(readFileSync(join(out, 'bin/tool')), BIG);
    assert.equal(statSync(join(out, 'bin/tool')).mode & 0o777, 0o755);
    assert.equal(readlinkSync(join(out, 'bin/alias')), 'tool');
    assert.equal(readFileSync(join(out, 'empty'), 'utf8'), '');
    assert.equal(readFileSync(join(out, LONG_FILE), 'utf8'), 'deep\n');
    assert.equal(readFileSync(join(out, 'héllo.txt'), 'utf8'), 'accents\n');
  });
});

test('the archive is whole blocks ending in two zero blocks, and the same entries give the same bytes', () => {
  const archive = createTarArchive(ENTRIES);
  assert.equal(archive.length % 512, 0);
  assert.ok(archive.subarray(-1024).every((byte) => byte === 0));
  assert.deepEqual(createTarArchive(ENTRIES), archive);
  assert.deepEqual(createTarArchive([]), Buffer.alloc(1024));
});

test('paths that a build context must not hold are refused, naming the path', () => {
  for (const path of ['', '/etc/passwd', '../outside', 'a/../b', 'a//b', 'a/./b', 'nul\0byte']) {
    assert.throws(() => createTarArchive([{ type: 'file', path, content: '' }]), { message: /is not valid/ }, JSON.stringify(path));
  }
});

test('values ustar cannot hold are refused', () => {
  const noSlash = 'x'.repeat(101);
  assert.throws(() => createTarArchive([{ type: 'file', path: noSlash, content: '' }]), { message: /too long for ustar/ });
  const longTail = `dir/${'x'.repeat(101)}`;
  assert.throws(() => createTarArchive([{ type: 'file', path: longTail, content: '' }]), { message: /too long for ustar/ });
  assert.throws(() => createTarArchive([{ type: 'file', path: 'f', content: '', mode: 0o10000 }]), { message: /mode/ });
  assert.throws(() => createTarArchive([{ type: 'symlink', path: 'l', target: 't'.repeat(101) }]), { message: /link target/ });
});

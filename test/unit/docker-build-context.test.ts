/**
 * The build context a source directory becomes: `.dockerignore` rules as Docker reads them,
 * symbolic links kept as links, `.git` left out, Berth's own files added, and the size limit.
 * The tar is read back with the system's `tar`, a reader that is not ours.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { DockerIgnore, prepareBuildContext } from '../../src/adapters/docker/build-context.ts';
import { BuildError } from '../../src/core/builder.ts';

test('.dockerignore: exact names, directories, root-only *.ext, ** globs, ! exceptions, last match wins', () => {
  const ignore = DockerIgnore.parse([
    '# a comment',
    'secret.txt',
    'node_modules/',
    '/dist',
    '*.log',
    '**/*.tmp',
    '!keep.log',
    'docs/**/draft-?.md',
    '  ',
    'cache/[a-c]*',
  ].join('\n'));
  const excluded = (path: string): boolean => ignore.excludes(path);
  assert.equal(excluded('secret.txt'), true);
  assert.equal(excluded('sub/secret.txt'), false, 'a plain name matches at the root only');
  assert.equal(excluded('node_modules'), true);
  assert.equal(excluded('node_modules/pkg/index.js'), true, 'a matched directory excludes what is in it');
  assert.equal(excluded('dist/app.js'), true);
  assert.equal(excluded('error.log'), true);
  assert.equal(excluded('logs/error.log'), false, '*.log does not cross a /');
  assert.equal(excluded('keep.log'), false, 'a later ! line re-includes');
  assert.equal(excluded('a.tmp'), true, '**/ matches zero directories');
  assert.equal(excluded('x/y/z.tmp'), true);
  assert.equal(excluded('docs/draft-1.md'), true);
  assert.equal(excluded('docs/2024/06/draft-2.md'), true);
  assert.equal(excluded('docs/draft-10.md'), false, '? is one character');
  assert.equal(excluded('cache/apple'), true);
  assert.equal(excluded('cache/zebra'), false);
  assert.equal(excluded('src/index.js'), false);
  assert.equal(ignore.hasExceptions, true);
  assert.equal(DockerIgnore.parse('').excludes('anything'), false);
  assert.equal(DockerIgnore.parse('**').excludes('a/b/c'), true);
  assert.equal(DockerIgnore.parse('a.b').excludes('axb'), false, 'a dot is a dot, not any character');
});

function sourceDirectory(t: TestContext): string {
  const directory = mkdtempSync(join(tmpdir(), 'berth-context-'));
  t.after(() => rmSync(directory, { recursive: true, force: true }));
  return directory;
}

async function collect(tar: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of tar) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** `tar -tv` of the archive: one line per entry, as GNU tar lists it. */
function listing(archive: Buffer): string[] {
  return execFileSync('tar', ['-tvf', '-', '--numeric-owner'], { input: archive, env: { ...process.env, TZ: 'UTC' } }).toString().trim().split('\n');
}

function names(archive: Buffer): string[] {
  return execFileSync('tar', ['-tf', '-'], { input: archive }).toString().trim().split('\n').sort();
}

test('the context holds files with their modes, directories and links as links, without .git or ignored paths', async (t) => {
  const root = sourceDirectory(t);
  const outside = sourceDirectory(t);
  writeFileSync(join(outside, 'private.txt'), 'not for the image');
  mkdirSync(join(root, '.git/objects'), { recursive: true });
  writeFileSync(join(root, '.git/HEAD'), 'ref: refs/heads/main\n');
  mkdirSync(join(root, 'bin'));
  writeFileSync(join(root, 'bin/run'), '#!/bin/sh\n', { mode: 0o755 });
  writeFileSync(join(root, 'app.js'), 'console.log(1)\n');
  mkdirSync(join(root, 'node_modules/pkg'), { recursive: true });
  writeFileSync(join(root, 'node_modules/pkg/index.js'), '');
  writeFileSync(join(root, 'debug.log'), 'x');
  writeFileSync(join(root, '.dockerignore'), 'node_modules\n*.log\n');
  symlinkSync('app.js', join(root, 'main.js'));
  symlinkSync(outside, join(root, 'outside'));
  symlinkSync(join(outside, 'private.txt'), join(root, 'private.txt'));

  const context = await prepareBuildContext(root);
  const archive = await collect(context.tar);
  assert.deepEqual(names(archive), ['.dockerignore', 'app.js', 'bin/', 'bin/run', 'main.js', 'outside', 'private.txt']);
  const lines = listing(archive);
  assert.match(lines.find((line) => line.endsWith(' bin/run')) ?? '', /^-rwxr-xr-x 0\/0 .* 2000-01-01 00:00 bin\/run$/);
  assert.match(lines.find((line) => line.includes(' main.js')) ?? '', /^l.* main\.js -> app\.js$/);
  assert.match(lines.find((line) => line.includes(' outside')) ?? '', new RegExp(`^l.* outside -> ${outside}$`));
  assert.equal(archive.includes('not for the image'), false, 'a link out of the directory is not followed');
  assert.equal(context.entries, 7);
});

test('the same files give the same bytes, whatever their modification times', async (t) => {
  const root = sourceDirectory(t);
  writeFileSync(join(root, 'a.txt'), 'a');
  const first = await collect((await prepareBuildContext(root)).tar);
  writeFileSync(join(root, 'a.txt'), 'a');
  const second = await collect((await prepareBuildContext(root)).tar);
  assert.deepEqual(first, second);
});

test('added files replace source files of the same name; alwaysSend overrides .dockerignore', async (t) => {
  const root = sourceDirectory(t);
  writeFileSync(join(root, 'Dockerfile'), 'FROM scratch\n');
  writeFileSync(join(root, '.dockerignore'), 'Dockerfile\n.dockerignore\nsecret\n');
  writeFileSync(join(root, 'secret'), 's');
  writeFileSync(join(root, '.berth-build.Dockerfile'), 'the source has one too');

  const sent = await collect((await prepareBuildContext(root, { alwaysSend: ['Dockerfile', '.dockerignore'] })).tar);
  assert.deepEqual(names(sent), ['.berth-build.Dockerfile', '.dockerignore', 'Dockerfile']);

  const generated = await collect((await prepareBuildContext(root, {
    addedFiles: [{ path: '.berth-build.Dockerfile', content: 'FROM base\n' }, { path: '.dockerignore', content: '.dockerignore\n' }],
  })).tar);
  assert.deepEqual(names(generated), ['.berth-build.Dockerfile', '.dockerignore']);
  assert.equal(execFileSync('tar', ['-xOf', '-', '.berth-build.Dockerfile'], { input: generated }).toString(), 'FROM base\n');
});

test('an excluded directory is still walked when a ! line may bring a file back', async (t) => {
  const root = sourceDirectory(t);
  mkdirSync(join(root, 'data/keep'), { recursive: true });
  writeFileSync(join(root, 'data/big.bin'), 'x');
  writeFileSync(join(root, 'data/keep/small.txt'), 'y');
  writeFileSync(join(root, '.dockerignore'), 'data\n!data/keep/small.txt\n');
  const archive = await collect((await prepareBuildContext(root)).tar);
  assert.deepEqual(names(archive), ['.dockerignore', 'data/keep/small.txt']);
});

test('a context over the limit fails before anything is sent, naming the limit and the fix', async (t) => {
  const root = sourceDirectory(t);
  writeFileSync(join(root, 'small.txt'), 'x'.repeat(600));
  writeFileSync(join(root, 'zz-large.bin'), 'x'.repeat(600));
  await assert.rejects(prepareBuildContext(root, { maxBytes: 1000 }), (error) => {
    assert.ok(error instanceof BuildError);
    assert.match(error.message, /larger than the limit of 1000 bytes.*reached at zz-large\.bin.*\.dockerignore/);
    return true;
  });
  await assert.rejects(prepareBuildContext(join(root, 'missing')), /does not exist or is not a directory/);
});

test('a link target too long for ustar is refused up front with the path named', async (t) => {
  const root = sourceDirectory(t);
  symlinkSync(`/${'x'.repeat(120)}`, join(root, 'long-link'));
  await assert.rejects(prepareBuildContext(root), (error) => {
    assert.ok(error instanceof BuildError);
    assert.match(error.message, /^Cannot send long-link to the builder: Symbolic link target/);
    return true;
  });
});

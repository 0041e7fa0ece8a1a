/**
 * The classic builder's progress stream as log lines, and failures as BuildErrors naming the
 * step and the command. The message shapes are the engine's own, as seen from Engine 20.10.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BuildTranscript, runCommand } from '../../src/adapters/docker/build-transcript.ts';
import { DockerEngineError } from '../../src/adapters/docker/engine-error.ts';
import { BuildError } from '../../src/core/builder.ts';

test('stream chunks become whole lines: a step without its newline, several lines in one chunk, a line cut in two', () => {
  const lines: string[] = [];
  const transcript = new BuildTranscript((line) => lines.push(line));
  for (const stream of ['Step 1/2 : FROM base', '\n', ' ---> 2b7fab943ae1\n', 'Step 2/2 : RUN ["/bin/sh","-c","npm ci"]', '\n', 'one\ntw', 'o\r\n', 'progress 10%\rprogress 100%\n', '\u001b[91mred stderr\n\u001b[0m', 'no newline']) {
    transcript.onProgress({ stream });
  }
  assert.deepEqual(lines, ['Step 1/2 : FROM base', ' ---> 2b7fab943ae1', 'Step 2/2 : RUN ["/bin/sh","-c","npm ci"]', 'one', 'two', 'progress 100%', 'red stderr']);
  transcript.flush();
  assert.equal(lines.at(-1), 'no newline');
  assert.deepEqual(transcript.step, { number: 2, total: 2, instruction: 'RUN ["/bin/sh","-c","npm ci"]' });
});

test('pull status lines: one line per change of state of a layer, not per progress tick', () => {
  const lines: string[] = [];
  const transcript = new BuildTranscript((line) => lines.push(line));
  transcript.onProgress({ status: 'Pulling from library/node', id: '22' });
  transcript.onProgress({ status: 'Downloading', id: 'a1', progress: '[=>   ] 1MB/9MB' });
  transcript.onProgress({ status: 'Downloading', id: 'a1', progress: '[===> ] 5MB/9MB' });
  transcript.onProgress({ status: 'Pull complete', id: 'a1' });
  transcript.onProgress({ status: 'Digest: sha256:abc' });
  assert.deepEqual(lines, ['22: Pulling from library/node', 'a1: Downloading', 'a1: Pull complete', 'Digest: sha256:abc']);
});

test('the command of a RUN step, as the user wrote it', () => {
  assert.equal(runCommand('RUN ["/bin/sh","-c","npm ci"]'), 'npm ci');
  assert.equal(runCommand('RUN ["/usr/bin/env","STAGE=test","/bin/sh","-c","npm run build --if-present"]'), 'npm run build --if-present');
  assert.equal(runCommand('RUN npm ci && npm test'), 'npm ci && npm test');
  assert.equal(runCommand('RUN ["make","all"]'), 'make all');
  assert.equal(runCommand('RUN [not json'), '[not json');
  assert.equal(runCommand('COPY . /app'), 'COPY . /app');
});

function failedRun(): BuildTranscript {
  const transcript = new BuildTranscript(() => undefined);
  for (const stream of [
    'Step 4/9 : RUN ["/bin/sh","-c","npm ci"]\n',
    ' ---> Running in 7df9e0330060\n',
    'npm ERR! code ENOTFOUND\n',
    'npm ERR! network request failed\n',
    'Removing intermediate container 7df9e0330060\n',
  ]) transcript.onProgress({ stream });
  return transcript;
}

test('a RUN that exits non-zero: step, command, exit code and the last lines of output', () => {
  const transcript = failedRun();
  const engine = "The command '/bin/sh -c npm ci' returned a non-zero code: 1";
  const error = transcript.failure(new DockerEngineError('DOCKER_ENGINE_STREAM', `Building x failed: ${engine}`, engine));
  assert.ok(error instanceof BuildError);
  assert.equal(error.command, 'npm ci');
  assert.equal(
    error.message,
    "Build failed at step 4/9: the command 'npm ci' exited with code 1; last output: npm ERR! code ENOTFOUND | npm ERR! network request failed",
  );
  assert.deepEqual(error.outputTail.slice(-2), ['npm ERR! network request failed', 'Removing intermediate container 7df9e0330060']);
});

test('a step that fails otherwise names its instruction; engine trouble says so', () => {
  const transcript = new BuildTranscript(() => undefined);
  transcript.onProgress({ stream: 'Step 3/5 : COPY missing.txt /app/\n' });
  const engine = 'COPY failed: file not found in build context or excluded by .dockerignore: stat missing.txt: file does not exist';
  const copy = transcript.failure(new DockerEngineError('DOCKER_ENGINE_STREAM', engine, engine));
  assert.equal(copy.command, 'COPY missing.txt /app/');
  assert.match(copy.message, /^Build failed at step 3\/5 \(COPY missing\.txt \/app\/\): COPY failed: file not found/);

  const unreachable = new DockerEngineError('DOCKER_ENGINE_UNREACHABLE', 'Docker engine not reachable at /x.sock (ENOENT: is dockerd running?)', 'ENOENT');
  assert.equal(new BuildTranscript(() => undefined).failure(unreachable).message, 'Build could not start: Docker engine not reachable at /x.sock (ENOENT: is dockerd running?)');
  assert.equal(new BuildTranscript(() => undefined).failure(new Error('boom'), 'Building base image b:1').message, 'Building base image b:1 failed: boom');
});

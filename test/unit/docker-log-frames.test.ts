import assert from 'node:assert/strict';
import { test } from 'node:test';
import { demultiplexLogs, lastLines } from '../../src/adapters/docker/log-frames.ts';

function frame(stream: number, text: string): Buffer {
  const data = Buffer.from(text);
  const header = Buffer.alloc(8);
  header.writeUInt8(stream, 0);
  header.writeUInt32BE(data.length, 4);
  return Buffer.concat([header, data]);
}

test('frames come apart into their streams, in order', () => {
  const frames = demultiplexLogs(Buffer.concat([frame(1, 'out 1\n'), frame(2, 'err 1\n'), frame(1, ''), frame(1, 'out 2\n')]));
  assert.deepEqual(
    frames.map((f) => [f.stream, f.data.toString()]),
    [
      ['stdout', 'out 1\n'],
      ['stderr', 'err 1\n'],
      ['stdout', ''],
      ['stdout', 'out 2\n'],
    ],
  );
});

test('a truncated last frame keeps the bytes that arrived; a partial header is dropped', () => {
  const whole = Buffer.concat([frame(1, 'complete\n'), frame(2, 'cut short\n')]);
  assert.deepEqual(
    demultiplexLogs(whole.subarray(0, whole.length - 4)).map((f) => f.data.toString()),
    ['complete\n', 'cut sh'],
  );
  assert.deepEqual(demultiplexLogs(frame(1, 'x').subarray(0, 5)), []);
});

test('a stream that is not multiplexed (a TTY container) is refused rather than garbled', () => {
  assert.throws(() => demultiplexLogs(Buffer.from('plain text from a tty\n')), /not multiplexed/);
});

test('lastLines keeps the last lines with their line breaks', () => {
  assert.equal(lastLines('a\nb\nc\n', 2), 'b\nc\n');
  assert.equal(lastLines('a\nb\nc', 2), 'b\nc');
  assert.equal(lastLines('a\n', 5), 'a\n');
  assert.equal(lastLines('', 3), '');
  assert.equal(lastLines('a\nb\n', 0), '');
});

/**
 * @module
 * Splits the engine's multiplexed log stream. Without a TTY, `GET /containers/{id}/logs` sends
 * stdout and stderr interleaved in frames, each led by an 8-byte header: the stream number
 * (0 stdin, 1 stdout, 2 stderr), three zero bytes, then the payload length as a big-endian
 * uint32. Reading the bytes as text without removing the headers puts binary noise in messages.
 * https://docs.docker.com/engine/api/v1.41/#operation/ContainerAttach
 */

export interface LogFrame {
  stream: 'stdin' | 'stdout' | 'stderr';
  data: Buffer;
}

const HEADER_BYTES = 8;
const STREAMS = ['stdin', 'stdout', 'stderr'] as const;

/**
 * The frames of a complete multiplexed buffer, in order. A truncated last frame (the engine
 * stopped mid-frame) keeps the bytes that did arrive.
 */
export function demultiplexLogs(buffer: Buffer): LogFrame[] {
  const frames: LogFrame[] = [];
  let offset = 0;
  while (offset + HEADER_BYTES <= buffer.length) {
    const stream = STREAMS[buffer.readUInt8(offset)];
    if (stream === undefined) {
      throw new Error(`Docker log stream is not multiplexed: byte ${offset} is ${buffer.readUInt8(offset)}, expected a stream number 0-2`);
    }
    const size = buffer.readUInt32BE(offset + 4);
    const start = offset + HEADER_BYTES;
    frames.push({ stream, data: buffer.subarray(start, Math.min(start + size, buffer.length)) });
    offset = start + size;
  }
  return frames;
}

/** The last `count` lines of `text`, each with its line break. */
export function lastLines(text: string, count: number): string {
  if (count <= 0) return '';
  const lines = text.split('\n');
  // A final line break ends the last line rather than starting an empty one.
  if (lines.at(-1) === '') lines.pop();
  const kept = lines.slice(-count).join('\n');
  return text.endsWith('\n') && kept !== '' ? `${kept}\n` : kept;
}

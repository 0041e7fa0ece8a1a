/**
 * @module
 * Reads the progress streams of pull, push and build: one JSON object per line. The engine has
 * already sent `200 OK` when such an operation fails half-way, so failure arrives as a line with
 * `error`/`errorDetail`; treating the status alone as success would report failed pulls as done.
 */
import { DockerEngineError } from './engine-error.ts';
import type { ProgressMessage } from './engine-types.ts';

export type ProgressListener = (message: ProgressMessage) => void;
export type ProgressAux = NonNullable<ProgressMessage['aux']>;

/**
 * Consumes a progress stream to its end. Resolves with the `aux` payloads (built image id, pushed
 * digest); rejects with a `DOCKER_ENGINE_STREAM` error at the first error line.
 */
export async function readProgress(
  chunks: AsyncIterable<Uint8Array>,
  operation: string,
  onProgress?: ProgressListener,
): Promise<ProgressAux[]> {
  const results: ProgressAux[] = [];
  const handle = (line: string): void => {
    const message = parseLine(line, operation);
    if (message === undefined) return;
    onProgress?.(message);
    const failure = message.errorDetail?.message ?? message.error;
    if (failure !== undefined) {
      throw new DockerEngineError('DOCKER_ENGINE_STREAM', `${operation} failed: ${failure}`, failure);
    }
    if (message.aux !== undefined) results.push(message.aux);
  };

  const decoder = new TextDecoder();
  let pending = '';
  for await (const chunk of chunks) {
    pending += decoder.decode(chunk, { stream: true });
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) handle(line);
  }
  handle(pending + decoder.decode());
  return results;
}

function parseLine(line: string, operation: string): ProgressMessage | undefined {
  const text = line.trim();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as ProgressMessage;
  } catch {
    // Either the stream was cut mid-object or the engine spoke something else: both are failures.
    throw new DockerEngineError(
      'DOCKER_ENGINE_STREAM',
      `${operation} failed: the engine sent a progress line that is not JSON: ${text.slice(0, 200)}`,
      text.slice(0, 200),
    );
  }
}

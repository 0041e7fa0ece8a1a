/**
 * A builder for API-level tests: it reads the fetched source directory (so tests see which
 * commit and directory reached it) and "builds" an image name the fake runtime accepts. A source
 * directory holding `FAIL` fails like a real build: a failing command and its last output.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BuildError, type Builder, type BuildRequest, type BuildResult } from '../../src/core/builder.ts';

export class FakeBuilder implements Builder {
  readonly name = 'fake';
  /** How long each build takes. */
  delayMs = 20;
  /** Every request received, in order, with the files of its source directory. */
  readonly requests: { request: BuildRequest; files: string[] }[] = [];
  readonly discarded: string[] = [];

  async build(request: BuildRequest): Promise<BuildResult> {
    const files = readdirSync(request.sourceDirectory).sort();
    this.requests.push({ request, files });
    request.onLog(`fake build of ${files.length} files`);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, this.delayMs);
      request.signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(request.signal?.reason as Error);
      });
    });
    const failure = join(request.sourceDirectory, 'FAIL');
    if (existsSync(failure)) {
      const output = readFileSync(failure, 'utf8').trim().split('\n');
      for (const line of output) request.onLog(line);
      throw new BuildError(`the command 'make build' exited with code 2`, { command: 'make build', outputTail: output });
    }
    return { image: `fake-built/${request.serviceId}:${request.buildId}` };
  }

  async discard(image: string): Promise<void> {
    this.discarded.push(image);
  }
}

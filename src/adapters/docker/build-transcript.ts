/**
 * @module
 * Turns the classic builder's progress stream into lines for a build log, and a failed build into
 * a `BuildError` that says which step and command failed.
 *
 * The stream's `stream` texts are not lines: `Step 4/9 : RUN ...` arrives without its newline,
 * one chunk can hold several lines, and a command's output is cut wherever the pipe was read.
 * Pull progress arrives as `status` messages, one per layer and state, with progress bars that
 * change several times a second; only changes of state become lines.
 */
import { BuildError, LineTail } from '../../core/builder.ts';
import { DockerEngineError } from './engine-error.ts';
import type { ProgressMessage } from './engine-types.ts';

/** `Step 4/9 : RUN ["/bin/sh","-c","npm ci"]`, as the classic builder prints before each step. */
const STEP_LINE = /^Step (\d+)\/(\d+) : (.*)$/;
/** The classic builder's words for a RUN step that exited non-zero. */
const NON_ZERO = /^The command '.*' returned a non-zero code: (\d+)$/s;
/** Terminal control sequences: the classic builder wraps a step's stderr in red (`ESC[91m`), tools add their own colours. */
// eslint-disable-next-line no-control-regex
const ANSI_ESCAPE = /\x1B\[[0-?]*[ -/]*[@-~]/g;
/** How many of the last lines a failure message quotes; `outputTail` keeps more. */
const QUOTED_LINES = 3;
const QUOTED_LINE_CHARS = 200;

export interface BuildStep {
  readonly number: number;
  readonly total: number;
  /** The instruction as written in the Dockerfile: `RUN ["/bin/sh","-c","npm ci"]`. */
  readonly instruction: string;
}

export class BuildTranscript {
  readonly #onLog: (line: string) => void;
  readonly #tail: LineTail;
  #partial = '';
  #step: BuildStep | undefined;
  /** Last status line per layer id, so a progress bar's ticks do not each become a line. */
  readonly #statuses = new Map<string, string>();

  constructor(onLog: (line: string) => void, tailSize = 20) {
    this.#onLog = onLog;
    this.#tail = new LineTail(tailSize);
  }

  /** The step running now (or that failed), once the builder has announced one. */
  get step(): BuildStep | undefined {
    return this.#step;
  }

  /** The last lines written, newest last. */
  tail(): readonly string[] {
    return this.#tail.lines();
  }

  /** A listener for `DockerEngineClient` progress options. */
  readonly onProgress = (message: ProgressMessage): void => {
    if (message.stream !== undefined) this.write(message.stream);
    if (message.status !== undefined) this.#status(message);
    // The error line is reported by the failure itself; it is not output of the step.
  };

  /** Text that may hold partial or several lines; complete lines go out at once. */
  write(text: string): void {
    const lines = (this.#partial + text).split('\n');
    this.#partial = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  }

  /**
   * One complete line: a trailing `\r` is dropped, inner `\r` progress redraws keep their last
   * state, and colours are removed, since logs are plain text.
   */
  line(text: string): void {
    const line = lastRedraw(text.replace(/\r$/, '')).replace(ANSI_ESCAPE, '');
    const step = STEP_LINE.exec(line);
    if (step !== null) this.#step = { number: Number(step[1]), total: Number(step[2]), instruction: step[3] ?? '' };
    this.#tail.push(line);
    this.#onLog(line);
  }

  /** Writes out a last line that had no newline. */
  flush(): void {
    if (this.#partial === '') return;
    const rest = this.#partial;
    this.#partial = '';
    this.line(rest);
  }

  #status(message: ProgressMessage): void {
    const status = message.status ?? '';
    const key = message.id ?? '';
    if (this.#statuses.get(key) === status) return;
    this.#statuses.set(key, status);
    this.line(message.id === undefined ? status : `${message.id}: ${status}`);
  }

  /**
   * The BuildError for a build that failed with `error`: the step and command that failed, the
   * exit code, and the last lines of output. Errors that are not the build's own (an engine that
   * cannot be reached, a dropped connection) get a message that says so.
   */
  failure(error: unknown, what = 'Build'): BuildError {
    this.flush();
    const outputTail = this.tail();
    if (!(error instanceof DockerEngineError)) {
      return new BuildError(`${what} failed: ${error instanceof Error ? error.message : String(error)}`, { outputTail });
    }
    if (error.code === 'DOCKER_ENGINE_UNREACHABLE') {
      return new BuildError(`${what} could not start: ${error.message}`, { outputTail });
    }
    if (error.code === 'DOCKER_ENGINE_TRANSPORT') {
      return new BuildError(`${what} failed: the connection to the Docker engine broke (${error.engineMessage})`, { outputTail });
    }
    const step = this.#step;
    const where = step === undefined ? '' : ` at step ${step.number}/${step.total}`;
    const quoted = quote(outputTail);
    const lastOutput = quoted === '' ? '' : `; last output: ${quoted}`;
    const exit = NON_ZERO.exec(error.engineMessage);
    if (exit !== null && step !== undefined) {
      const command = runCommand(step.instruction);
      return new BuildError(`${what} failed${where}: the command '${command}' exited with code ${exit[1]}${lastOutput}`, { command, outputTail });
    }
    return new BuildError(
      `${what} failed${where}${step === undefined ? '' : ` (${step.instruction})`}: ${error.engineMessage}${lastOutput}`,
      step === undefined ? { outputTail } : { command: step.instruction, outputTail },
    );
  }
}

/**
 * The command a RUN instruction runs, as the user wrote it: `npm ci` for the exec form Berth
 * writes (`["/bin/sh","-c","npm ci"]`, possibly after `/usr/bin/env NAME=value`), the text for
 * the shell form, the arguments joined by spaces for other exec forms.
 */
export function runCommand(instruction: string): string {
  const body = instruction.replace(/^RUN\s+/i, '');
  if (body === instruction) return instruction;
  if (!body.trimStart().startsWith('[')) return body.trim();
  let argv: unknown;
  try {
    argv = JSON.parse(body);
  } catch {
    return body.trim();
  }
  if (!Array.isArray(argv) || !argv.every((arg) => typeof arg === 'string')) return body.trim();
  const args = argv as string[];
  for (let index = 0; index + 2 < args.length; index += 1) {
    if (args[index] === '/bin/sh' && args[index + 1] === '-c') return args[index + 2] ?? '';
  }
  return args.join(' ');
}

/** A line with carriage-return redraws (apt, npm progress) as the terminal would end up showing it. */
function lastRedraw(line: string): string {
  if (!line.includes('\r')) return line;
  const parts = line.split('\r').filter((part) => part !== '');
  return parts.at(-1) ?? '';
}

/** The failing step's own output (not the builder's lines about it), last lines only. */
function quote(lines: readonly string[]): string {
  const stepIndex = lines.findLastIndex((line) => STEP_LINE.test(line));
  return lines
    .slice(stepIndex + 1)
    .filter((line) => line.trim() !== '' && !line.startsWith(' ---> ') && !line.startsWith('Removing intermediate container'))
    .slice(-QUOTED_LINES)
    .map((line) => (line.length > QUOTED_LINE_CHARS ? `${line.slice(0, QUOTED_LINE_CHARS)}...` : line))
    .join(' | ');
}

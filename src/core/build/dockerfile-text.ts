/**
 * @module
 * Writing Dockerfile instructions that carry user text (commands, environment values) so that
 * no value can change the instruction it sits in. Commands go in exec form (a JSON array, which
 * the Dockerfile parser reads as JSON, so JSON escaping is exact); values go in double-quoted
 * `ENV` words, escaped the way BuildKit's word lexer reads them.
 */
import { invalidRequest, showValue } from '../errors.ts';

/**
 * Dockerfiles are line-based: a raw line break would end the instruction, and BuildKit's
 * double-quote lexer has no escape for one. NUL cannot reach a process's argv or environment.
 */
const UNREPRESENTABLE = /[\r\n\0]/;

/** `RUN ["/bin/sh","-c",command]`, with `env` prepended when `environment` is not empty. */
export function runInstruction(command: string, environment: readonly { name: string; value: string }[] = []): string {
  return `RUN ${execForm(command, environment)}`;
}

/** `CMD ["/bin/sh","-c",command]`: App Runner's start command is a shell command line. */
export function cmdInstruction(command: string): string {
  return `CMD ${execForm(command, [])}`;
}

function execForm(command: string, environment: readonly { name: string; value: string }[]): string {
  if (UNREPRESENTABLE.test(command)) {
    throw invalidRequest(`Command ${showValue(command)} spans several lines; write one command per line (one list entry each)`);
  }
  // `env NAME=value ... sh -c` gives a command variables without leaving them in the image; a
  // NAME is checked to start with a letter or '_', so `env` never reads one as an option.
  const prefix = environment.map(({ name, value }) => {
    checkValue(name, value);
    return `${name}=${value}`;
  });
  const argv = prefix.length > 0 ? ['/usr/bin/env', ...prefix, '/bin/sh', '-c', command] : ['/bin/sh', '-c', command];
  return JSON.stringify(argv);
}

/** `ENV name="value"`; inside double quotes BuildKit un-escapes `\"`, `\\` and `\$` only. */
export function envInstruction(name: string, value: string): string {
  checkValue(name, value);
  return `ENV ${name}="${value.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
}

function checkValue(name: string, value: string): void {
  if (UNREPRESENTABLE.test(value)) {
    throw invalidRequest(`The value of environment variable '${name}' contains a line break or NUL, which a Dockerfile cannot hold; put multi-line values in a secret instead`);
  }
}

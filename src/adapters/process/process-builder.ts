/**
 * @module
 * The builder for machines without a container engine: a `generated` build plan carried out
 * with the machine's own tools. The source is copied into `<root>/builds/<buildId>/app`, the
 * plan's commands run there one by one (`/bin/sh -c <command>`, as a Dockerfile's RUN does),
 * and a manifest written last says how to run the result (process-artifact.ts). The process
 * runtime then starts instances from that directory.
 *
 * What differs from a container build, on purpose and stated in the build log:
 * - the machine's own `node`, `python3`, ... build and run the service; `runtime-version` is
 *   not enforced;
 * - a Python build gets a virtual environment of its own (`venv/`, first on PATH), so
 *   `pip3 install` neither touches the machine's Python nor collides with other builds;
 * - `pre-run` commands run once, at the end of the build, with the build's environment, as
 *   they do in the run stage of the Dockerfile Berth writes (build-plan.ts); every instance of
 *   the build then shares the result. The `original` build process's second pass of the build
 *   commands (for a separate run image) has nothing to do here and is skipped.
 * A source directory's own Dockerfile cannot be built without an engine and is refused.
 */
import { spawn } from 'node:child_process';
import { cp, mkdir, rm, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { Language } from '../../core/build/managed-runtimes.ts';
import { BuildError, LineTail, type Builder, type BuildRequest, type BuildResult } from '../../core/builder.ts';
import { appDirectory, buildDirectory, DEFAULT_SEARCH_PATH, parseProcessImage, processImage, writeArtifact, type ProcessArtifact } from './process-artifact.ts';

export interface ProcessBuilderOptions {
  /** Holds `builds/<buildId>/` (e.g. `$BERTH_HOME/process`); the process runtime gets the same root. */
  root: string;
  /** The shell that runs each command with `-c`; default `/bin/sh`. */
  shell?: string;
  /** PATH for build commands: where the machine's node, python3, npm, ... are. */
  searchPath?: string;
}

/** The program that says which version of each language the machine has. */
const VERSION_PROBES: Readonly<Record<Language, readonly [string, ...string[]]>> = {
  nodejs: ['node', '--version'],
  python: ['python3', '--version'],
  corretto: ['java', '-version'],
  go: ['go', 'version'],
  dotnet: ['dotnet', '--version'],
  php: ['php', '--version'],
  ruby: ['ruby', '--version'],
};

const NOTE = 'berth: ';

export class ProcessBuilder implements Builder {
  readonly name = 'process';
  readonly #root: string;
  readonly #shell: string;
  readonly #searchPath: string;

  constructor(options: ProcessBuilderOptions) {
    this.#root = options.root;
    this.#shell = options.shell ?? '/bin/sh';
    this.#searchPath = options.searchPath ?? DEFAULT_SEARCH_PATH;
  }

  async build(request: BuildRequest): Promise<BuildResult> {
    const { plan, onLog, signal } = request;
    const image = processImage(request.buildId);
    if (plan.kind === 'dockerfile') {
      throw new BuildError(
        `The source directory has a Dockerfile, which needs a container engine to build; none is reachable, so Berth runs source services as local processes, which can build only an apprunner.yaml, CodeConfigurationValues, or a detected Node.js (package.json) or Python (requirements.txt) project. Start Docker (or set docker.socket), or replace the Dockerfile with an apprunner.yaml`,
      );
    }
    signal?.throwIfAborted();
    const buildDir = buildDirectory(this.#root, request.buildId);
    const appDir = appDirectory(this.#root, request.buildId);
    try {
      // A leftover of an attempt that crashed, or an earlier build with this id: start clean.
      await rm(buildDir, { recursive: true, force: true });
      await mkdir(buildDir, { recursive: true });
      await copySource(request.sourceDirectory, appDir);

      const { definition, runtime } = plan;
      const pathPrefix: string[] = [];
      const runEnv: Record<string, string> = { ...plan.environment };
      const buildEnv: Record<string, string> = { PATH: this.#searchPath, HOME: buildDir, LANG: 'C.UTF-8' };
      const run = (command: string, argv?: readonly [string, ...string[]]): Promise<void> =>
        this.#step(command, argv ?? [this.#shell, '-c', command], { cwd: appDir, env: buildEnv, onLog, signal });

      onLog(`${NOTE}no container engine: building ${runtime.yamlName} in ${appDir} with this machine's own tools`);
      await this.#noteVersion(runtime.language, runtime.yamlName, plan.runtimeVersion, { cwd: appDir, env: buildEnv, onLog, signal });
      if (runtime.language === 'python') {
        // Its own environment, so pip installs neither into the machine's Python (which Debian
        // forbids anyway, PEP 668) nor into another build's.
        const venv = join(buildDir, 'venv');
        onLog(`${NOTE}creating a Python virtual environment for this build in ${venv}`);
        await this.#step('python3 -m venv', ['python3', '-m', 'venv', venv], { cwd: appDir, env: buildEnv, onLog, signal }, 'python3 -m venv failed: on Debian and Ubuntu install the python3-venv package');
        pathPrefix.push(join(venv, 'bin'));
        runEnv['VIRTUAL_ENV'] = venv;
        buildEnv['VIRTUAL_ENV'] = venv;
        buildEnv['PATH'] = `${join(venv, 'bin')}:${this.#searchPath}`;
        buildEnv['PIP_DISABLE_PIP_VERSION_CHECK'] = '1';
      }
      for (const { name, value } of definition.build.env) buildEnv[name] = value;

      for (const command of [...definition.build.preBuild, ...definition.build.build, ...definition.build.postBuild]) await run(command);
      if (runtime.buildProcess === 'revised' && definition.run.preRun.length > 0) {
        onLog(`${NOTE}running the pre-run commands once, here, as a container build's run stage would; every instance of this build shares the result`);
        for (const command of definition.run.preRun) await run(command);
      }

      const artifact: ProcessArtifact = {
        version: 1,
        buildId: request.buildId,
        runtime: runtime.yamlName,
        language: runtime.language,
        ...(plan.runtimeVersion === undefined ? {} : { runtimeVersion: plan.runtimeVersion }),
        command: plan.startCommand,
        port: plan.port,
        ...(definition.run.portEnv === undefined ? {} : { portEnv: definition.run.portEnv }),
        env: runEnv,
        pathPrefix,
        createdAt: Date.now(),
      };
      signal?.throwIfAborted();
      await writeArtifact(this.#root, artifact);
      onLog(`${NOTE}build ${request.buildId} is ready: ${image}`);
      return { image };
    } catch (error) {
      // Nothing will ever run a failed build; its directory would only take space.
      await rm(buildDir, { recursive: true, force: true }).catch(() => undefined);
      throw error;
    }
  }

  async discard(image: string): Promise<void> {
    const buildId = parseProcessImage(image);
    if (buildId === undefined) return;
    await rm(buildDirectory(this.#root, buildId), { recursive: true, force: true });
  }

  /** Writes into the build log which version of the language the machine has, refusing a build when it has none. */
  async #noteVersion(language: Language, yamlName: string, asked: string | undefined, context: StepContext): Promise<void> {
    const [program, ...args] = VERSION_PROBES[language];
    const lines: string[] = [];
    const result = await runProgram(program, args, { ...context, onLog: (line) => lines.push(line) });
    if (result.spawnError !== undefined || result.code !== 0) {
      throw new BuildError(
        `This machine has no working '${program}' on its PATH (${String(context.env['PATH'])}), and without a container engine Berth builds and runs ${yamlName} services with the machine's own ${program}: install it, or start Docker (or set docker.socket)`,
        { command: [program, ...args].join(' '), outputTail: lines.slice(-20) },
      );
    }
    const version = lines.find((l) => l.trim() !== '')?.trim() ?? 'an unknown version';
    context.onLog(`${NOTE}${program} on this machine: ${version}; it builds and runs this ${yamlName} service`);
    if (asked !== undefined) context.onLog(`${NOTE}runtime-version ${asked} is not enforced for local processes: the machine's own ${program} is used`);
  }

  /** Runs one step, streaming its output; a failure is a BuildError naming the command. */
  async #step(command: string, argv: readonly [string, ...string[]], context: StepContext, hint?: string): Promise<void> {
    context.onLog(`${NOTE}running: ${command}`);
    const tail = new LineTail(20);
    const [program, ...args] = argv;
    const result = await runProgram(program, args, {
      ...context,
      onLog: (line) => {
        tail.push(line);
        context.onLog(line);
      },
    });
    if (result.spawnError !== undefined) {
      throw new BuildError(`the command '${command}' could not be started: ${result.spawnError.message}`, { command, outputTail: tail.lines() });
    }
    if (result.code !== 0) {
      const how = result.code === null ? `was killed by ${result.signal ?? 'a signal'}` : `exited with code ${result.code}`;
      throw new BuildError(`the command '${command}' ${how}${hint === undefined ? '' : `; ${hint}`}`, { command, outputTail: tail.lines() });
    }
  }
}

interface StepContext {
  cwd: string;
  env: Record<string, string>;
  onLog: (line: string) => void;
  signal: AbortSignal | undefined;
}

interface ProgramResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  spawnError?: Error;
}

/**
 * Runs a program in a process group of its own, passing each output line to `onLog` as it
 * arrives. Whatever the program left running in its group is killed when it exits (a background
 * process would otherwise hold the output open), and the whole group is killed on abort.
 */
function runProgram(program: string, args: readonly string[], context: StepContext): Promise<ProgramResult> {
  const { signal } = context;
  signal?.throwIfAborted();
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { cwd: context.cwd, env: context.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const killGroup = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };
    const onAbort = (): void => killGroup();
    signal?.addEventListener('abort', onAbort, { once: true });
    const stdout = new LineSplitter(context.onLog);
    const stderr = new LineSplitter(context.onLog);
    child.stdout.on('data', (chunk: Buffer) => stdout.write(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.write(chunk));
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    child.on('exit', (code, exitSignal) => {
      exit = { code, signal: exitSignal };
      killGroup();
    });
    child.on('error', (error) => {
      // Only a failed spawn reports 'error' without 'close' following; 'close' settles the rest.
      if (child.pid === undefined) {
        signal?.removeEventListener('abort', onAbort);
        resolve({ code: null, signal: null, spawnError: error });
      }
    });
    child.on('close', (code, closeSignal) => {
      signal?.removeEventListener('abort', onAbort);
      stdout.end();
      stderr.end();
      if (signal?.aborted) {
        reject(signal.reason as Error);
        return;
      }
      resolve(exit ?? { code, signal: closeSignal });
    });
  });
}

/** Splits a byte stream into lines (UTF-8 decoded across chunk boundaries, CR before LF dropped). */
class LineSplitter {
  readonly #decoder = new StringDecoder('utf8');
  readonly #onLine: (line: string) => void;
  #partial = '';

  constructor(onLine: (line: string) => void) {
    this.#onLine = onLine;
  }

  write(chunk: Buffer): void {
    this.#emit(this.#partial + this.#decoder.write(chunk));
  }

  end(): void {
    const rest = this.#partial + this.#decoder.end();
    this.#partial = '';
    if (rest !== '') this.#onLine(rest.replace(/\r$/, ''));
  }

  #emit(text: string): void {
    const lines = text.split('\n');
    this.#partial = lines.pop() ?? '';
    for (const line of lines) this.#onLine(line.replace(/\r$/, ''));
  }
}

/** Copies the source without `.git`; symbolic links stay links with their text as written, never followed. */
async function copySource(source: string, target: string): Promise<void> {
  const info = await stat(source);
  if (!info.isDirectory()) throw new Error(`The source directory ${source} is not a directory`);
  await cp(source, target, {
    recursive: true,
    verbatimSymlinks: true,
    dereference: false,
    errorOnExist: false,
    preserveTimestamps: true,
    filter: (path) => !relative(source, path).split(sep).includes('.git'),
  });
}


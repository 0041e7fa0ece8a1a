/**
 * @module
 * `apprunner.yaml` (app-runner-api.md §4.1): parsed, checked against every rule of the format,
 * and turned into a typed {@link BuildDefinition}. Every problem is reported with the line and
 * column it sits at, all of them at once, so one failed deployment shows everything to fix.
 */
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Node, type Pair, type YAMLMap } from 'yaml';
import { invalidRequest, showValue, type BerthError } from '../errors.ts';
import { environmentNameProblem } from './environment-name.ts';
import { YAML_RUNTIME_NAMES, runtimeByYamlName, type ManagedRuntime } from './managed-runtimes.ts';

export const APPRUNNER_YAML = 'apprunner.yaml';

export interface EnvironmentVariable {
  readonly name: string;
  readonly value: string;
}

export interface SecretReference {
  readonly name: string;
  /** A Secrets Manager ARN (optionally with `:json-key:version-stage:version-id`), an SSM parameter ARN, or a same-region parameter name. */
  readonly valueFrom: string;
}

export interface BuildDefinition {
  readonly version: '1.0';
  readonly runtime: ManagedRuntime;
  readonly build: {
    readonly preBuild: readonly string[];
    readonly build: readonly string[];
    readonly postBuild: readonly string[];
    readonly env: readonly EnvironmentVariable[];
  };
  readonly run: {
    /** `major[.minor[.patch]]` as written; absent means "newest of the runtime's major". */
    readonly runtimeVersion?: string;
    readonly preRun: readonly string[];
    readonly command: string;
    readonly port: number;
    /** An extra variable that also receives the port (PORT is always set). */
    readonly portEnv?: string;
    readonly env: readonly EnvironmentVariable[];
    readonly secrets: readonly SecretReference[];
  };
}

export interface YamlProblem {
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

export type YamlCheck = { ok: true; definition: BuildDefinition } | { ok: false; problems: readonly YamlProblem[] };

/** Parses and checks apprunner.yaml; throws InvalidRequestException listing every problem. */
export function parseApprunnerYaml(text: string): BuildDefinition {
  const result = checkApprunnerYaml(text);
  if (result.ok) return result.definition;
  throw apprunnerYamlError(result.problems);
}

export function formatYamlProblem(problem: YamlProblem): string {
  return `${APPRUNNER_YAML} line ${problem.line}, column ${problem.column}: ${problem.message}`;
}

function apprunnerYamlError(problems: readonly YamlProblem[]): BerthError {
  return invalidRequest(problems.map(formatYamlProblem).join('\n'));
}

const TOP_KEYS = ['version', 'runtime', 'build', 'run'];
const BUILD_KEYS = ['commands', 'env'];
const COMMAND_KEYS = ['pre-build', 'build', 'post-build'];
const RUN_KEYS = ['runtime-version', 'pre-run', 'command', 'network', 'env', 'secrets'];
const NETWORK_KEYS = ['port', 'env'];
const ENV_KEYS = ['name', 'value'];
const SECRET_KEYS = ['name', 'value-from'];

const RUNTIME_VERSION = /^\d+(\.\d+){0,2}$/;
// Secrets Manager: arn:partition:secretsmanager:region:account:secret:name[:json-key:stage:id];
// SSM: arn:partition:ssm:region:account:parameter/name, or a bare parameter name.
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[^:\s]+(:[^:\s]*:[^:\s]*:[^:\s]*)?$/;
const PARAMETER_ARN = /^arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter\/[a-zA-Z0-9_.\-/]+$/;
const PARAMETER_NAME = /^\/?[a-zA-Z0-9_.-]+(\/[a-zA-Z0-9_.-]+)*$/;

/** Parses and checks apprunner.yaml without throwing: the definition, or every problem found. */
export function checkApprunnerYaml(text: string): YamlCheck {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problems: YamlProblem[] = [];
  const at = (offset: number, message: string): void => {
    const { line, col } = lineCounter.linePos(offset);
    problems.push({ line, column: col, message });
  };

  if (document.errors.length > 0) {
    for (const error of document.errors) {
      // The parser's message repeats the position and a source excerpt after the first line.
      const reason = (error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
      at(error.pos[0], `not valid YAML: ${reason}`);
    }
    return { ok: false, problems };
  }

  const c = new Checker(at);
  const root = document.contents;
  if (root === null || (isScalar(root) && root.value === null)) {
    at(0, `the file is empty: it needs ${TOP_KEYS.join(', ')} (see the minimal example: version: 1.0, runtime: nodejs22, build.commands.build, run.command)`);
    return { ok: false, problems };
  }
  const top = c.map(root, '', 'the top level', 0);
  if (top === undefined) return { ok: false, problems };
  const topFields = c.fields(top, '', TOP_KEYS);

  // version: YAML reads `1.0` as the number 1, so accept that and the string "1.0".
  const version = c.required(topFields, top, '', 'version', 'write version: 1.0');
  if (version !== undefined) {
    const value = isScalar(version) ? version.value : undefined;
    if (!(value === 1 || value === '1.0')) {
      c.at(version, `'version' must be 1.0, the only version of the format, got ${c.show(version)}`);
    }
  }

  let runtime: ManagedRuntime | undefined;
  const runtimeNode = c.required(topFields, top, '', 'runtime', `name a managed runtime: ${YAML_RUNTIME_NAMES.join(', ')}`);
  if (runtimeNode !== undefined) {
    const name = c.string(runtimeNode, 'runtime');
    if (name !== undefined) {
      runtime = runtimeByYamlName(name);
      if (runtime === undefined) {
        c.at(runtimeNode, `'runtime' ${showValue(name)} is not a managed runtime; allowed: ${YAML_RUNTIME_NAMES.join(', ')}`);
      }
    }
  }

  // build
  let preBuild: string[] = [];
  let buildCommands: string[] = [];
  let postBuild: string[] = [];
  let buildEnv: EnvironmentVariable[] = [];
  const buildNode = c.required(topFields, top, '', 'build', 'add build.commands.build with the commands that build the app');
  const build = buildNode === undefined ? undefined : c.map(buildNode, 'build', 'the build stage', topFields.get('build')?.keyOffset);
  if (build !== undefined) {
    const buildFields = c.fields(build, 'build', BUILD_KEYS);
    const commandsNode = c.required(buildFields, build, 'build', 'commands', 'add commands.build with the commands that build the app');
    const commands = commandsNode === undefined
      ? undefined
      : c.map(commandsNode, 'build.commands', 'the per-phase command lists', buildFields.get('commands')?.keyOffset);
    if (commands !== undefined) {
      const commandFields = c.fields(commands, 'build.commands', COMMAND_KEYS);
      preBuild = c.optionalCommands(commandFields, 'build.commands', 'pre-build');
      const buildList = c.required(commandFields, commands, 'build.commands', 'build', 'list the commands that build the app');
      if (buildList !== undefined) buildCommands = c.commands(buildList, 'build.commands.build', true);
      postBuild = c.optionalCommands(commandFields, 'build.commands', 'post-build');
    }
    buildEnv = c.environment(buildFields.get('env')?.value, 'build.env');
  }

  // run
  let runtimeVersion: string | undefined;
  let preRun: string[] = [];
  let command: string | undefined;
  let port = 8080;
  let portEnv: string | undefined;
  let runEnv: EnvironmentVariable[] = [];
  let secrets: SecretReference[] = [];
  const runNode = c.required(topFields, top, '', 'run', 'add run.command with the command that starts the app');
  const run = runNode === undefined ? undefined : c.map(runNode, 'run', 'the run stage', topFields.get('run')?.keyOffset);
  if (run !== undefined) {
    const runFields = c.fields(run, 'run', RUN_KEYS);

    const versionNode = runFields.get('runtime-version')?.value;
    if (versionNode !== undefined) {
      // From the source text: YAML would read 3.10 as the number 3.1.
      const written = c.rawScalar(versionNode, 'run.runtime-version');
      if (written !== undefined) {
        if (RUNTIME_VERSION.test(written)) runtimeVersion = written;
        else c.at(versionNode, `'run.runtime-version' must be major[.minor[.patch]] (e.g. 3.11 or 3.11.9), got ${showValue(written)}`);
      }
    }

    const preRunEntry = runFields.get('pre-run');
    if (preRunEntry !== undefined) {
      preRun = c.commands(preRunEntry.value, 'run.pre-run', false);
      if (runtime !== undefined && runtime.buildProcess === 'original') {
        c.atOffset(preRunEntry.keyOffset, `'run.pre-run' works only with revised-build runtimes (python311, nodejs18, nodejs22); runtime '${runtime.yamlName}' uses the original build, which runs the build commands in the run image already: move these commands to build.commands`);
      }
    }

    const commandNode = c.required(runFields, run, 'run', 'command', 'give the command that starts the app, e.g. command: node server.js');
    if (commandNode !== undefined) command = c.command(commandNode, 'run.command');

    const networkNode = runFields.get('network')?.value;
    if (networkNode !== undefined) {
      const network = c.map(networkNode, 'run.network', 'the network settings', runFields.get('network')?.keyOffset);
      if (network !== undefined) {
        const networkFields = c.fields(network, 'run.network', NETWORK_KEYS);
        const portNode = networkFields.get('port')?.value;
        if (portNode !== undefined) {
          const value = isScalar(portNode) ? portNode.value : undefined;
          if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535) port = value;
          else c.at(portNode, `'run.network.port' must be a whole number from 1 to 65535, got ${c.show(portNode)}`);
        }
        const envNode = networkFields.get('env')?.value;
        if (envNode !== undefined) {
          const name = c.string(envNode, 'run.network.env');
          if (name !== undefined) {
            const problem = environmentNameProblem(name);
            if (problem === undefined) portEnv = name;
            else c.at(envNode, `'run.network.env': ${problem}`);
          }
        }
      }
    }

    runEnv = c.environment(runFields.get('env')?.value, 'run.env');
    secrets = c.secrets(runFields.get('secrets')?.value);

    // One name, one value: a variable set twice would silently lose one of its values.
    const seen = new Map<string, string>();
    if (portEnv !== undefined && networkNode !== undefined) seen.set(portEnv, 'run.network.env');
    for (const [list, path] of [[runEnv, 'run.env'], [secrets, 'run.secrets']] as const) {
      const node = runFields.get(path.slice(4))?.value;
      list.forEach((entry, index) => {
        const before = seen.get(entry.name);
        if (before !== undefined) {
          const item = isSeq(node) ? node.items[index] : undefined;
          c.at(item as Node | undefined ?? run, `'${path}' sets '${entry.name}', which ${before} sets already; keep one`);
        } else {
          seen.set(entry.name, path);
        }
      });
    }
  }

  if (problems.length > 0 || runtime === undefined || command === undefined) {
    return { ok: false, problems: problems.sort((a, b) => a.line - b.line || a.column - b.column) };
  }
  const runPart = {
    ...(runtimeVersion === undefined ? {} : { runtimeVersion }),
    preRun,
    command,
    port,
    ...(portEnv === undefined ? {} : { portEnv }),
    env: runEnv,
    secrets,
  };
  return {
    ok: true,
    definition: {
      version: '1.0',
      runtime,
      build: { preBuild, build: buildCommands, postBuild, env: buildEnv },
      run: runPart,
    },
  };
}

interface Field {
  readonly keyOffset: number;
  readonly value: Node | undefined;
}

/** The rules of the format, each reporting to `at` and returning what it could read. */
class Checker {
  readonly report: (offset: number, message: string) => void;

  constructor(report: (offset: number, message: string) => void) {
    this.report = report;
  }

  atOffset(offset: number, message: string): void {
    this.report(offset, message);
  }

  at(node: Node, message: string): void {
    this.report(node.range?.[0] ?? 0, message);
  }

  show(node: Node): string {
    if (isScalar(node)) {
      if (node.value === null) return 'nothing';
      return typeof node.value === 'string' ? showValue(node.value) : `${typeof node.value} ${showValue(node.source ?? node.value)}`;
    }
    if (isMap(node)) return 'a map';
    if (isSeq(node)) return 'a list';
    return 'an alias';
  }

  /** `node` as a map; `keyOffset` places the report on the key when the value is empty. */
  map(node: Node, path: string, what: string, keyOffset?: number): YAMLMap | undefined {
    if (isMap(node)) return node;
    const where = path === '' ? 'The file' : `'${path}'`;
    if (isAlias(node)) {
      this.alias(node, path);
    } else if (isScalar(node) && node.value === null && keyOffset !== undefined) {
      this.atOffset(keyOffset, `${where} is empty: it must be a map (${what})`);
    } else {
      this.at(node, `${where} must be a map (${what}), got ${this.show(node)}`);
    }
    return undefined;
  }

  alias(node: Node, path: string): void {
    // Aliases can multiply a small file into a huge one; apprunner.yaml has no need of them.
    this.at(node, `'${path}' uses a YAML alias, which apprunner.yaml does not support: write the value out`);
  }

  /** The keys of `map`, refusing unknown and non-string ones. */
  fields(map: YAMLMap, path: string, allowed: readonly string[]): Map<string, Field> {
    const result = new Map<string, Field>();
    for (const pair of map.items as Pair<unknown, unknown>[]) {
      const key = pair.key as Node | null;
      const offset = key?.range?.[0] ?? map.range?.[0] ?? 0;
      const name = isScalar(key) && typeof key.value === 'string' ? key.value : undefined;
      const full = name === undefined ? undefined : path === '' ? name : `${path}.${name}`;
      if (name === undefined || !allowed.includes(name)) {
        const shown = name ?? (isScalar(key) ? String(key.value) : 'a non-text key');
        const place = path === '' ? 'at the top level' : `in '${path}'`;
        this.atOffset(offset, `unknown key ${showValue(full ?? shown)} ${place}; allowed keys: ${allowed.join(', ')}`);
        continue;
      }
      result.set(name, { keyOffset: offset, value: (pair.value as Node | null) ?? undefined });
    }
    return result;
  }

  /** A key that must be present, with a value. */
  required(fields: Map<string, Field>, map: YAMLMap, path: string, key: string, fix: string): Node | undefined {
    const full = path === '' ? key : `${path}.${key}`;
    const field = fields.get(key);
    if (field === undefined) {
      this.at(map, `'${full}' is required: ${fix}`);
      return undefined;
    }
    if (field.value === undefined || (isScalar(field.value) && field.value.value === null)) {
      this.atOffset(field.keyOffset, `'${full}' is required but has no value: ${fix}`);
      return undefined;
    }
    return field.value;
  }

  string(node: Node, path: string): string | undefined {
    if (isAlias(node)) return this.alias(node, path), undefined;
    if (isScalar(node) && typeof node.value === 'string' && node.value.trim() !== '') return node.value;
    this.at(node, `'${path}' must be a non-empty string, got ${this.show(node)}`);
    return undefined;
  }

  /** A scalar as written in the file (numbers and booleans included), for values that are text. */
  rawScalar(node: Node, path: string): string | undefined {
    if (isAlias(node)) return this.alias(node, path), undefined;
    if (isScalar(node) && node.value !== null && typeof node.value !== 'object') {
      return typeof node.value === 'string' ? node.value : (node.source ?? String(node.value));
    }
    this.at(node, `'${path}' must be a single value, got ${this.show(node)}`);
    return undefined;
  }

  /** A one-line command. */
  command(node: Node, path: string): string | undefined {
    const text = this.string(node, path);
    if (text === undefined) return undefined;
    if (/[\r\n\0]/.test(text.trimEnd())) {
      this.at(node, `'${path}' must be one line, got a command with a line break: split it into several commands, one per list entry`);
      return undefined;
    }
    return text.trimEnd();
  }

  optionalCommands(fields: Map<string, Field>, path: string, key: string): string[] {
    const field = fields.get(key);
    return field === undefined ? [] : this.commands(field.value, `${path}.${key}`, false);
  }

  /** A list of one-line commands. */
  commands(node: Node | undefined, path: string, nonEmpty: boolean): string[] {
    if (node === undefined || (isScalar(node) && node.value === null)) {
      if (nonEmpty && node !== undefined) this.at(node, `'${path}' is empty: list the commands that build the app`);
      return [];
    }
    if (!isSeq(node)) {
      const hint = isScalar(node) && typeof node.value === 'string' ? ` (write it as a list: - ${node.value})` : '';
      if (isAlias(node)) this.alias(node, path);
      else this.at(node, `'${path}' must be a list of commands, got ${this.show(node)}${hint}`);
      return [];
    }
    if (node.items.length === 0 && nonEmpty) {
      this.at(node, `'${path}' is empty: list the commands that build the app`);
      return [];
    }
    const result: string[] = [];
    node.items.forEach((item, index) => {
      const command = this.command(item as Node, `${path}[${index}]`);
      if (command !== undefined) result.push(command);
    });
    return result;
  }

  /** A list of `{name, value}`. */
  environment(node: Node | undefined, path: string): EnvironmentVariable[] {
    return this.pairs(node, path, ENV_KEYS, 'value', (valueNode, itemPath) => {
      const value = this.rawScalar(valueNode, `${itemPath}.value`);
      if (value !== undefined && /[\r\n\0]/.test(value)) {
        this.at(valueNode, `'${itemPath}.value' contains a line break, which Berth cannot put in an image's environment; use run.secrets for multi-line values`);
        return undefined;
      }
      return value;
    }).map(([name, value]) => ({ name, value }));
  }

  secrets(node: Node | undefined): SecretReference[] {
    return this.pairs(node, 'run.secrets', SECRET_KEYS, 'value-from', (valueNode, itemPath) => {
      const value = this.string(valueNode, `${itemPath}.value-from`);
      if (value === undefined) return undefined;
      if (value.startsWith('arn:') ? SECRET_ARN.test(value) || PARAMETER_ARN.test(value) : PARAMETER_NAME.test(value)) return value;
      this.at(valueNode, `'${itemPath}.value-from' ${showValue(value)} is neither a Secrets Manager secret ARN (arn:aws:secretsmanager:region:account:secret:name[:json-key:version-stage:version-id]), an SSM parameter ARN (arn:aws:ssm:region:account:parameter/name) nor an SSM parameter name`);
      return undefined;
    }).map(([name, valueFrom]) => ({ name, valueFrom }));
  }

  private pairs(
    node: Node | undefined,
    path: string,
    keys: readonly string[],
    valueKey: string,
    readValue: (node: Node, itemPath: string) => string | undefined,
  ): [string, string][] {
    if (node === undefined || (isScalar(node) && node.value === null)) return [];
    if (!isSeq(node)) {
      if (isAlias(node)) this.alias(node, path);
      else this.at(node, `'${path}' must be a list of {${keys.join(', ')}} entries, got ${this.show(node)}`);
      return [];
    }
    const result: [string, string][] = [];
    const seen = new Set<string>();
    node.items.forEach((item, index) => {
      const itemPath = `${path}[${index}]`;
      const entry = this.map(item as Node, itemPath, `{${keys.join(', ')}}`);
      if (entry === undefined) return;
      const fields = this.fields(entry, itemPath, keys);
      const nameNode = this.required(fields, entry, itemPath, 'name', 'name the variable');
      const valueNode = this.required(fields, entry, itemPath, valueKey, `give '${valueKey}'`);
      let name: string | undefined;
      if (nameNode !== undefined) {
        name = this.string(nameNode, `${itemPath}.name`);
        const problem = name === undefined ? undefined : environmentNameProblem(name);
        if (problem !== undefined) {
          this.at(nameNode, `'${itemPath}.name': ${problem}`);
          name = undefined;
        } else if (name !== undefined && seen.has(name)) {
          this.at(nameNode, `'${path}' lists '${name}' twice; keep one`);
          name = undefined;
        }
        if (name !== undefined) seen.add(name);
      }
      const value = valueNode === undefined ? undefined : readValue(valueNode, itemPath);
      if (name !== undefined && value !== undefined) result.push([name, value]);
    });
    return result;
  }
}

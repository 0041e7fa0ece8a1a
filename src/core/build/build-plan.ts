/**
 * @module
 * What to build for a source-code service: the source directory's own Dockerfile, or a
 * Dockerfile Berth writes from apprunner.yaml, from the API's CodeConfigurationValues, or from
 * what the directory holds (app-runner-api.md §3.4, §4.3). Pure: the caller lists the files.
 *
 * With `ConfigurationSource: REPOSITORY` Berth looks, in order, for
 *   1. `apprunner.yaml`: App Runner's own contract, so it wins over everything else;
 *   2. `Dockerfile`: built as is (a Berth extension; App Runner has no such mode);
 *   3. `package.json`: Node.js 22, `npm ci` (or `npm install` without a lock file) then
 *      `npm run build --if-present`, started with `npm start`;
 *   4. `requirements.txt`: Python 3.11, `pip3 install -r requirements.txt` at build and again
 *      in pre-run (site-packages are outside /app, so the revised build would lose them), started
 *      with `python3 app.py` (or `python3 main.py` when only that exists).
 * With `API` the CodeConfigurationValues decide and the files are not consulted.
 */
import { invalidRequest, showValue } from '../errors.ts';
import { APPRUNNER_YAML, parseApprunnerYaml, type BuildDefinition, type EnvironmentVariable, type SecretReference } from './apprunner-yaml.ts';
import { cmdInstruction, envInstruction, runInstruction } from './dockerfile-text.ts';
import { environmentNameProblem } from './environment-name.ts';
import {
  API_RUNTIME_NAMES, PUBLIC_RUNTIME_IMAGES, runtimeByApiName, type BaseImages, type ManagedRuntime, type RuntimeImageMap,
} from './managed-runtimes.ts';

/** The source directory as the planner needs it. */
export interface SourceDescription {
  /** Names of the files at the source directory's root. */
  readonly files: readonly string[];
  /** The text of `apprunner.yaml`, when the directory has one. */
  readonly apprunnerYaml?: string;
}

export interface CodeConfigurationValues {
  readonly Runtime: string;
  readonly BuildCommand?: string;
  readonly StartCommand?: string;
  readonly Port?: string;
  readonly RuntimeEnvironmentVariables?: Readonly<Record<string, string>>;
  readonly RuntimeEnvironmentSecrets?: Readonly<Record<string, string>>;
}

export interface CodeConfiguration {
  readonly ConfigurationSource: 'REPOSITORY' | 'API';
  readonly CodeConfigurationValues?: CodeConfigurationValues;
}

interface PlanCommon {
  readonly port: number;
  /** What the running service's environment holds: PORT, the port alias, run.env. */
  readonly environment: Readonly<Record<string, string>>;
  /** Variables the runtime resolves from Secrets Manager or SSM at start. */
  readonly secrets: readonly SecretReference[];
}

/** Build the source directory's own Dockerfile; the image's CMD starts the service. */
export interface DockerfilePlan extends PlanCommon {
  readonly kind: 'dockerfile';
  readonly dockerfilePath: 'Dockerfile';
}

/** Build `dockerfile`, which Berth wrote, with the source directory as the context. */
export interface GeneratedPlan extends PlanCommon {
  readonly kind: 'generated';
  readonly origin: 'apprunner.yaml' | 'api' | 'detected';
  readonly runtime: ManagedRuntime;
  readonly runtimeVersion?: string;
  readonly baseImages: BaseImages;
  readonly dockerfile: string;
  readonly startCommand: string;
  /** What the Dockerfile was written from: the commands, for builders that run them directly. */
  readonly definition: BuildDefinition;
}

export type BuildPlan = DockerfilePlan | GeneratedPlan;

const DEFAULT_PORT = 8080;

export function planBuild(
  source: SourceDescription,
  configuration: CodeConfiguration,
  images: RuntimeImageMap = PUBLIC_RUNTIME_IMAGES,
): BuildPlan {
  if (configuration.ConfigurationSource === 'API') {
    const values = configuration.CodeConfigurationValues;
    if (values === undefined) {
      throw invalidRequest('CodeConfiguration with ConfigurationSource API needs CodeConfigurationValues (at least Runtime and StartCommand); or use ConfigurationSource REPOSITORY to read apprunner.yaml');
    }
    return generatedPlan('api', definitionFromApi(values), images);
  }
  if (configuration.ConfigurationSource !== 'REPOSITORY') {
    throw invalidRequest(`ConfigurationSource ${showValue(configuration.ConfigurationSource)} is not one of REPOSITORY, API`);
  }
  const has = (name: string): boolean => source.files.includes(name);
  if (source.apprunnerYaml !== undefined) return generatedPlan('apprunner.yaml', parseApprunnerYaml(source.apprunnerYaml), images);
  if (has(APPRUNNER_YAML)) throw invalidRequest(`${APPRUNNER_YAML} is listed in the source directory but its text was not read`);
  if (has('Dockerfile')) {
    return { kind: 'dockerfile', dockerfilePath: 'Dockerfile', port: DEFAULT_PORT, environment: { PORT: String(DEFAULT_PORT) }, secrets: [] };
  }
  return generatedPlan('detected', detectDefinition(source), images);
}

function detectDefinition(source: SourceDescription): BuildDefinition {
  const has = (name: string): boolean => source.files.includes(name);
  const node = has('package.json');
  const python = has('requirements.txt');
  if (node && python) {
    throw invalidRequest('The source directory has both package.json and requirements.txt, so Berth cannot tell which runtime to use; add an apprunner.yaml (runtime: nodejs22 or python311) or a Dockerfile');
  }
  if (node) {
    return definition('NODEJS_22', {
      build: [has('package-lock.json') ? 'npm ci' : 'npm install', 'npm run build --if-present'],
      command: 'npm start',
    });
  }
  if (python) {
    const entry = ['app.py', 'main.py'].find(has);
    if (entry === undefined) {
      throw invalidRequest('The source directory has requirements.txt but neither app.py nor main.py, so Berth does not know how to start it; add an apprunner.yaml with run.command (e.g. gunicorn app:app) or a Dockerfile');
    }
    const install = 'pip3 install -r requirements.txt';
    return definition('PYTHON_311', { build: [install], preRun: [install], command: `python3 ${entry}` });
  }
  throw invalidRequest(`Berth does not know how to build this source directory: it looks at its root for ${APPRUNNER_YAML}, then Dockerfile, then package.json (Node.js), then requirements.txt (Python), and found none of them (found: ${source.files.length === 0 ? 'no files' : source.files.slice(0, 10).join(', ')}); add one, or use ConfigurationSource API with a Runtime`);
}

function definition(
  runtime: (typeof API_RUNTIME_NAMES)[number],
  parts: { build: string[]; preRun?: string[]; command: string; port?: number; env?: EnvironmentVariable[]; secrets?: SecretReference[] },
): BuildDefinition {
  const managed = runtimeByApiName(runtime);
  if (managed === undefined) throw new Error(`unreachable: ${runtime} is in the runtime table`);
  return {
    version: '1.0',
    runtime: managed,
    build: { preBuild: [], build: parts.build, postBuild: [], env: [] },
    run: {
      preRun: parts.preRun ?? [],
      command: parts.command,
      port: parts.port ?? DEFAULT_PORT,
      env: parts.env ?? [],
      secrets: parts.secrets ?? [],
    },
  };
}

/** CodeConfigurationValues as a build definition (§4.3 "API mode equivalents"). */
function definitionFromApi(values: CodeConfigurationValues): BuildDefinition {
  const problems: string[] = [];
  const runtime = runtimeByApiName(values.Runtime);
  if (runtime === undefined) problems.push(`Runtime ${showValue(values.Runtime)} is not a managed runtime; allowed: ${API_RUNTIME_NAMES.join(', ')}`);
  const start = values.StartCommand?.trim() ?? '';
  if (start === '') problems.push('StartCommand is required to run a source-code service: give the command that starts the app (e.g. npm start)');
  let port = DEFAULT_PORT;
  if (values.Port !== undefined) {
    const parsed = /^\d{1,5}$/.test(values.Port) ? Number(values.Port) : NaN;
    if (parsed >= 1 && parsed <= 65535) port = parsed;
    else problems.push(`Port ${showValue(values.Port)} must be a whole number from 1 to 65535`);
  }
  const names = (map: Readonly<Record<string, string>> | undefined, what: string): [string, string][] => {
    const entries = Object.entries(map ?? {});
    for (const [name] of entries) {
      const problem = environmentNameProblem(name);
      if (problem !== undefined) problems.push(`${what}: ${problem}`);
    }
    return entries;
  };
  const env = names(values.RuntimeEnvironmentVariables, 'RuntimeEnvironmentVariables');
  const secrets = names(values.RuntimeEnvironmentSecrets, 'RuntimeEnvironmentSecrets');
  for (const [name] of secrets) {
    if (values.RuntimeEnvironmentVariables?.[name] !== undefined) {
      problems.push(`'${name}' is both in RuntimeEnvironmentVariables and RuntimeEnvironmentSecrets; keep one`);
    }
  }
  if (problems.length > 0 || runtime === undefined) throw invalidRequest(`Invalid CodeConfigurationValues: ${problems.join('; ')}`);
  const build = values.BuildCommand?.trim() ?? '';
  return definition(runtime.apiName, {
    build: build === '' ? [] : [build],
    command: start,
    port,
    env: env.map(([name, value]) => ({ name, value })),
    secrets: secrets.map(([name, valueFrom]) => ({ name, valueFrom })),
  });
}

function generatedPlan(origin: GeneratedPlan['origin'], definition: BuildDefinition, images: RuntimeImageMap): GeneratedPlan {
  const baseImages = images[definition.runtime.apiName];
  const environment: Record<string, string> = { PORT: String(definition.run.port) };
  if (definition.run.portEnv !== undefined) environment[definition.run.portEnv] = String(definition.run.port);
  for (const { name, value } of definition.run.env) environment[name] = value;
  return {
    kind: 'generated',
    origin,
    runtime: definition.runtime,
    ...(definition.run.runtimeVersion === undefined ? {} : { runtimeVersion: definition.run.runtimeVersion }),
    baseImages,
    dockerfile: generateDockerfile(definition, baseImages, origin),
    startCommand: definition.run.command,
    definition,
    port: definition.run.port,
    environment,
    secrets: definition.run.secrets,
  };
}

/**
 * The Dockerfile for a build definition (§4.3). Both processes are one multi-stage build with
 * `/app` as the working directory of every stage:
 * - `build` stage (build image): source copied to /app, `build.env` as ENV, pre-build, build,
 *   post-build. Post-build runs here, before /app is copied on, because a stage the final image
 *   does not depend on would not be built at all.
 * - `run` stage (run image): only /app copied from the build stage; then, with `build.env`
 *   passed to each command through `env` (so it stays out of the image), `pre-run` for the
 *   revised process, or pre-build and build again for the original one; then PORT, the port
 *   alias and `run.env` as ENV, and the start command as `sh -c`.
 */
export function generateDockerfile(definition: BuildDefinition, images: BaseImages, origin: GeneratedPlan['origin'] = 'apprunner.yaml'): string {
  const { runtime, build, run } = definition;
  // Nothing from the user goes into comments: a comment is only safe up to the next line break.
  const lines = [
    `# Written by Berth from ${origin === 'api' ? 'CodeConfigurationValues' : origin === 'detected' ? 'the files in the source directory' : APPRUNNER_YAML}: runtime ${runtime.yamlName}, ${runtime.buildProcess} build.`,
    `FROM ${images.build} AS build`,
    'WORKDIR /app',
    'COPY . /app',
    ...build.env.map(({ name, value }) => envInstruction(name, value)),
    ...[...build.preBuild, ...build.build, ...build.postBuild].map((command) => runInstruction(command)),
    '',
    `FROM ${images.run} AS run`,
    'WORKDIR /app',
    'COPY --from=build /app /app',
  ];
  const again = runtime.buildProcess === 'revised' ? run.preRun : [...build.preBuild, ...build.build];
  lines.push(...again.map((command) => runInstruction(command, build.env)));
  lines.push(envInstruction('PORT', String(run.port)));
  if (run.portEnv !== undefined) lines.push(envInstruction(run.portEnv, String(run.port)));
  lines.push(...run.env.map(({ name, value }) => envInstruction(name, value)));
  lines.push(`EXPOSE ${run.port}`, cmdInstruction(run.command));
  return `${lines.join('\n')}\n`;
}

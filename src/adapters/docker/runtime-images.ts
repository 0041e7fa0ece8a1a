/**
 * @module
 * Makes the base images of generated builds ready in the Docker engine. An image already there
 * is used as is; one of the "os-packages" recipes (core/build/managed-runtimes.ts) is built from
 * its Dockerfile, after the image it starts FROM (which may be another recipe's: nodejs22 FROM
 * nodejs); the Debian image those recipes start FROM is made with `debootstrap` on the host and
 * imported; anything else is pulled. No image registry is needed for os-packages mode, which is
 * the point of it: air-gapped sites and machines that can only reach Debian's mirror. The
 * Node.js images other than Debian's own major (NODEJS_18 on bookworm) do need the npm registry,
 * for the official Node.js binary, as any Node.js build with dependencies does.
 *
 * Wiring, for a composition root:
 *
 *     const { images, provider } = osPackagesImages({ client, lockDir: join(dataDir, 'locks') });
 *     const builder = new DockerBuilder({ client, installationId, baseImages: provider });
 *     planBuild(source, configuration, images);   // plans name berth-runtime/<language>:<release>
 *
 * and with public images: `new RuntimeImageProvider({ client, lockDir })`,
 * which only pulls what is missing.
 *
 * Creation is single-flight: builds in one process that need the same image wait for one
 * creation (and all see its output), and a lock directory per image keeps two processes from
 * creating it at once; whoever gets the lock looks again before doing any work.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { BuildError } from '../../core/builder.ts';
import {
  DEFAULT_DEBIAN_VERSION, osPackagesRuntimeImages, type RuntimeImageMap, type RuntimeImageRecipe,
} from '../../core/build/managed-runtimes.ts';
import { createTarArchive } from '../../core/tar-archive.ts';
import { BuildTranscript } from './build-transcript.ts';
import { acquireDirectoryLock } from './directory-lock.ts';
import type { DockerEngineClient } from './engine-client.ts';
import { engineImageName } from './image-name.ts';

export const DEFAULT_DEBIAN_MIRROR = 'http://deb.debian.org/debian';
export const DEFAULT_DEBOOTSTRAP = '/usr/sbin/debootstrap';
/** Label on every image Berth makes for itself here: `debian` or the recipe's language. */
export const RUNTIME_IMAGE_LABEL = 'berth.runtime-image';

/** The Debian image Berth makes with debootstrap: `berth-os/debian:<release>`. */
export function debianBaseImage(release: string = DEFAULT_DEBIAN_VERSION): string {
  return `berth-os/debian:${release}`;
}

export interface DebianBaseOptions {
  /** Reference the root file system is imported as; `berth-os/debian:<release>` by default. */
  readonly image?: string;
  /** Debian release to bootstrap; `bookworm` by default. */
  readonly release?: string;
  /** Debian mirror for debootstrap and, inside the images, for apt; the host's own when found. */
  readonly mirror?: string | undefined;
  /** Path of the debootstrap program. */
  readonly debootstrap?: string;
  /** Where the temporary root file system is made (about 200 MB); the OS's temp directory by default. */
  readonly workDirectory?: string;
  /**
   * The host's locally added certificate authorities (`*.crt`, Debian's convention), copied into
   * the image so that `update-ca-certificates` trusts them there too; `/usr/local/share/ca-certificates`.
   */
  readonly hostCertificates?: string;
}

const HOST_CERTIFICATES = '/usr/local/share/ca-certificates';
const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/**
 * Copies every `*.crt` under `from` into the root file system's own local-certificates folder;
 * returns their names. A host without that folder adds none.
 */
async function copyHostCertificates(from: string, rootfs: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = (await readdir(from, { recursive: true })).filter((name) => name.endsWith('.crt'));
  } catch {
    return [];
  }
  const target = join(rootfs, 'usr/local/share/ca-certificates/berth-host');
  await mkdir(target, { recursive: true });
  for (const name of entries) await copyFile(join(from, name), join(target, name.replaceAll('/', '_')));
  return entries;
}

export interface RuntimeImageProviderOptions {
  readonly client: DockerEngineClient;
  /** Holds one lock directory per image being made; shared by every Berth process on the machine. */
  readonly lockDir: string;
  /** Images Berth builds itself (os-packages mode). */
  readonly recipes?: readonly RuntimeImageRecipe[];
  /** How to make the Debian image the recipes start FROM; without it, that image is pulled. */
  readonly debian?: DebianBaseOptions;
}

type LogLine = (line: string) => void;

interface Creation {
  readonly listeners: Set<LogLine>;
  readonly done: Promise<void>;
}

export class RuntimeImageProvider {
  readonly #client: DockerEngineClient;
  readonly #lockDir: string;
  readonly #recipes: ReadonlyMap<string, RuntimeImageRecipe>;
  readonly #debian: (DebianBaseOptions & { readonly image: string; readonly release: string }) | undefined;
  readonly #creations = new Map<string, Creation>();

  constructor(options: RuntimeImageProviderOptions) {
    this.#client = options.client;
    this.#lockDir = options.lockDir;
    this.#recipes = new Map((options.recipes ?? []).map((recipe) => [engineImageName(recipe.image).reference, recipe]));
    if (options.debian !== undefined) {
      const release = options.debian.release ?? DEFAULT_DEBIAN_VERSION;
      this.#debian = { ...options.debian, release, image: engineImageName(options.debian.image ?? debianBaseImage(release)).reference };
    }
  }

  /**
   * Resolves once every image is in the engine, making the missing ones; each line of progress
   * goes to `onLog`. Throws BuildError when an image cannot be had. `signal` stops this caller's
   * wait; a creation others may be waiting for runs on.
   */
  async ensure(images: readonly string[], onLog: LogLine, signal?: AbortSignal): Promise<void> {
    for (const image of new Set(images)) {
      const reference = engineImageName(image).reference;
      // Every build on an image whose name does not say all (NODEJS_12 on Node.js 14) says it.
      const note = this.#recipes.get(reference)?.note;
      if (note !== undefined) onLog(`Note: ${note}`);
      const waiting = this.#ensureOne(reference, onLog);
      await (signal === undefined ? waiting : abortable(waiting, signal));
    }
  }

  async #ensureOne(reference: string, onLog: LogLine): Promise<void> {
    const running = this.#creations.get(reference);
    if (running !== undefined) {
      onLog(`Waiting for base image ${reference}, which another build is preparing`);
      running.listeners.add(onLog);
      try {
        return await running.done;
      } finally {
        running.listeners.delete(onLog);
      }
    }
    const listeners = new Set<LogLine>([onLog]);
    const log: LogLine = (line) => {
      for (const listener of listeners) listener(line);
    };
    // Registered before the first await, so a second caller in the same tick joins this one.
    const done = (async () => {
      if (!(await this.#exists(reference))) await this.#create(reference, log);
    })().finally(() => this.#creations.delete(reference));
    this.#creations.set(reference, { listeners, done });
    return done;
  }

  async #create(reference: string, log: LogLine): Promise<void> {
    const recipe = this.#recipes.get(reference);
    const debian = this.#debian?.image === reference ? this.#debian : undefined;
    if (recipe === undefined && debian === undefined) return this.#pull(reference, log);
    if (recipe !== undefined) {
      // The images it starts FROM first (the Debian base, or another recipe's image: nodejs22
      // starts FROM nodejs), each under its own lock: locks are taken one at a time.
      for (const from of fromImages(recipe.dockerfile)) await this.#ensureOne(from, log);
    }
    const lock = await acquireDirectoryLock(join(this.#lockDir, `${lockName(reference)}.lock`), {
      onWait: (holder) => log(`Waiting for ${holder} to finish preparing base image ${reference}`),
    });
    try {
      // Another process may have made it while this one waited for the lock.
      if (await this.#exists(reference)) return;
      if (debian !== undefined) await this.#bootstrapDebian(debian, log);
      else if (recipe !== undefined) await this.#buildRecipe(recipe, log);
    } finally {
      await lock.release();
    }
  }

  async #exists(reference: string): Promise<boolean> {
    try {
      return (await this.#client.inspectImage(reference)) !== undefined;
    } catch (error) {
      throw new BuildError(`Cannot check for base image ${reference}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  async #pull(reference: string, log: LogLine): Promise<void> {
    log(`Pulling base image ${reference}`);
    const transcript = new BuildTranscript(log);
    try {
      await this.#client.pullImage(reference, { onProgress: transcript.onProgress });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new BuildError(
        `Base image ${reference} is not in the Docker engine and pulling it failed (${reason}). Configure runtime images this machine can pull (a registry it reaches), or use os-packages runtime images, which Berth builds from Debian's packages`,
        { outputTail: transcript.tail() },
      );
    }
  }

  async #buildRecipe(recipe: RuntimeImageRecipe, log: LogLine): Promise<void> {
    const started = Date.now();
    log(`Building base image ${recipe.image} from ${recipe.contents} (once per machine; a few minutes)`);
    const transcript = new BuildTranscript(log);
    try {
      await this.#client.buildImage(createTarArchive([{ type: 'file', path: 'Dockerfile', content: recipe.dockerfile }]), {
        tag: recipe.image,
        labels: { [RUNTIME_IMAGE_LABEL]: recipe.language },
        onProgress: transcript.onProgress,
      });
    } catch (error) {
      throw transcript.failure(error, `Building base image ${recipe.image}`);
    }
    log(`Built base image ${recipe.image} in ${seconds(started)}`);
  }

  async #bootstrapDebian(debian: DebianBaseOptions & { readonly image: string; readonly release: string }, log: LogLine): Promise<void> {
    const program = debian.debootstrap ?? DEFAULT_DEBOOTSTRAP;
    await checkCanBootstrap(program, debian.image);
    const mirror = debian.mirror ?? (await hostDebianMirror()) ?? DEFAULT_DEBIAN_MIRROR;
    const work = await mkdtemp(join(debian.workDirectory ?? tmpdir(), 'berth-debootstrap-'));
    const rootfs = join(work, 'rootfs');
    const started = Date.now();
    try {
      log(`Making base image ${debian.image}: a Debian ${debian.release} root file system with debootstrap from ${mirror} (once per machine)`);
      await runLogged(program, ['--variant=minbase', debian.release, rootfs, mirror], log, `debootstrap of Debian ${debian.release} from ${mirror}`);
      await slimRootFilesystem(rootfs);
      const trusted = await copyHostCertificates(debian.hostCertificates ?? HOST_CERTIFICATES, rootfs);
      if (trusted.length > 0) {
        log(`Trusting the ${trusted.length} certificate authorit${trusted.length === 1 ? 'y' : 'ies'} this host added (${trusted.join(', ')}), so builds reach what the host reaches (a TLS-inspecting proxy, a private registry)`);
      }
      log(`Importing ${debian.image} into the Docker engine`);
      const tar = tarStream(rootfs);
      try {
        await this.#client.importImage(tar, {
          reference: debian.image,
          changes: [
            'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
            // Node.js and pip keep CA lists of their own: point them at the system's, which
            // the recipes' ca-certificates package builds, host authorities included.
            `ENV NODE_EXTRA_CA_CERTS=${SYSTEM_CA_BUNDLE} PIP_CERT=${SYSTEM_CA_BUNDLE} REQUESTS_CA_BUNDLE=${SYSTEM_CA_BUNDLE}`,
            'CMD ["bash"]',
            `LABEL ${RUNTIME_IMAGE_LABEL}=debian`,
          ],
          message: `Debian ${debian.release} (debootstrap --variant=minbase, ${mirror}), made by Berth`,
        });
      } catch (error) {
        const cause = error instanceof Error && error.cause instanceof BuildError ? error.cause : error;
        if (cause instanceof BuildError) throw cause;
        throw new BuildError(`Importing base image ${debian.image} failed: ${cause instanceof Error ? cause.message : String(cause)}`);
      }
      log(`Made base image ${debian.image} in ${seconds(started)}`);
    } finally {
      await removeRootFilesystem(work);
    }
  }
}

export interface OsPackagesImagesOptions extends DebianBaseOptions {
  readonly client: DockerEngineClient;
  readonly lockDir: string;
  /**
   * The machine's architecture as Node.js names it, `process.arch` by default: the Node.js
   * images install `node-linux-<arch>` from the npm registry (the naming of its packages).
   */
  readonly arch?: string;
}

/**
 * "os-packages" mode: the runtime → image map whose images Berth builds from Debian's packages
 * (`berth-runtime/<language>:<release>`, FROM `berth-os/debian:<release>`; the Node.js majors
 * Debian lacks as `berth-runtime/nodejs<major>:<release>` FROM its nodejs image), and the
 * provider that makes them on first use. Throws InvalidRequestException for a release that
 * cannot be a tag.
 */
export function osPackagesImages(options: OsPackagesImagesOptions): { images: RuntimeImageMap; provider: RuntimeImageProvider } {
  const release = options.release ?? DEFAULT_DEBIAN_VERSION;
  const debianImage = options.image ?? debianBaseImage(release);
  const { client, lockDir, arch = process.arch, ...debian } = options;
  const { images, recipes } = osPackagesRuntimeImages({ debianImage, debianVersion: release, nodeBinaryPackage: `node-linux-${arch}` });
  const provider = new RuntimeImageProvider({ client, lockDir, recipes, debian: { ...debian, image: debianImage, release } });
  return { images, provider };
}

/**
 * The Debian mirror the host's apt uses, from `/etc/apt/sources.list.d/*.sources` (deb822) or
 * `/etc/apt/sources.list`: the first `deb` source whose URI ends in `/debian`. Undefined when
 * there is none (a host that is not Debian, or uses only other archives).
 */
export async function hostDebianMirror(aptDirectory = '/etc/apt'): Promise<string | undefined> {
  const texts: string[] = [];
  const listDirectory = join(aptDirectory, 'sources.list.d');
  const names = await readdir(listDirectory).catch(() => [] as string[]);
  for (const name of names.filter((n) => n.endsWith('.sources')).sort()) {
    texts.push(await readFile(join(listDirectory, name), 'utf8').catch(() => ''));
  }
  for (const text of texts) {
    for (const stanza of text.split(/\n\s*\n/)) {
      const fields = new Map<string, string>();
      for (const match of stanza.matchAll(/^([\w-]+):[ \t]*(.*)$/gm)) fields.set((match[1] ?? '').toLowerCase(), match[2] ?? '');
      if (fields.get('enabled')?.trim().toLowerCase() === 'no') continue;
      if (!(fields.get('types') ?? '').split(/\s+/).includes('deb')) continue;
      const mirror = (fields.get('uris') ?? '').split(/\s+/).find(isDebianArchive);
      if (mirror !== undefined) return mirror.replace(/\/+$/, '');
    }
  }
  const list = await readFile(join(aptDirectory, 'sources.list'), 'utf8').catch(() => '');
  for (const line of list.split('\n')) {
    // `deb [options] uri suite components`
    const match = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)/.exec(line);
    if (match?.[1] !== undefined && isDebianArchive(match[1])) return match[1].replace(/\/+$/, '');
  }
  return undefined;
}

function isDebianArchive(uri: string): boolean {
  return /^https?:\/\/.+\/debian\/?$/.test(uri);
}

/** The images a Dockerfile starts FROM, other than `scratch` and its own stages. */
export function fromImages(dockerfile: string): string[] {
  const stages = new Set<string>();
  const images: string[] = [];
  for (const match of dockerfile.matchAll(/^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?\s*$/gim)) {
    const image = match[1] ?? '';
    if (image !== 'scratch' && !stages.has(image.toLowerCase())) images.push(engineImageName(image).reference);
    if (match[2] !== undefined) stages.add(match[2].toLowerCase());
  }
  return images;
}

async function checkCanBootstrap(program: string, image: string): Promise<void> {
  const problems: string[] = [];
  if (process.getuid?.() !== 0) problems.push('debootstrap must run as root and Berth is not running as root');
  try {
    await access(program, constants.X_OK);
  } catch {
    problems.push(`${program} is not installed (apt-get install debootstrap)`);
  }
  if (problems.length === 0) return;
  throw new BuildError(
    `Cannot make base image ${image}: ${problems.join('; ')}. Berth makes the Debian image its os-packages runtime images start from with debootstrap; either fix that, load an image named ${image} into the Docker engine yourself, or configure runtime images the engine can pull instead of os-packages`,
  );
}

/**
 * Drops what debootstrap leaves that no image needs (downloaded packages, package lists: the
 * recipes update them anyway) and, as Debian's own slim images do, keeps dpkg from installing
 * manuals, documentation and translations later.
 */
async function slimRootFilesystem(rootfs: string): Promise<void> {
  for (const directory of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
    const path = join(rootfs, directory);
    const names = await readdir(path).catch(() => [] as string[]);
    await Promise.all(names.filter((name) => name !== 'partial' && name !== 'lock').map((name) => rm(join(path, name), { force: true, recursive: true })));
  }
  await writeFile(
    join(rootfs, 'etc/dpkg/dpkg.cfg.d/berth-slim'),
    [
      '# Written by Berth: no manuals, documentation or translations in runtime images (as debian:*-slim).',
      'path-exclude /usr/share/doc/*',
      'path-include /usr/share/doc/*/copyright',
      'path-exclude /usr/share/man/*',
      'path-exclude /usr/share/groff/*',
      'path-exclude /usr/share/info/*',
      'path-exclude /usr/share/lintian/*',
      'path-exclude /usr/share/linda/*',
      'path-exclude /usr/share/locale/*',
      '',
    ].join('\n'),
  );
}

/** `tar -c` of the root file system, streamed: a failing tar fails the stream rather than ending it early. */
async function* tarStream(rootfs: string): AsyncGenerator<Uint8Array> {
  const child = spawn('tar', ['-C', rootfs, '--numeric-owner', '--one-file-system', '-c', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  const stderr: string[] = [];
  child.stderr.setEncoding('utf8').on('data', (text: string) => stderr.push(text));
  try {
    for await (const chunk of child.stdout) yield chunk as Uint8Array;
    const code = await exited;
    if (code !== 0) throw new BuildError(`tar of the Debian root file system failed (exit ${String(code)}): ${stderr.join('').trim().slice(-500)}`);
  } finally {
    if (child.exitCode === null) child.kill();
  }
}

/** Runs a program (argument array, no shell) with each output line sent to `log`. */
async function runLogged(program: string, args: readonly string[], log: LogLine, what: string): Promise<void> {
  const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  const forward = (line: string): void => {
    tail.push(line);
    if (tail.length > 20) tail.shift();
    log(line);
  };
  createInterface({ input: child.stdout }).on('line', forward);
  createInterface({ input: child.stderr }).on('line', forward);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (exit) => resolve(exit));
  }).catch((error: unknown) => {
    throw new BuildError(`${what} could not start: ${error instanceof Error ? error.message : String(error)}`);
  });
  if (code !== 0) {
    throw new BuildError(`${what} failed with exit code ${String(code)}; last output: ${tail.slice(-3).join(' | ')}`, {
      command: [program, ...args].join(' '),
      outputTail: tail,
    });
  }
}

/**
 * Removes the temporary root file system. debootstrap mounts /proc and /sys inside it and
 * unmounts them when done, but not always when it fails: unmount whatever is still mounted there
 * first, deepest first, so that removing files never reaches into the host's /proc or /sys.
 */
async function removeRootFilesystem(work: string): Promise<void> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const mounts = mountinfo
    .split('\n')
    .map((line) => unescapeMountPath(line.split(' ')[4] ?? ''))
    .filter((point) => point === work || point.startsWith(`${work}/`))
    .sort((a, b) => b.length - a.length);
  for (const point of mounts) {
    await new Promise<void>((resolve) => {
      const child = spawn('umount', ['--lazy', point], { stdio: 'ignore' });
      child.once('error', () => resolve());
      child.once('close', () => resolve());
    });
  }
  const stillMounted = (await readFile('/proc/self/mountinfo', 'utf8').catch(() => '')).includes(` ${work}/`);
  if (stillMounted) throw new BuildError(`Cannot remove ${work}: file systems are still mounted inside it; unmount them and remove it by hand`);
  await rm(work, { recursive: true, force: true });
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_match, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

function lockName(reference: string): string {
  return reference.replace(/[^a-zA-Z0-9_.-]+/g, '_');
}

function seconds(started: number): string {
  return `${((Date.now() - started) / 1000).toFixed(1)} s`;
}

/** Waits for `promise` unless `signal` aborts first; the work itself runs on. */
async function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
  }
}

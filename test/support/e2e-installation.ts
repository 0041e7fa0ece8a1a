/**
 * @module
 * One Berth installation for an end-to-end test file, as a user runs it: a real registry on
 * loopback holding busybox fixture images (./images.ts), `berth up` as a process with a quick
 * reconcile loop, and the official SDK as its client. Closing it cleans up in the order that
 * leaves nothing behind: the services the tests created are deleted and waited for (instances
 * outlive a stopped control plane by design), then Berth, the registry and the images go.
 *
 * ```ts
 * const e2e = new E2eInstallation({ images: { v1: { tag: 'app:1', body: 'v1\n' }, crash: { behaviour: 'exit' } } });
 * before((t) => e2e.start(t));
 * after(() => e2e.close());
 * test('…', async () => {
 *   const reply = await e2e.client.send(new CreateServiceCommand({ ServiceName: 'a', SourceConfiguration: imageSource(e2e.images.v1) }));
 *   e2e.created.push(reply.Service?.ServiceArn as string);
 * });
 * ```
 */
import type { SuiteContext, TestContext } from 'node:test';
import { AppRunnerClient, type SourceConfiguration } from '@aws-sdk/client-apprunner';
import { DockerEngineClient } from '../../src/adapters/docker/engine-client.ts';
import { startBerth, type BerthUp } from './berth-process.ts';
import { requireDocker } from './docker.ts';
import { buildHttpImage, pushImage, type HttpImageOptions } from './images.ts';
import { startRegistry, type TestRegistry } from './registry.ts';
import { deleteServicesAndWait } from './services.ts';

/** A fixture image and where it goes in the registry. */
export interface InstallationImage extends HttpImageOptions {
  /** `<repository>:<tag>` under `<registry>/installation<pid>/`; `<name>:1` by default. */
  tag?: string;
}

export interface InstallationOptions<Name extends string> {
  /** The images to build and push before Berth starts, by the name tests use for them. */
  images: Record<Name, InstallationImage>;
  /** Removes each image from the engine once pushed, so Berth pulls it inside the first operation that needs it. */
  pullFresh?: boolean;
  /** The installation's startup limit (`reconcile.startupTimeoutSeconds`); 20 s by default. */
  startupTimeoutSeconds?: number;
}

/**
 * Built with what the file needs, started by `before`, closed by `after`. `berth`, `client` and
 * `images` throw when read before `start` finished: how a test sees that the setup failed.
 */
export class E2eInstallation<Name extends string> {
  /** The engine, for tests that watch containers; usable before `start`, closed by `close`. */
  readonly docker = new DockerEngineClient();
  /** Services to delete (and wait for) at `close`: push every ARN a test creates. */
  readonly created: string[] = [];
  readonly #options: InstallationOptions<Name>;
  #registry: TestRegistry | undefined;
  #berth: BerthUp | undefined;
  #client: AppRunnerClient | undefined;
  #images: Record<Name, string> | undefined;
  /** Every image built. */
  readonly #built: { reference: string }[] = [];

  constructor(options: InstallationOptions<Name>) {
    this.#options = options;
  }

  /**
   * Builds and pushes the images, then starts Berth; resolves with true. Without a Docker engine
   * it starts nothing, marks `t` skipped (or throws under CI, as `requireDocker` does) and
   * resolves with false.
   */
  async start(t: TestContext | SuiteContext): Promise<boolean> {
    if (!(await requireDocker(t))) return false;
    this.#registry = await startRegistry();
    const images: Partial<Record<Name, string>> = {};
    for (const [name, { tag, ...image }] of Object.entries(this.#options.images) as [Name, InstallationImage][]) {
      const reference = `${this.#registry.host}/installation${process.pid}/${tag ?? `${name}:1`}`;
      await buildHttpImage(this.docker, reference, image);
      this.#built.push({ reference });
      await pushImage(this.docker, reference);
      if (this.#options.pullFresh === true) await this.docker.removeImage(reference, { force: true });
      images[name] = reference;
    }
    this.#images = images as Record<Name, string>;
    // No tag polling: only the tests' own calls deploy, so a tag a test moves is not deployed behind its back.
    this.#berth = await startBerth({
      config: { reconcile: { intervalMs: 250, startupTimeoutSeconds: this.#options.startupTimeoutSeconds ?? 20, stopGraceSeconds: 1 }, build: { pollIntervalSeconds: 0 } },
    });
    this.#client = new AppRunnerClient({ region: this.#berth.region, endpoint: this.#berth.apiUrl, credentials: this.#berth.credentials });
    return true;
  }

  get berth(): BerthUp {
    return this.#started(this.#berth);
  }

  /** The official SDK with the administrator's key. */
  get client(): AppRunnerClient {
    return this.#started(this.#client);
  }

  /** Each image's full reference (`127.0.0.1:<port>/installation<pid>/app:1`), by name. */
  get images(): Readonly<Record<Name, string>> {
    return this.#started(this.#images);
  }

  /** The end of what `berth up` printed, for failure messages; empty before it started. */
  output(): string {
    return this.#berth?.output().slice(-4000) ?? '';
  }

  /**
   * The last warnings and errors `berth up` logged (the router logs each request it failed, and
   * why), for the message of a load test's failure; the full output is mostly request noise.
   */
  warnings(): string {
    const lines = (this.#berth?.output() ?? '').split('\n').filter((line) => / (warn|error) +[\w-]+: /.test(line));
    return lines.slice(-30).join('\n');
  }

  /** Deletes the created services and waits, stops Berth and the registry, removes the images; safe after a failed start. */
  async close(): Promise<void> {
    await deleteServicesAndWait(this.#client, this.created);
    this.#client?.destroy();
    await this.#berth?.stop();
    await this.#registry?.stop();
    // By tag only, never by id: fixture images of the same content share one id across test
    // files (the builder's cache), and removing it under another file building the same image
    // fails that build ("unable to find image sha256:…", seen in CI). An image a test left
    // untagged by moving its tag stays, labelled `berth.test-fixture` for pruning.
    for (const { reference } of this.#built) await this.docker.removeImage(reference, { force: true }).catch(() => undefined);
    await this.docker.close();
  }

  #started<T>(value: T | undefined): T {
    if (value === undefined) throw new Error('The installation did not start: see the before hook (no Docker engine, or its setup failed)');
    return value;
  }
}

/** The source of a service running a fixture image, which listens on 8080. */
export function imageSource(reference: string): SourceConfiguration {
  return { ImageRepository: { ImageIdentifier: reference, ImageRepositoryType: 'ECR', ImageConfiguration: { Port: '8080' } } };
}

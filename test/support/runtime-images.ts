/**
 * @module
 * Berth's os-packages runtime images for tests that build real Node.js or Python services:
 * `berth-runtime/<language>:bookworm`, FROM `berth-os/debian:bookworm` made with debootstrap,
 * and for each Node.js runtime whose major is not Debian's, `berth-runtime/nodejs<major>:bookworm`
 * (NODEJS_22 is the one detected package.json sources get) with that major from the npm registry.
 * The first call on a machine makes them (a few minutes); they stay in the engine, so later
 * calls, and later test runs, only check that they are there. Test files running at once share
 * one creation through the provider's lock directory.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerEngineClient } from '../../src/adapters/docker/engine-client.ts';
import { osPackagesImages, type RuntimeImageProvider } from '../../src/adapters/docker/runtime-images.ts';
import { MANAGED_RUNTIMES, type Language, type RuntimeImageMap } from '../../src/core/build/managed-runtimes.ts';

/** Shared by every test process on the machine, so two files never make the same image at once. */
export const TEST_LOCK_DIR = join(tmpdir(), 'berth-test-locks');

export interface OsRuntimeImages {
  /** The runtime → image map to plan builds with. */
  readonly images: RuntimeImageMap;
  /** The provider to give a DockerBuilder, so images it needs later are made the same way. */
  readonly provider: RuntimeImageProvider;
  /** The client the provider uses; close it when done if this call made it. */
  readonly client: DockerEngineClient;
}

/**
 * Makes sure the runtime images of `languages` (Node.js and Python by default) are in the
 * engine, making what is missing; every progress line goes to `onLog`.
 */
export async function ensureOsRuntimeImages(options: {
  client?: DockerEngineClient;
  languages?: readonly Language[];
  onLog?: (line: string) => void;
} = {}): Promise<OsRuntimeImages> {
  const client = options.client ?? new DockerEngineClient();
  const { images, provider } = osPackagesImages({ client, lockDir: TEST_LOCK_DIR });
  const wanted = new Set<Language>(options.languages ?? ['nodejs', 'python']);
  const references = new Set<string>();
  for (const runtime of MANAGED_RUNTIMES) {
    if (!wanted.has(runtime.language)) continue;
    references.add(images[runtime.apiName].build);
    references.add(images[runtime.apiName].run);
  }
  await provider.ensure([...references], options.onLog ?? (() => undefined));
  return { images, provider, client };
}

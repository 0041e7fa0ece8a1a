/**
 * @module
 * Tiny test images built through the Engine API, since no public registry is reachable: `FROM
 * scratch` plus the host's static busybox (about 2 MB), serving HTTP on `$PORT` with busybox
 * httpd. Variants cover the failures tests need: a process that exits at once, and one that
 * never listens. Any path other than `/` and `/index.html` answers 404 on the serving variant,
 * unless the image is given more `files` (a `healthz` file makes an HTTP health check of
 * `/healthz` pass; without it, the same check fails with 404) or the `slow` endpoint.
 */
import { readFileSync } from 'node:fs';
import type { DockerEngineClient } from '../../src/adapters/docker/engine-client.ts';
import { createTarArchive, type TarEntry } from '../../src/core/tar-archive.ts';

/** Label on every fixture image, to find leftovers: `docker images -f label=berth.test-fixture`. */
export const FIXTURE_LABEL = 'berth.test-fixture';
export const DEFAULT_BODY = 'hello from berth\n';
/** What the `exit` variant writes to stderr before exiting with `EXIT_CODE`. */
export const EXIT_MESSAGE = 'berth-fixture: exiting at once on purpose';
export const EXIT_CODE = 3;
/**
 * The `slow` option's endpoint: a CGI script that sends its response head, sleeps, then sends
 * the image's body. `?<seconds>` sets the sleep (whole seconds, 0 to 60); 2 s by default.
 */
export const SLOW_PATH = '/cgi-bin/slow';

export type HttpImageBehaviour =
  /** Serves /www on $PORT (8080 when unset). */
  | 'serve'
  /** Writes EXIT_MESSAGE to stderr and exits with EXIT_CODE. */
  | 'exit'
  /** Runs but never listens: for health checks that must time out. */
  | 'no-listen';

export interface HttpImageOptions {
  /** Body of /www/index.html; DEFAULT_BODY when absent. */
  body?: string;
  behaviour?: HttpImageBehaviour;
  labels?: Record<string, string>;
  /** More static files under /www, by path relative to it (e.g. `{ healthz: 'ok\n' }`). */
  files?: Record<string, string>;
  /** Adds SLOW_PATH, which answers with the body after a delay: for draining tests. */
  slow?: boolean;
}

/**
 * busybox httpd runs executables under /www/cgi-bin as CGI (with QUERY_STRING set). The head
 * goes out first, so a request cut while it sleeps is a response cut midway, not a refusal; its
 * Content-Length lets a proxy tell a cut body from a complete one (without it, a killed instance
 * closing the connection would end the body early and look like an empty 200). PATH is not set
 * for CGI children: every command names busybox.
 */
const SLOW_SCRIPT = [
  '#!/bin/sh',
  'case "$QUERY_STRING" in',
  "  ''|*[!0-9]*) seconds=2 ;;",
  '  *) seconds=$QUERY_STRING ;;',
  'esac',
  '[ "$seconds" -gt 60 ] && seconds=60',
  "printf 'Content-Type: text/plain\\r\\nContent-Length: %s\\r\\n\\r\\n' \"$(/bin/busybox wc -c < /www/index.html)\"",
  '/bin/busybox sleep "$seconds"',
  '/bin/busybox cat /www/index.html',
  '',
].join('\n');

const COMMANDS: Record<HttpImageBehaviour, string[]> = {
  serve: ['/bin/busybox', 'sh', '-c', 'exec /bin/busybox httpd -f -v -p "${PORT:-8080}" -h /www'],
  exit: ['/bin/busybox', 'sh', '-c', `echo '${EXIT_MESSAGE}' >&2; exit ${EXIT_CODE}`],
  'no-listen': ['/bin/busybox', 'sleep', '3600'],
};

/** The build context: a Dockerfile and a root file system with busybox, /bin/sh and /www. */
export function httpImageContext(options: HttpImageOptions = {}): Buffer {
  const dockerfile = ['FROM scratch', 'COPY rootfs/ /', `CMD ${JSON.stringify(COMMANDS[options.behaviour ?? 'serve'])}`, ''].join('\n');
  const entries: TarEntry[] = [
    { type: 'file', path: 'Dockerfile', content: dockerfile },
    { type: 'directory', path: 'rootfs/bin' },
    { type: 'file', path: 'rootfs/bin/busybox', content: readFileSync('/bin/busybox'), mode: 0o755 },
    // A shell at /bin/sh, for StartCommand (run as `/bin/sh -c <command>`).
    { type: 'symlink', path: 'rootfs/bin/sh', target: 'busybox' },
    { type: 'directory', path: 'rootfs/www' },
    { type: 'file', path: 'rootfs/www/index.html', content: options.body ?? DEFAULT_BODY },
  ];
  for (const [path, content] of Object.entries(options.files ?? {})) {
    if (path.startsWith('/') || path.split('/').includes('..')) throw new Error(`Fixture file path ${JSON.stringify(path)} must be relative to /www, without '..'`);
    entries.push({ type: 'file', path: `rootfs/www/${path}`, content });
  }
  if (options.slow === true) {
    entries.push({ type: 'directory', path: 'rootfs/www/cgi-bin' }, { type: 'file', path: 'rootfs/www/cgi-bin/slow', content: SLOW_SCRIPT, mode: 0o755 });
  }
  return createTarArchive(entries);
}

/** Builds the fixture image as `tag`; resolves with its id. */
export async function buildHttpImage(client: DockerEngineClient, tag: string, options: HttpImageOptions = {}): Promise<{ tag: string; imageId: string }> {
  const { imageId } = await client.buildImage(httpImageContext(options), {
    tag,
    labels: { [FIXTURE_LABEL]: 'true', ...options.labels },
  });
  return { tag, imageId };
}

/** Pushes `tag` (which names its registry, e.g. `127.0.0.1:5000/app:1`); resolves with the manifest digest. */
export async function pushImage(client: DockerEngineClient, tag: string): Promise<{ digest: string }> {
  const { digest } = await client.pushImage(tag);
  if (digest === undefined) throw new Error(`Pushing ${tag} succeeded but the engine reported no digest`);
  return { digest };
}

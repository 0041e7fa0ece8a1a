/**
 * @module
 * Tiny test images built through the Engine API, since no public registry is reachable: `FROM
 * scratch` plus the host's static busybox (about 2 MB), serving HTTP on `$PORT` with busybox
 * httpd. Variants cover the failures tests need: a process that exits at once, and one that
 * never listens. Any path other than `/` and `/index.html` answers 404 on the serving variant,
 * unless the image is given more `files` (a `healthz` file makes an HTTP health check of
 * `/healthz` pass; without it, the same check fails with 404), the `slow` endpoint, or the `work`
 * endpoints: a handler that takes a fixed time and counts how many requests its instance is
 * handling at once, for autoscaling tests.
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

/**
 * The `work` option's endpoint: a CGI script that takes a fixed time (`?<milliseconds>`, 1 to
 * 60000; otherwise `$WORK_MS` as the container started with it; otherwise the option's `ms`,
 * DEFAULT_WORK_MS by default), then answers WORK_BODY. Each instance counts the requests it is
 * handling and the most it ever handled at once, and every response says so in WORK_HEADERS.
 * busybox httpd listens with a backlog of 9: more connections than that opening at once to one
 * instance may wait for a SYN retry (a second), which only matters with a high MaxConcurrency.
 */
export const WORK_PATH = '/cgi-bin/work';
/** Answers the instance's peak concurrency as a line of text; `?reset` sets the peak to the current count first. */
export const PEAK_PATH = '/cgi-bin/peak';
export const WORK_BODY = 'done\n';
export const DEFAULT_WORK_MS = 200;
/** Response headers of WORK_PATH and PEAK_PATH (lower case, as Node reports them). */
export const WORK_HEADERS = {
  /** Requests this instance was handling once this one arrived, itself included. */
  concurrency: 'x-concurrency',
  /** The most requests this instance has handled at once, when this response was written. */
  peak: 'x-peak',
  /** The instance's host name (its container's short id under Docker). */
  instance: 'x-instance',
} as const;

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
  /**
   * Adds WORK_PATH and PEAK_PATH: a handler that takes `ms` (DEFAULT_WORK_MS when absent; the
   * container's `WORK_MS` overrides it) and reports its instance's concurrency. Serve only.
   */
  work?: { ms?: number };
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

/** Where the `work` scripts keep their counters (one set per container) and the lock that guards them. */
const WORK_STATE = '/tmp/berth-work';

/**
 * Shell functions both `work` scripts share. busybox httpd forks one CGI process per request,
 * so the count lives in files; `mkdir` either creates the lock directory or fails, atomically,
 * so it serialises the read-modify-write of the counters. The lock is held for a few file reads
 * and writes, never across the sleep or any output, so a client that goes away cannot leave it
 * held. `read`, `echo` and `printf` are shell builtins: besides the sleep, only the lock forks.
 */
const WORK_FUNCTIONS = [
  `state=${WORK_STATE}`,
  'lock() { until /bin/busybox mkdir "$state/lock" 2>/dev/null; do /bin/busybox usleep 1000; done; }',
  'unlock() { /bin/busybox rmdir "$state/lock"; }',
  // load NAME: sets $v to the counter NAME (0 when it was never written).
  'load() { v=0; [ -f "$state/$1" ] && read -r v < "$state/$1"; v=${v:-0}; }',
  'read -r host < /etc/hostname',
  // send_head LENGTH CONCURRENCY PEAK
  'send_head() {',
  `  printf 'Content-Type: text/plain\\r\\nContent-Length: %s\\r\\nCache-Control: no-store\\r\\n${WORK_HEADERS.concurrency}: %s\\r\\n${WORK_HEADERS.peak}: %s\\r\\n${WORK_HEADERS.instance}: %s\\r\\n\\r\\n' "$1" "$2" "$3" "$host"`,
  '}',
];

/** WORK_PATH: count in, update the peak, sleep, count out, answer. */
function workScript(defaultMs: number): string {
  return [
    '#!/bin/sh',
    ...WORK_FUNCTIONS,
    'ms=$QUERY_STRING',
    'case "$ms" in',
    "  ''|*[!0-9]*) load ms; ms=$v ;;",
    'esac',
    'case "$ms" in',
    `  ''|*[!0-9]*|0) ms=${defaultMs} ;;`,
    'esac',
    '[ "$ms" -gt 60000 ] && ms=60000',
    'lock',
    'load now; now=$((v + 1)); echo "$now" > "$state/now"',
    'load peak; [ "$now" -gt "$v" ] && echo "$now" > "$state/peak"',
    'unlock',
    // busybox sleep takes fractions of a second.
    `/bin/busybox sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"`,
    'lock',
    'load now; echo "$((v - 1))" > "$state/now"',
    'load peak; peak=$v',
    'unlock',
    `send_head ${Buffer.byteLength(WORK_BODY)} "$now" "$peak"`,
    `printf '${WORK_BODY.replace('\n', '\\n')}'`,
    '',
  ].join('\n');
}

/** PEAK_PATH: the peak as a line; `?reset` lowers it to the current count first. */
const PEAK_SCRIPT = [
  '#!/bin/sh',
  ...WORK_FUNCTIONS,
  'lock',
  'load now; now=$v',
  '[ "$QUERY_STRING" = reset ] && echo "$now" > "$state/peak"',
  'load peak; peak=$v',
  'unlock',
  'send_head "$((${#peak} + 1))" "$now" "$peak"',
  'echo "$peak"',
  '',
].join('\n');

/** How the serve behaviour starts busybox httpd. */
const SERVE_SCRIPT = 'exec /bin/busybox httpd -f -v -p "${PORT:-8080}" -h /www';

const COMMANDS: Record<HttpImageBehaviour, string[]> = {
  serve: ['/bin/busybox', 'sh', '-c', SERVE_SCRIPT],
  exit: ['/bin/busybox', 'sh', '-c', `echo '${EXIT_MESSAGE}' >&2; exit ${EXIT_CODE}`],
  'no-listen': ['/bin/busybox', 'sleep', '3600'],
};

/** The build context: a Dockerfile and a root file system with busybox, /bin/sh and /www. */
export function httpImageContext(options: HttpImageOptions = {}): Buffer {
  const behaviour = options.behaviour ?? 'serve';
  if (options.work !== undefined && behaviour !== 'serve') throw new Error(`The work option needs the serve behaviour, not ${JSON.stringify(behaviour)}`);
  const workMs = options.work?.ms ?? DEFAULT_WORK_MS;
  if (!Number.isInteger(workMs) || workMs < 1 || workMs > 60_000) throw new Error(`work.ms is ${workMs}; expected whole milliseconds from 1 to 60000`);
  // busybox httpd clears the environment of its CGI children, so WORK_MS goes to them in a file.
  const command = options.work === undefined
    ? COMMANDS[behaviour]
    : ['/bin/busybox', 'sh', '-c', `/bin/busybox mkdir -p ${WORK_STATE} && echo "\${WORK_MS:-}" > ${WORK_STATE}/ms && ${SERVE_SCRIPT}`];
  const dockerfile = ['FROM scratch', 'COPY rootfs/ /', `CMD ${JSON.stringify(command)}`, ''].join('\n');
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
  if (options.work !== undefined) {
    if (options.slow !== true) entries.push({ type: 'directory', path: 'rootfs/www/cgi-bin' });
    entries.push(
      { type: 'directory', path: 'rootfs/tmp', mode: 0o1777 },
      { type: 'file', path: `rootfs/www${WORK_PATH}`, content: workScript(workMs), mode: 0o755 },
      { type: 'file', path: `rootfs/www${PEAK_PATH}`, content: PEAK_SCRIPT, mode: 0o755 },
    );
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

/** A fixture container run directly through the Engine API, without Berth. */
export interface BareContainer {
  id: string;
  /** `<ip>:<port>` on the engine's default bridge network, which the host reaches directly. */
  address: string;
  /** Removes the container, running or not. */
  remove(): Promise<void>;
}

/**
 * Creates and starts a container of `image` (already in the engine) on the default bridge
 * network, as a bare `docker run` would: the baseline a cold start through Berth is compared
 * with. Resolves once it runs, not once it answers; labelled FIXTURE_LABEL for leftovers.
 */
export async function runBareContainer(client: DockerEngineClient, image: string, options: { name: string; env?: Record<string, string>; port?: number }): Promise<BareContainer> {
  const port = options.port ?? 8080;
  const { id } = await client.createContainer(options.name, {
    Image: image,
    Env: Object.entries({ PORT: String(port), ...options.env }).map(([name, value]) => `${name}=${value}`),
    Labels: { [FIXTURE_LABEL]: 'true' },
    HostConfig: { NetworkMode: 'bridge' },
  });
  const remove = (): Promise<void> => client.removeContainer(id, { force: true }).catch(() => undefined);
  try {
    await client.startContainer(id);
    const ip = (await client.inspectContainer(id))?.NetworkSettings.Networks.bridge?.IPAddress;
    if (ip === undefined || ip === '') throw new Error(`Container ${id} of ${image} runs but has no address on the bridge network`);
    return { id, address: `${ip}:${port}`, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}

/**
 * @module
 * Berth's configuration: defaults, then the configuration file, then command-line flags;
 * validated once at start with messages that name the bad value, then frozen. Only the
 * composition roots read the environment; they pass what they found in here.
 */
import { invalidRequest } from './errors.ts';
import { SETTING_LIMITS, type ServiceSettings } from './service-settings.ts';

export interface BerthConfig {
  /** The data directory (`$BERTH_HOME`, default `~/.berth`). */
  home: string;
  region: string;
  accountId: string;
  /** Services are reachable at `<name>-<short id>.<domain>`. */
  domain: string;
  api: { host: string; port: number };
  /**
   * `requestTimeoutSeconds` and `idleTimeoutSeconds`: the defaults of services' own settings
   * (`Berth.UpdateServiceSettings`), and what the router applies to anything else.
   */
  router: { host: string; httpPort: number; httpsPort: number; requestTimeoutSeconds: number; idleTimeoutSeconds: number };
  docker: { socket: string };
  /**
   * What runs instances: `docker` (the Engine API), `process` (local processes: source services
   * only, weaker isolation), or `auto`: Docker when its socket answers at start, else processes.
   */
  runtime: { kind: 'auto' | 'docker' | 'process' };
  /**
   * Builds of source-code services. `runtimeImages`: `os-packages` builds each managed
   * runtime's base image from Debian's packages (no public registry needed), `public` pulls
   * public images (node:22-bookworm, ...); `runtimeImageOverrides` maps API runtime names to
   * images of your own. `pollIntervalSeconds`: how often branches with automatic deployments
   * are checked for new commits when no webhook arrives (0: never). `debianMirror`: where
   * os-packages images get their packages; '' means the host's own apt mirror.
   */
  build: {
    timeoutSeconds: number;
    runtimeImages: 'os-packages' | 'public';
    runtimeImageOverrides: Record<string, unknown>;
    debianMirror: string;
    pollIntervalSeconds: number;
    /**
     * The bearer token registry notifications (POST /webhooks/registry) must carry; '' turns
     * them off. Set the same token in the registry's `notifications.endpoints[].headers`.
     */
    registryNotificationToken: string;
  };
  /**
   * `startupTimeoutSeconds`, `ephemeralStorageMb` and `scaleToZeroIdleSeconds`: the defaults of
   * services' own settings. `stopGraceSeconds`: SIGTERM to SIGKILL when an instance stops.
   */
  reconcile: { intervalMs: number; startupTimeoutSeconds: number; stopGraceSeconds: number; ephemeralStorageMb: number; scaleToZeroIdleSeconds: number };
  /** App Runner's per-account quotas (app-runner-api.md §5.1), adjustable here. */
  quotas: Quotas;
}

export interface Quotas {
  services: number;
  connections: number;
  autoScalingConfigurations: number;
  autoScalingConfigurationRevisions: number;
  observabilityConfigurations: number;
  observabilityConfigurationRevisions: number;
  vpcConnectors: number;
  vpcIngressConnections: number;
  customDomainsPerService: number;
}

/** App Runner's default quotas (§5.1). */
export const DEFAULT_QUOTAS: Readonly<Quotas> = {
  services: 30,
  connections: 10,
  autoScalingConfigurations: 10,
  autoScalingConfigurationRevisions: 5,
  observabilityConfigurations: 10,
  observabilityConfigurationRevisions: 10,
  vpcConnectors: 10,
  vpcIngressConnections: 1,
  customDomainsPerService: 5,
};

export type ConfigInput = { [K in keyof BerthConfig]?: BerthConfig[K] extends object ? Partial<BerthConfig[K]> : BerthConfig[K] };

export function defaultConfig(home: string): BerthConfig {
  return {
    home,
    region: 'us-east-1',
    accountId: '000000000000',
    // Every name under .localhost resolves to loopback without any DNS setup (RFC 6761 §6.3).
    domain: 'localhost',
    api: { host: '127.0.0.1', port: 8900 },
    router: { host: '0.0.0.0', httpPort: 8080, httpsPort: 8443, requestTimeoutSeconds: 120, idleTimeoutSeconds: 120 },
    docker: { socket: '/var/run/docker.sock' },
    runtime: { kind: 'auto' },
    build: { timeoutSeconds: 1800, runtimeImages: 'os-packages', runtimeImageOverrides: {}, debianMirror: '', pollIntervalSeconds: 60, registryNotificationToken: '' },
    reconcile: { intervalMs: 1000, startupTimeoutSeconds: 300, stopGraceSeconds: 10, ephemeralStorageMb: 3072, scaleToZeroIdleSeconds: 90 },
    quotas: { ...DEFAULT_QUOTAS },
  };
}

/** The installation's defaults of services' own settings. */
export function defaultServiceSettings(config: BerthConfig): ServiceSettings {
  return {
    requestTimeoutSeconds: config.router.requestTimeoutSeconds,
    idleTimeoutSeconds: config.router.idleTimeoutSeconds,
    startupTimeoutSeconds: config.reconcile.startupTimeoutSeconds,
    ephemeralStorageMb: config.reconcile.ephemeralStorageMb,
    scaleToZeroIdleSeconds: config.reconcile.scaleToZeroIdleSeconds,
  };
}

/** The files and sockets under the data directory. */
export function berthPaths(home: string) {
  return {
    database: `${home}/berth.db`,
    credentials: `${home}/credentials`,
    masterKey: `${home}/master.key`,
    awsConfig: `${home}/config`,
    caDir: `${home}/ca`,
    caCertificate: `${home}/ca/ca.crt`,
    runDir: `${home}/run`,
    controlSocket: `${home}/run/control.sock`,
    routesCache: `${home}/run/routes.json`,
    controlPlanePid: `${home}/run/control-plane.pid`,
    routerPid: `${home}/run/router.pid`,
    configFile: `${home}/berth.json`,
    gitCache: `${home}/git-cache`,
    buildWork: `${home}/builds`,
    processRoot: `${home}/process`,
  } as const;
}

const SECTIONS = {
  api: ['host', 'port'],
  router: ['host', 'httpPort', 'httpsPort', 'requestTimeoutSeconds', 'idleTimeoutSeconds'],
  docker: ['socket'],
  runtime: ['kind'],
  build: ['timeoutSeconds', 'runtimeImages', 'runtimeImageOverrides', 'debianMirror', 'pollIntervalSeconds', 'registryNotificationToken'],
  reconcile: ['intervalMs', 'startupTimeoutSeconds', 'stopGraceSeconds', 'ephemeralStorageMb', 'scaleToZeroIdleSeconds'],
  quotas: Object.keys(DEFAULT_QUOTAS) as (keyof Quotas)[],
} as const;
const TOP = ['home', 'region', 'accountId', 'domain'] as const;

/** Merges layers (later wins) over the defaults and validates the result. */
export function resolveConfig(home: string, ...layers: ConfigInput[]): Readonly<BerthConfig> {
  const config = defaultConfig(home);
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer)) {
      if (value === undefined) continue;
      if ((TOP as readonly string[]).includes(key)) {
        (config as unknown as Record<string, unknown>)[key] = value;
      } else if (key in SECTIONS) {
        const allowed = SECTIONS[key as keyof typeof SECTIONS] as readonly string[];
        if (typeof value !== 'object' || value === null) throw invalidRequest(`Configuration '${key}' must be an object with ${allowed.join(', ')}`);
        for (const [sub, subValue] of Object.entries(value)) {
          if (!allowed.includes(sub)) throw invalidRequest(`Unknown configuration '${key}.${sub}'; '${key}' takes ${allowed.join(', ')}`);
          if (subValue !== undefined) (config[key as keyof typeof SECTIONS] as Record<string, unknown>)[sub] = subValue;
        }
      } else {
        throw invalidRequest(`Unknown configuration '${key}'; known: ${[...TOP, ...Object.keys(SECTIONS)].join(', ')}`);
      }
    }
  }
  validate(config);
  return deepFreeze(config);
}

function validate(c: BerthConfig): void {
  const port = (name: string, value: unknown): void => {
    if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 65535) {
      throw invalidRequest(`Configuration '${name}' is ${JSON.stringify(value)}; expected a port number from 0 to 65535`);
    }
  };
  const positive = (name: string, value: unknown): void => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw invalidRequest(`Configuration '${name}' is ${JSON.stringify(value)}; expected a positive number`);
    }
  };
  const text = (name: string, value: unknown, pattern: RegExp, form: string): void => {
    if (typeof value !== 'string' || !pattern.test(value)) throw invalidRequest(`Configuration '${name}' is ${JSON.stringify(value)}; expected ${form}`);
  };
  text('home', c.home, /^\//, 'an absolute path');
  text('region', c.region, /^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS-style region name such as us-east-1');
  text('accountId', c.accountId, /^\d{12}$/, 'exactly 12 digits');
  text('domain', c.domain, /^(?=.{1,200}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/, 'a lower-case DNS name such as localhost or apps.example.com');
  text('api.host', c.api.host, /^[^\s/]+$/, 'a host name or IP address');
  text('router.host', c.router.host, /^[^\s/]+$/, 'a host name or IP address');
  text('docker.socket', c.docker.socket, /^\//, 'an absolute path to the Docker engine socket');
  port('api.port', c.api.port);
  port('router.httpPort', c.router.httpPort);
  port('router.httpsPort', c.router.httpsPort);
  const between = (name: string, value: unknown, min: number, max: number): void => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw invalidRequest(`Configuration '${name}' is ${JSON.stringify(value)}; expected a whole number from ${min} to ${max}`);
    }
  };
  between('router.requestTimeoutSeconds', c.router.requestTimeoutSeconds, SETTING_LIMITS.requestTimeoutSeconds.min, SETTING_LIMITS.requestTimeoutSeconds.max);
  between('router.idleTimeoutSeconds', c.router.idleTimeoutSeconds, SETTING_LIMITS.idleTimeoutSeconds.min, SETTING_LIMITS.idleTimeoutSeconds.max);
  between('reconcile.ephemeralStorageMb', c.reconcile.ephemeralStorageMb, SETTING_LIMITS.ephemeralStorageMb.min, SETTING_LIMITS.ephemeralStorageMb.max);
  between('reconcile.scaleToZeroIdleSeconds', c.reconcile.scaleToZeroIdleSeconds, SETTING_LIMITS.scaleToZeroIdleSeconds.min, SETTING_LIMITS.scaleToZeroIdleSeconds.max);
  const oneOf = (name: string, value: unknown, allowed: readonly string[]): void => {
    if (typeof value !== 'string' || !allowed.includes(value)) throw invalidRequest(`Configuration '${name}' is ${JSON.stringify(value)}; expected one of ${allowed.join(', ')}`);
  };
  oneOf('runtime.kind', c.runtime.kind, ['auto', 'docker', 'process']);
  oneOf('build.runtimeImages', c.build.runtimeImages, ['os-packages', 'public']);
  positive('build.timeoutSeconds', c.build.timeoutSeconds);
  text('build.debianMirror', c.build.debianMirror, /^(https?:\/\/[^\s]+)?$/, "an http:// or https:// Debian mirror URL, or '' for the host's own");
  if (typeof c.build.runtimeImageOverrides !== 'object' || c.build.runtimeImageOverrides === null || Array.isArray(c.build.runtimeImageOverrides)) {
    throw invalidRequest(`Configuration 'build.runtimeImageOverrides' is ${JSON.stringify(c.build.runtimeImageOverrides)}; expected an object mapping runtime names (NODEJS_22, ...) to images`);
  }
  text('build.registryNotificationToken', c.build.registryNotificationToken, /^([\x21-\x7e]{16,512})?$/, "'' (notifications off) or a token of 16 to 512 printable characters");
  if (!Number.isInteger(c.build.pollIntervalSeconds) || c.build.pollIntervalSeconds < 0) {
    throw invalidRequest(`Configuration 'build.pollIntervalSeconds' is ${JSON.stringify(c.build.pollIntervalSeconds)}; expected 0 (never) or a whole number of seconds`);
  }
  positive('reconcile.intervalMs', c.reconcile.intervalMs);
  positive('reconcile.startupTimeoutSeconds', c.reconcile.startupTimeoutSeconds);
  if (c.reconcile.startupTimeoutSeconds > SETTING_LIMITS.startupTimeoutSeconds.max) {
    throw invalidRequest(`Configuration 'reconcile.startupTimeoutSeconds' is ${c.reconcile.startupTimeoutSeconds}; expected at most ${SETTING_LIMITS.startupTimeoutSeconds.max}`);
  }
  if (typeof c.reconcile.stopGraceSeconds !== 'number' || c.reconcile.stopGraceSeconds < 0) {
    throw invalidRequest(`Configuration 'reconcile.stopGraceSeconds' is ${JSON.stringify(c.reconcile.stopGraceSeconds)}; expected 0 or more seconds`);
  }
  for (const [name, value] of Object.entries(c.quotas)) {
    if (!Number.isInteger(value) || value < 1) {
      throw invalidRequest(`Configuration 'quotas.${name}' is ${JSON.stringify(value)}; expected a whole number of at least 1`);
    }
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

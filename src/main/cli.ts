/**
 * @module
 * The `berth` command. `berth up` runs the control plane and the router as two child
 * processes and supervises them (a crashed one is restarted; Ctrl-C stops both cleanly);
 * `berth control-plane` and `berth router` run one of them in the foreground; `berth iam`
 * manages users, keys and policies through the API; `berth status`, `operations`, `build-log`,
 * `events` and `settings` show and change a service through it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { BerthError } from '../core/errors.ts';
import { berthPaths, resolveConfig, type BerthConfig, type ConfigInput } from '../core/config.ts';
import { IAM_COMMANDS_HELP, runIamCommand } from './iam-command.ts';
import { log, setLogLevel } from './log.ts';
import { runServiceCommand, SERVICE_COMMANDS_HELP } from './service-command.ts';

const USAGE = `Usage: berth <command> [options]

Commands:
  up              Start the control plane and the router (foreground; Ctrl-C stops both)
  control-plane   Run only the control plane (API, store, reconciler)
  router          Run only the router (HTTPS, routing to instances)
  iam             Users, access keys and policies (berth iam help lists the subcommands)
  status          A service's instances (desired, current, ready) and the autoscaler's last decision
  operations      A service's operations and why each ended as it did
  build-log       The build output of a deployment from source (--follow while it runs)
  events          A service's event log: deployments, instances and why they stopped
  settings        A service's timeouts, ephemeral storage limit and scale-to-zero idle period, shown or changed
  help            Show this help

Options (each overrides the configuration file):
  --home <dir>           Data directory (default $BERTH_HOME or ~/.berth)
  --config <file>        Configuration file (default <home>/berth.json when present)
  --api-host <host>      Address the API listens on (default 127.0.0.1)
  --api-port <port>      API port (default 8900)
  --router-host <host>   Address the router listens on (default 0.0.0.0)
  --http-port <port>     Router HTTP port, which redirects to HTTPS (default 8080)
  --https-port <port>    Router HTTPS port (default 8443)
  --domain <domain>      Services are served at <name>-<id>.<domain> (default localhost)
  --region <region>      Region in ARNs and SigV4 scopes (default us-east-1)
  --docker-socket <path> Docker engine socket (default /var/run/docker.sock)
  --verbose              Log every API request
  --endpoint <url>       berth iam, status, operations, build-log, events, settings: the API to call
                         (default the configured API address)

${IAM_COMMANDS_HELP}

${SERVICE_COMMANDS_HELP}
`;

const OPTIONS = {
  home: { type: 'string' },
  config: { type: 'string' },
  'api-host': { type: 'string' },
  'api-port': { type: 'string' },
  'router-host': { type: 'string' },
  'http-port': { type: 'string' },
  'https-port': { type: 'string' },
  domain: { type: 'string' },
  region: { type: 'string' },
  'docker-socket': { type: 'string' },
  verbose: { type: 'boolean' },
  // berth iam, status, operations, build-log, events, settings
  endpoint: { type: 'string' },
  follow: { type: 'boolean' },
  limit: { type: 'string' },
  'request-timeout': { type: 'string' },
  'idle-timeout': { type: 'string' },
  'startup-timeout': { type: 'string' },
  'ephemeral-storage': { type: 'string' },
  'scale-to-zero-idle': { type: 'string' },
  default: { type: 'string', multiple: true },
  status: { type: 'string' },
  document: { type: 'string' },
  duration: { type: 'string' },
  // How `berth up` hands its resolved configuration to its children.
  'resolved-config': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Flags = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** The configuration from defaults, file and flags. Exported for tests. */
export function configFromFlags(flags: Flags, env: NodeJS.ProcessEnv): Readonly<BerthConfig> {
  if (flags['resolved-config'] !== undefined) {
    const parsed = JSON.parse(flags['resolved-config']) as BerthConfig;
    return resolveConfig(parsed.home, parsed);
  }
  const home = resolve(flags.home ?? env.BERTH_HOME ?? `${homedir()}/.berth`);
  const file = flags.config ?? berthPaths(home).configFile;
  let fromFile: ConfigInput = {};
  if (flags.config !== undefined || existsSync(file)) {
    try {
      fromFile = JSON.parse(readFileSync(file, 'utf8')) as ConfigInput;
    } catch (error) {
      throw new BerthError('InvalidRequestException', `Cannot read the configuration file ${file}: ${(error as Error).message}`);
    }
  }
  const port = (name: string, value: string | undefined): number | undefined => {
    if (value === undefined) return undefined;
    if (!/^\d+$/.test(value)) throw new BerthError('InvalidRequestException', `--${name} is '${value}'; expected a port number`);
    return Number(value);
  };
  const fromFlags: ConfigInput = {
    domain: flags.domain,
    region: flags.region,
    api: { host: flags['api-host'], port: port('api-port', flags['api-port']) },
    router: { host: flags['router-host'], httpPort: port('http-port', flags['http-port']), httpsPort: port('https-port', flags['https-port']) },
    docker: { socket: flags['docker-socket'] },
  };
  return resolveConfig(home, { ...fromFile, home }, fromFlags);
}

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  } catch (error) {
    // An unknown flag or one without its value is a usage mistake: said plainly, status 2.
    if (!String((error as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS_')) throw error;
    process.stderr.write(`berth: ${(error as Error).message}\nberth help lists the commands and their options\n`);
    return 2;
  }
  const { values: flags, positionals } = parsed;
  const command = positionals[0] ?? 'help';
  if (flags.help || command === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (flags.verbose) setLogLevel('debug');
  const config = configFromFlags(flags, process.env);
  switch (command) {
    case 'up':
      return up(config, argv);
    case 'control-plane':
      return runControlPlane(config);
    case 'router':
      return runRouter(config);
    case 'iam':
      return runIamCommand(positionals.slice(1), flags, config, {
        env: process.env,
        readStdin,
        stdout: (text) => process.stdout.write(text),
        stderr: (text) => process.stderr.write(text),
      });
    case 'status':
    case 'operations':
    case 'build-log':
    case 'events':
    case 'settings':
      return runServiceCommand(command, positionals.slice(1), flags, config, {
        env: process.env,
        stdout: (text) => process.stdout.write(text),
        stderr: (text) => process.stderr.write(text),
      });
    default:
      process.stderr.write(`berth: unknown command '${command}'\n\n${USAGE}`);
      return 2;
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Runs until SIGINT/SIGTERM, then stops cleanly. */
async function untilSignal(stop: () => Promise<void>): Promise<number> {
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  log('info', 'berth', `${signal}: stopping`);
  await stop();
  return 0;
}

async function runControlPlane(config: Readonly<BerthConfig>): Promise<number> {
  const { startControlPlane } = await import('./control-plane.ts');
  const cp = await startControlPlane(config);
  log('info', 'control-plane', `API listening at ${cp.apiUrl}`);
  process.send?.({ ready: 'control-plane', apiUrl: cp.apiUrl });
  return untilSignal(() => cp.stop());
}

async function runRouter(config: Readonly<BerthConfig>): Promise<number> {
  const { startRouterProcess } = await import('./router.ts');
  const router = await startRouterProcess(config);
  log('info', 'router', `HTTPS on port ${router.httpsPort}, HTTP (redirect) on port ${router.httpPort}`);
  process.send?.({ ready: 'router', httpPort: router.httpPort, httpsPort: router.httpsPort });
  return untilSignal(() => router.stop());
}

interface Ready {
  ready: 'control-plane' | 'router';
  apiUrl?: string;
  httpPort?: number;
  httpsPort?: number;
}

/** `berth up`: both processes as supervised children. */
async function up(config: Readonly<BerthConfig>, argv: string[]): Promise<number> {
  const entry = fileURLToPath(import.meta.url);
  const childArgs = ['--resolved-config', JSON.stringify(config), ...(argv.includes('--verbose') ? ['--verbose'] : [])];
  let stopping = false;
  const children = new Map<string, ChildProcess>();
  const readyOnce = new Map<string, Ready>();
  let announced = false;

  const launch = (role: 'control-plane' | 'router', attempt: number): void => {
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', entry, role, ...childArgs], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.set(role, child);
    child.on('message', (message: Ready) => {
      if (message.ready !== role) return;
      readyOnce.set(role, message);
      attempt = 0;
      if (!announced && readyOnce.size === 2) {
        announced = true;
        announce(config, readyOnce);
      }
    });
    child.once('exit', (code, signal) => {
      children.delete(role);
      if (stopping) return;
      // Restart with capped backoff: the control plane is safe to restart at any moment, and
      // the router serves its cached routes again as soon as it is back.
      const delay = Math.min(200 * 2 ** attempt, 5000);
      log('warn', 'berth', `${role} exited (${signal ?? `code ${code}`}); restarting in ${delay} ms`);
      setTimeout(() => {
        if (!stopping) launch(role, attempt + 1);
      }, delay);
    });
  };
  launch('router', 0);
  launch('control-plane', 0);

  return untilSignal(async () => {
    stopping = true;
    await Promise.all(
      [...children.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
            child.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
  });
}

function announce(config: Readonly<BerthConfig>, ready: Map<string, Ready>): void {
  const paths = berthPaths(config.home);
  const cp = ready.get('control-plane');
  const router = ready.get('router');
  const httpsPort = router?.httpsPort ?? config.router.httpsPort;
  const httpPort = router?.httpPort ?? config.router.httpPort;
  const endpoint = cp?.apiUrl ?? `http://${config.api.host}:${config.api.port}`;
  process.stdout.write(`
Berth is up.
  API endpoint     ${endpoint}  (App Runner API, region ${config.region})
  Services         https://<name>-<id>.${config.domain}:${httpsPort}  (http://...:${httpPort} redirects to HTTPS)
  Credentials      ${paths.credentials}  (AWS profile "default"), region in ${paths.awsConfig}
  CA certificate   ${paths.caCertificate}  (curl --cacert ${paths.caCertificate} ...)

Try:
  AWS_SHARED_CREDENTIALS_FILE=${paths.credentials} AWS_CONFIG_FILE=${paths.awsConfig} \\
    aws apprunner list-services --endpoint-url ${endpoint}

Ctrl-C stops Berth; running services keep their containers and come back with it.
`);
}

/** Runs the command line and exits with its status. */
export function run(argv: string[]): void {
  main(argv).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`berth: ${error instanceof BerthError ? error.message : ((error as Error).stack ?? String(error))}\n`);
      process.exit(1);
    },
  );
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) run(process.argv.slice(2));

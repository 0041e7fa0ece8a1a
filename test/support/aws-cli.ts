/**
 * @module
 * Debian's AWS CLI v2 (2.9.19, at /usr/bin/aws; the `aws` on PATH may be another one) as a test
 * client: run with argument arrays, never through a shell, with credentials in its environment
 * and nothing read from the user's profile. Without the CLI a test skips on a developer's
 * machine and fails in CI, like the Docker tests.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { SuiteContext, TestContext } from 'node:test';
import type { Endpoint } from './signed-request.ts';

export const AWS_CLI = '/usr/bin/aws';
/** The App Runner model that CLI ships; it is older than the SDK's (app-runner-api.md §5.8). */
export const CLI_APPRUNNER_MODEL = '/usr/lib/python3/dist-packages/awscli/botocore/data/apprunner/2020-05-15/service-2.json';

/** Why the CLI cannot be used, or undefined when it and its App Runner model are there. */
export function awsCliUnavailableReason(): string | undefined {
  if (!existsSync(AWS_CLI)) return `${AWS_CLI} is missing; install Debian's awscli package (apt-get install awscli)`;
  if (!existsSync(CLI_APPRUNNER_MODEL)) return `${CLI_APPRUNNER_MODEL} is missing; ${AWS_CLI} is not Debian's AWS CLI v2`;
  return undefined;
}

/** For a suite's `skip` option: false when the CLI is there, the reason otherwise; throws when `CI` is set. */
export function awsCliSkip(): string | false {
  const reason = awsCliUnavailableReason();
  if (reason === undefined) return false;
  if (process.env.CI) throw new Error(`This test needs the AWS CLI and CI must not skip it: ${reason}`);
  return reason;
}

/** True when the test can go on; otherwise skips it (or throws when `CI` is set). */
export function requireAwsCli(t: TestContext | SuiteContext): boolean {
  const skip = awsCliSkip();
  if (skip === false) return true;
  if (!('skip' in t)) throw new Error(`${skip}; a suite cannot skip from a hook, give it { skip: awsCliSkip() }`);
  t.skip(skip);
  return false;
}

/** The operations the CLI's App Runner model knows, by their API names. */
export function cliModelOperations(modelPath: string = CLI_APPRUNNER_MODEL): string[] {
  const model = JSON.parse(readFileSync(modelPath, 'utf8')) as { operations: Record<string, unknown> };
  return Object.keys(model.operations).sort();
}

/** The CLI's command for an operation, as botocore derives it: `CreateVpcConnector` → `create-vpc-connector`. */
export function cliCommandName(operation: string): string {
  return operation
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1-$2')
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .toLowerCase();
}

export interface CliResult {
  /** The exit code: 0, 252 (the CLI refused the arguments), 254 (the service answered an error), ... */
  code: number;
  stdout: string;
  stderr: string;
}

export interface AwsCli {
  /** Runs `aws apprunner <command> <args...> --endpoint-url ... --output json`. */
  run(command: string, args?: readonly string[]): Promise<CliResult>;
  /** Every App Runner command run so far, whatever its outcome. */
  readonly commands: ReadonlySet<string>;
}

export function awsCli(endpoint: Endpoint, options: { timeoutMs?: number } = {}): AwsCli {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    LANG: 'C.UTF-8',
    AWS_ACCESS_KEY_ID: endpoint.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: endpoint.credentials.secretAccessKey,
    AWS_DEFAULT_REGION: endpoint.region,
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
  };
  const commands = new Set<string>();
  return {
    commands,
    run(command, args = []) {
      commands.add(command);
      const argv = ['apprunner', command, ...args, '--endpoint-url', endpoint.apiUrl, '--output', 'json'];
      return new Promise((resolve, reject) => {
        execFile(AWS_CLI, argv, { env, timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
          if (error === null) return resolve({ code: 0, stdout, stderr });
          // A number is the exit code; anything else (ENOENT, a timeout's signal) is a broken run.
          if (typeof error.code === 'number') return resolve({ code: error.code, stdout, stderr });
          reject(new Error(`aws ${argv.slice(0, 2).join(' ')} did not run: ${error.message}\n${stderr}`));
        });
      });
    },
  };
}

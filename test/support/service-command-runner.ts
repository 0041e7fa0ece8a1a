/**
 * @module
 * `berth status`, `events`, `settings` and the other service commands (src/main/service-command.ts)
 * run in-process against an API harness's control plane, as the CLI runs them: signed with the
 * administrator's key from the environment, printing to stdout and stderr, which are kept.
 */
import { runServiceCommand, type ServiceCommand, type ServiceCommandFlags } from '../../src/main/service-command.ts';
import type { ApiHarness } from './api-harness.ts';

export interface ServiceCommandRunner {
  /** Runs the command with `args` and `flags` (the harness's API as `--endpoint`); resolves with its exit status. */
  run(args: readonly string[], flags?: ServiceCommandFlags): Promise<number>;
  /** What the last run wrote to stdout. */
  out(): string;
  /** What the last run wrote to stderr. */
  err(): string;
}

export function serviceCommandRunner(api: ApiHarness, command: ServiceCommand): ServiceCommandRunner {
  let out = '';
  let err = '';
  const io = {
    env: { AWS_ACCESS_KEY_ID: api.endpoint.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: api.endpoint.credentials.secretAccessKey },
    stdout: (text: string) => (out += text),
    stderr: (text: string) => (err += text),
  };
  // The members of the installation's configuration the commands read.
  const config = { home: api.home, region: 'us-east-1' } as Parameters<typeof runServiceCommand>[3];
  return {
    run(args, flags = {}) {
      out = '';
      err = '';
      return runServiceCommand(command, args, { endpoint: api.cp.apiUrl, ...flags }, config, io);
    },
    out: () => out,
    err: () => err,
  };
}

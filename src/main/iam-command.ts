/**
 * @module
 * `berth iam …`: Berth's access-control operations from the command line. Like any other
 * client it calls the API over HTTP, signed with SigV4 (core/sigv4.ts), as whoever the
 * credentials name: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`) when
 * set, else the `default` profile of `$BERTH_HOME/credentials` (the administrator's key).
 * Results are printed as JSON on stdout; errors go to stderr with exit status 1.
 */
import { readFileSync } from 'node:fs';
import type { BerthConfig } from '../core/config.ts';
import { allPages, ApiUsageError, callApi, credentialsOf, endpointOf } from './api-client.ts';

/** The subcommands, as `berth help` and `berth iam help` list them. */
export const IAM_COMMANDS_HELP = `berth iam <command> [arguments] [--endpoint <url>]: users, keys and policies (docs/access-control.md)
  create-user NAME                          Create a user (no keys, no permissions yet)
  list-users                                List every user
  get-user [NAME]                           Show a user (default: the caller)
  delete-user NAME                          Delete a user that has no keys and no policies
  create-access-key NAME                    Create an access key; its secret is shown only now
  list-access-keys NAME                     List a user's access keys (never their secrets)
  update-access-key NAME KEY --status S     Make a key Active or Inactive
  delete-access-key NAME KEY                Delete a key (it stops working at once)
  put-user-policy NAME POLICY --document F  Set an inline policy from file F (- for stdin)
  get-user-policy NAME POLICY               Show an inline policy
  list-user-policies NAME                   List a user's inline policy names
  delete-user-policy NAME POLICY            Delete an inline policy
  get-session-token [--duration SECONDS]    Temporary credentials (900-129600 s, default 43200)
  whoami                                    Who the credentials in use belong to

Credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) when set,
else the default profile in <home>/credentials. Endpoint: --endpoint, else the configured
API address.
`;

export const IAM_USAGE = `Usage: ${IAM_COMMANDS_HELP}`;

export interface IamFlags {
  endpoint?: string | undefined;
  status?: string | undefined;
  document?: string | undefined;
  duration?: string | undefined;
}

export interface IamCommandIo {
  env: NodeJS.ProcessEnv;
  readStdin: () => Promise<string>;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}


interface Command {
  args: string;
  /** The operation and its input, from the positional arguments and flags. */
  build: (args: readonly string[], flags: IamFlags, io: IamCommandIo) => Promise<[operation: string, input: Record<string, unknown>]> | [string, Record<string, unknown>];
  /** For list commands: the output member that holds the items (all pages are fetched). */
  listMember?: string;
}

const COMMANDS: Readonly<Record<string, Command>> = {
  'create-user': { args: 'NAME', build: ([name]) => ['CreateUser', { UserName: name }] },
  'list-users': { args: '', build: () => ['ListUsers', {}], listMember: 'Users' },
  'get-user': { args: '[NAME]', build: ([name]) => ['GetUser', name === undefined ? {} : { UserName: name }] },
  'delete-user': { args: 'NAME', build: ([name]) => ['DeleteUser', { UserName: name }] },
  'create-access-key': { args: 'NAME', build: ([name]) => ['CreateAccessKey', { UserName: name }] },
  'list-access-keys': { args: 'NAME', build: ([name]) => ['ListAccessKeys', { UserName: name }], listMember: 'AccessKeyMetadata' },
  'update-access-key': {
    args: 'NAME KEY --status Active|Inactive',
    build: ([name, key], flags) => {
      if (flags.status === undefined) throw new ApiUsageError('update-access-key needs --status Active or --status Inactive');
      return ['UpdateAccessKey', { UserName: name, AccessKeyId: key, Status: flags.status }];
    },
  },
  'delete-access-key': { args: 'NAME KEY', build: ([name, key]) => ['DeleteAccessKey', { UserName: name, AccessKeyId: key }] },
  'put-user-policy': {
    args: 'NAME POLICY --document FILE|-',
    build: async ([name, policy], flags, io) => {
      if (flags.document === undefined) throw new ApiUsageError('put-user-policy needs --document FILE (or --document - to read the policy from stdin)');
      const document = flags.document === '-' ? await io.readStdin() : readDocument(flags.document);
      return ['PutUserPolicy', { UserName: name, PolicyName: policy, PolicyDocument: document }];
    },
  },
  'get-user-policy': { args: 'NAME POLICY', build: ([name, policy]) => ['GetUserPolicy', { UserName: name, PolicyName: policy }] },
  'list-user-policies': { args: 'NAME', build: ([name]) => ['ListUserPolicies', { UserName: name }], listMember: 'PolicyNames' },
  'delete-user-policy': { args: 'NAME POLICY', build: ([name, policy]) => ['DeleteUserPolicy', { UserName: name, PolicyName: policy }] },
  'get-session-token': {
    args: '[--duration SECONDS]',
    build: (_args, flags) => {
      if (flags.duration === undefined) return ['GetSessionToken', {}];
      if (!/^\d+$/.test(flags.duration)) throw new ApiUsageError(`--duration is '${flags.duration}'; give a whole number of seconds from 900 to 129600`);
      return ['GetSessionToken', { DurationSeconds: Number(flags.duration) }];
    },
  },
  whoami: { args: '', build: () => ['GetCallerIdentity', {}] },
};

/** Runs `berth iam <args>`; returns the exit status. */
export async function runIamCommand(args: readonly string[], flags: IamFlags, config: Readonly<BerthConfig>, io: IamCommandIo): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === 'help') {
    io.stdout(IAM_USAGE);
    return name === undefined ? 2 : 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  try {
    if (command === undefined) throw new ApiUsageError(`unknown command '${name}'`);
    const required = command.args.split(' ').filter((a) => /^[A-Z]+$/.test(a)).length;
    const optional = command.args.split(' ').filter((a) => /^\[[A-Z]+\]$/.test(a)).length;
    if (rest.length < required || rest.length > required + optional) {
      throw new ApiUsageError(`${name} takes ${command.args === '' ? 'no arguments' : command.args}; got ${rest.length === 0 ? 'none' : rest.join(' ')}`);
    }
    const [operation, input] = await command.build(rest, flags, io);
    const client = { endpoint: endpointOf(flags.endpoint, config), region: config.region, credentials: credentialsOf(io.env, config) };
    let output = await callApi(client, `Berth.${operation}`, input);
    if (command.listMember !== undefined) output = { [command.listMember]: await allPages(client, `Berth.${operation}`, input, command.listMember, output) };
    if (operation === 'GetUserPolicy' && typeof output.PolicyDocument === 'string') {
      // Shown as JSON rather than a string of JSON, as the AWS CLI shows IAM policies.
      output = { ...output, PolicyDocument: JSON.parse(output.PolicyDocument) as unknown };
    }
    if (Object.keys(output).length > 0) io.stdout(`${JSON.stringify(output, null, 2)}\n`);
    return 0;
  } catch (error) {
    if (error instanceof ApiUsageError) {
      io.stderr(`berth iam: ${error.message}\n\n${IAM_USAGE}`);
      return 2;
    }
    io.stderr(`berth iam: ${(error as Error).message}\n`);
    return 1;
  }
}

function readDocument(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read the policy document ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}


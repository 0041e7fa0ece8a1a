/**
 * @module
 * `berth iam …`: Berth's access-control operations from the command line. Like any other
 * client it calls the API over HTTP, signed with SigV4 (core/sigv4.ts), as whoever the
 * credentials name: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`) when
 * set, else the `default` profile of `$BERTH_HOME/credentials` (the administrator's key).
 * Results are printed as JSON on stdout; errors go to stderr with exit status 1.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { berthPaths, type BerthConfig } from '../core/config.ts';
import { signRequest, type SigningCredentials } from '../core/sigv4.ts';

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

/** A usage mistake: told with the usage, exit status 2 (as for an unknown `berth` command). */
class UsageError extends Error {}

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
      if (flags.status === undefined) throw new UsageError('update-access-key needs --status Active or --status Inactive');
      return ['UpdateAccessKey', { UserName: name, AccessKeyId: key, Status: flags.status }];
    },
  },
  'delete-access-key': { args: 'NAME KEY', build: ([name, key]) => ['DeleteAccessKey', { UserName: name, AccessKeyId: key }] },
  'put-user-policy': {
    args: 'NAME POLICY --document FILE|-',
    build: async ([name, policy], flags, io) => {
      if (flags.document === undefined) throw new UsageError('put-user-policy needs --document FILE (or --document - to read the policy from stdin)');
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
      if (!/^\d+$/.test(flags.duration)) throw new UsageError(`--duration is '${flags.duration}'; give a whole number of seconds from 900 to 129600`);
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
    if (command === undefined) throw new UsageError(`unknown command '${name}'`);
    const required = command.args.split(' ').filter((a) => /^[A-Z]+$/.test(a)).length;
    const optional = command.args.split(' ').filter((a) => /^\[[A-Z]+\]$/.test(a)).length;
    if (rest.length < required || rest.length > required + optional) {
      throw new UsageError(`${name} takes ${command.args === '' ? 'no arguments' : command.args}; got ${rest.length === 0 ? 'none' : rest.join(' ')}`);
    }
    const [operation, input] = await command.build(rest, flags, io);
    const client = { endpoint: endpointOf(flags, config), region: config.region, credentials: credentialsOf(io.env, config) };
    let output = await callBerth(client, operation, input);
    if (command.listMember !== undefined) output = await allPages(client, operation, input, output, command.listMember);
    if (operation === 'GetUserPolicy' && typeof output.PolicyDocument === 'string') {
      // Shown as JSON rather than a string of JSON, as the AWS CLI shows IAM policies.
      output = { ...output, PolicyDocument: JSON.parse(output.PolicyDocument) as unknown };
    }
    if (Object.keys(output).length > 0) io.stdout(`${JSON.stringify(output, null, 2)}\n`);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`berth iam: ${error.message}\n\n${IAM_USAGE}`);
      return 2;
    }
    io.stderr(`berth iam: ${(error as Error).message}\n`);
    return 1;
  }
}

interface BerthClient {
  endpoint: URL;
  region: string;
  credentials: SigningCredentials;
}

/** Follows NextToken to the end, so a list command shows every item. */
async function allPages(client: BerthClient, operation: string, input: Record<string, unknown>, first: Record<string, unknown>, member: string): Promise<Record<string, unknown>> {
  const items = [...((first[member] as unknown[] | undefined) ?? [])];
  let token = first.NextToken;
  while (typeof token === 'string') {
    const page = await callBerth(client, operation, { ...input, NextToken: token });
    items.push(...((page[member] as unknown[] | undefined) ?? []));
    token = page.NextToken;
  }
  return { [member]: items };
}

function readDocument(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read the policy document ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

function endpointOf(flags: IamFlags, config: Readonly<BerthConfig>): URL {
  if (flags.endpoint !== undefined) {
    try {
      return new URL(flags.endpoint);
    } catch {
      throw new UsageError(`--endpoint is '${flags.endpoint}'; give a URL such as http://127.0.0.1:8900`);
    }
  }
  // An API listening on every address is reached on loopback.
  const host = config.api.host === '0.0.0.0' ? '127.0.0.1' : config.api.host === '::' ? '::1' : config.api.host;
  return new URL(`http://${host.includes(':') ? `[${host}]` : host}:${config.api.port}`);
}

/** The environment's credentials when set, else the default profile Berth wrote for the administrator. */
function credentialsOf(env: NodeJS.ProcessEnv, config: Readonly<BerthConfig>): SigningCredentials {
  const id = env.AWS_ACCESS_KEY_ID;
  const secret = env.AWS_SECRET_ACCESS_KEY;
  if (id !== undefined && id !== '' && secret !== undefined && secret !== '') {
    const token = env.AWS_SESSION_TOKEN;
    return { accessKeyId: id, secretAccessKey: secret, ...(token !== undefined && token !== '' && { sessionToken: token }) };
  }
  if ((id ?? '') !== '' || (secret ?? '') !== '') {
    throw new Error('only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set; set both, or neither to use the credentials file');
  }
  const file = berthPaths(config.home).credentials;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new Error(`no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or start Berth once (berth up) so that it writes ${file}`);
  }
  const profile = defaultProfile(text);
  const accessKeyId = profile.get('aws_access_key_id');
  const secretAccessKey = profile.get('aws_secret_access_key');
  if (accessKeyId === undefined || secretAccessKey === undefined) throw new Error(`${file} has no [default] profile with aws_access_key_id and aws_secret_access_key`);
  const sessionToken = profile.get('aws_session_token');
  return { accessKeyId, secretAccessKey, ...(sessionToken !== undefined && { sessionToken }) };
}

/** The `[default]` section of an AWS shared credentials file (INI: `key = value` lines). */
function defaultProfile(text: string): Map<string, string> {
  const values = new Map<string, string>();
  let section = '';
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) continue;
    const header = /^\[\s*([^\]]+?)\s*\]$/.exec(trimmed);
    if (header !== null) {
      section = header[1] ?? '';
      continue;
    }
    const equals = trimmed.indexOf('=');
    if (section === 'default' && equals !== -1) values.set(trimmed.slice(0, equals).trim().toLowerCase(), trimmed.slice(equals + 1).trim());
  }
  return values;
}

/** One signed `Berth.<operation>` call; a non-200 answer becomes an error naming its type. */
async function callBerth(client: BerthClient, operation: string, input: Record<string, unknown>): Promise<Record<string, unknown>> {
  const body = JSON.stringify(input);
  const headers = signRequest({
    method: 'POST',
    host: client.endpoint.host,
    path: client.endpoint.pathname,
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `Berth.${operation}` },
    body,
    credentials: client.credentials,
    region: client.region,
    service: 'apprunner',
    now: new Date(),
  });
  const { status, text } = await post(client.endpoint, { ...headers, 'content-length': String(Buffer.byteLength(body)), 'user-agent': 'berth-cli' }, body);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`the API at ${client.endpoint.origin} answered HTTP ${status} with something that is not JSON; is --endpoint a Berth API?`);
  }
  if (status !== 200) throw new Error(`${String(json.__type ?? `HTTP ${status}`)}: ${String(json.Message ?? json.message ?? '')}`);
  return json;
}

function post(url: URL, headers: Record<string, string>, body: string): Promise<{ status: number; text: string }> {
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: 'POST', headers }, (res: IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.once('error', reject);
    });
    req.once('error', (error: NodeJS.ErrnoException) => {
      reject(new Error(`cannot reach the Berth API at ${url.origin} (${error.code ?? error.message}); is Berth running? --endpoint names another address`));
    });
    req.end(body);
  });
}

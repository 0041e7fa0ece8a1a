/**
 * @module
 * The command line's API client: SigV4-signed AWS JSON 1.0 calls to Berth's API, as whoever the
 * credentials name: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`) when
 * set, else the `default` profile of `$BERTH_HOME/credentials` (the administrator's key).
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { berthPaths, type BerthConfig } from '../core/config.ts';
import { signRequest, type SigningCredentials } from '../core/sigv4.ts';

/** A mistake in how a command was called: told with its usage, exit status 2. */
export class ApiUsageError extends Error {}

export interface ApiClient {
  endpoint: URL;
  region: string;
  credentials: SigningCredentials;
}

/** The API's address: `--endpoint` when given, else the configured one (loopback for a wildcard). */
export function endpointOf(endpoint: string | undefined, config: Readonly<BerthConfig>): URL {
  if (endpoint !== undefined) {
    try {
      return new URL(endpoint);
    } catch {
      throw new ApiUsageError(`--endpoint is '${endpoint}'; give a URL such as http://127.0.0.1:8900`);
    }
  }
  // An API listening on every address is reached on loopback.
  const host = config.api.host === '0.0.0.0' ? '127.0.0.1' : config.api.host === '::' ? '::1' : config.api.host;
  return new URL(`http://${host.includes(':') ? `[${host}]` : host}:${config.api.port}`);
}

/** The environment's credentials when set, else the default profile Berth wrote for the administrator. */
export function credentialsOf(env: NodeJS.ProcessEnv, config: Readonly<BerthConfig>): SigningCredentials {
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

/** One signed call of `target` (`Berth.ListUsers`, `AppRunner.ListServices`); a non-200 answer becomes an error naming its type. */
export async function callApi(client: ApiClient, target: string, input: Record<string, unknown>): Promise<Record<string, unknown>> {
  const body = JSON.stringify(input);
  const headers = signRequest({
    method: 'POST',
    host: client.endpoint.host,
    path: client.endpoint.pathname,
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': target },
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

/** Follows NextToken to the end and returns every item of `member`. */
export async function allPages(client: ApiClient, target: string, input: Record<string, unknown>, member: string, first?: Record<string, unknown>): Promise<unknown[]> {
  let page = first ?? (await callApi(client, target, input));
  const items = [...((page[member] as unknown[] | undefined) ?? [])];
  while (typeof page.NextToken === 'string') {
    page = await callApi(client, target, { ...input, NextToken: page.NextToken });
    items.push(...((page[member] as unknown[] | undefined) ?? []));
  }
  return items;
}

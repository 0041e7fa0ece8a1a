/**
 * A real git smart-HTTP server for tests: a Node HTTP server on a loopback port 0 that runs
 * `git http-backend` as a CGI program for every request, after checking HTTP Basic
 * authentication against one token (any user name, as GitHub's `x-access-token` works).
 * Requests are recorded so tests can see what clients sent and how much was served.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const GIT_HTTP_BACKEND = '/usr/lib/git-core/git-http-backend';

export interface GitHttpRequest {
  method: string;
  path: string;
  authorized: boolean;
  status: number;
  /** Bytes of the response body (the pack, for upload-pack POSTs). */
  responseBytes: number;
}

export interface GitHttpServer {
  /** `http://127.0.0.1:<port>`; repositories are at `${url}/<name relative to projectRoot>`. */
  url: string;
  requests: GitHttpRequest[];
  stop(): Promise<void>;
}

export async function startGitHttpServer(options: { projectRoot: string; token: string }): Promise<GitHttpServer> {
  const requests: GitHttpRequest[] = [];
  const server = createServer((req, res) => {
    const record: GitHttpRequest = { method: req.method ?? 'GET', path: req.url ?? '/', authorized: false, status: 0, responseBytes: 0 };
    requests.push(record);
    const user = authorizedUser(req.headers.authorization, options.token);
    if (user === undefined) {
      record.status = 401;
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="berth-test-git"', 'Content-Type': 'text/plain' });
      res.end('Authentication required\n');
      return;
    }
    record.authorized = true;
    serveCgi(req, res, options.projectRoot, user, record);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    stop: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

function authorizedUser(header: string | undefined, token: string): string | undefined {
  const match = /^Basic ([A-Za-z0-9+/=]+)$/.exec(header ?? '');
  if (match === null) return undefined;
  const decoded = Buffer.from(match[1] ?? '', 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0 || decoded.slice(colon + 1) !== token) return undefined;
  return decoded.slice(0, colon);
}

/** RFC 3875 CGI: request meta-variables in the environment, body on stdin, headers then body on stdout. */
function serveCgi(req: IncomingMessage, res: ServerResponse, projectRoot: string, user: string, record: GitHttpRequest): void {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    GIT_PROJECT_ROOT: projectRoot,
    GIT_HTTP_EXPORT_ALL: '1',
    GIT_CONFIG_NOSYSTEM: '1',
    GATEWAY_INTERFACE: 'CGI/1.1',
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.replace(/^\?/, ''),
    REQUEST_METHOD: req.method ?? 'GET',
    CONTENT_TYPE: req.headers['content-type'] ?? '',
    REMOTE_USER: user,
    REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
    ...(req.headers['content-length'] !== undefined && { CONTENT_LENGTH: req.headers['content-length'] }),
    ...(req.headers['content-encoding'] !== undefined && { HTTP_CONTENT_ENCODING: req.headers['content-encoding'] }),
    // Protocol v2 is negotiated through this header.
    ...(typeof req.headers['git-protocol'] === 'string' && { GIT_PROTOCOL: req.headers['git-protocol'] }),
  };
  const child = spawn(GIT_HTTP_BACKEND, [], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  req.pipe(child.stdin);
  child.stdin.on('error', () => undefined);
  let head = Buffer.alloc(0);
  let headersDone = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (headersDone) {
      record.responseBytes += chunk.length;
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n') >= 0 ? head.indexOf('\r\n\r\n') + 4 : head.indexOf('\n\n') >= 0 ? head.indexOf('\n\n') + 2 : -1;
    if (end < 0) return;
    headersDone = true;
    let status = 200;
    const headers: Record<string, string> = {};
    for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
      else headers[name] = value;
    }
    record.status = status;
    res.writeHead(status, headers);
    const rest = head.subarray(end);
    record.responseBytes += rest.length;
    res.write(rest);
  });
  child.on('close', () => {
    if (!headersDone) {
      record.status = 502;
      res.writeHead(502).end('git http-backend wrote no headers\n');
    } else {
      res.end();
    }
  });
}

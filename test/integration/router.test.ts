// The router over real sockets: real upstream servers on loopback, real TLS with the local CA,
// and a fake control plane on a Unix socket that speaks the route-feed protocol (long poll,
// ETag / If-None-Match, 304) and takes reports, so the tests can stop it, restart it and make it
// misbehave.
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { EventEmitter, once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { routeTableTag, type Route, type RouterReport, type RouteTable, type ServiceLoad } from '../../src/core/routes.ts';
import { createControlServer, RouteFeed as ControlPlaneFeed } from '../../src/edges/control-socket/route-feed-server.ts';
import { parseRouterConfig, type RouterConfig } from '../../src/edges/router/config.ts';
import type { FeedErrorMessage, RequestMessage } from '../../src/edges/router/diagnostics.ts';
import { createHttpsRedirectHandler } from '../../src/edges/router/https-redirect.ts';
import { startRouter, type Router } from '../../src/edges/router/router.ts';
import { waitFor as pollUntil } from '../support/berth-process.ts';

// ---------------------------------------------------------------------------------------------
// Peers

/** The control plane's side of the route feed, with switches for the failure cases. */
class FakeControlPlane {
  readonly socketPath: string;
  table: RouteTable;
  /** `garbage` answers every poll with a 200 whose body is not JSON. */
  mode: 'normal' | 'garbage' = 'normal';
  readonly ifNoneMatch: string[] = [];
  /** The reports routers POSTed, with the Date.now() of their arrival. */
  readonly reports: Array<{ report: RouterReport; at: number }> = [];
  #server: Server | undefined;
  readonly #waiters = new Set<() => void>();

  constructor(socketPath: string, table: RouteTable) {
    this.socketPath = socketPath;
    this.table = table;
  }

  get tag(): string {
    return routeTableTag(this.table);
  }

  publish(table: RouteTable): void {
    this.table = table;
    for (const wake of [...this.#waiters]) wake();
  }

  async start(): Promise<void> {
    await rm(this.socketPath, { force: true });
    const server = createServer((req, res) => this.#handle(req, res));
    server.listen(this.socketPath);
    await once(server, 'listening');
    this.#server = server;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    const closed = once(server, 'close');
    server.close();
    server.closeAllConnections();
    await closed;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://control');
    if (`${req.method} ${url.pathname}` === 'POST /v1/reports') {
      collect(req).then(({ body }) => {
        this.reports.push({ report: JSON.parse(body) as RouterReport, at: Date.now() });
        res.writeHead(204).end();
      }, () => res.destroy());
      return;
    }
    assert.equal(`${req.method} ${url.pathname}`, 'GET /v1/routes');
    const known = req.headers['if-none-match'] ?? '';
    this.ifNoneMatch.push(known);
    const answer = (): boolean => {
      if (this.mode === 'garbage') {
        res.writeHead(200, { 'content-type': 'application/json', etag: '"garbage"' }).end('{"routes": [');
        return true;
      }
      if (known === `"${this.tag}"`) return false;
      res.writeHead(200, { 'content-type': 'application/json', etag: `"${this.tag}"` }).end(JSON.stringify(this.table));
      return true;
    };
    if (answer()) return;
    const timer = setTimeout(() => {
      this.#waiters.delete(wake);
      res.writeHead(304, { etag: `"${this.tag}"` }).end();
    }, Number(url.searchParams.get('wait')) * 1000);
    const wake = (): void => {
      if (answer()) {
        clearTimeout(timer);
        this.#waiters.delete(wake);
      }
    };
    this.#waiters.add(wake);
    res.once('close', () => {
      clearTimeout(timer);
      this.#waiters.delete(wake);
    });
  }
}

/** An instance: answers with what it received; paths exercise streaming, holding and failing. */
class Upstream {
  readonly name: string;
  readonly server: Server;
  address = '';
  /** Emits `held` with the id of a request parked by /hold or /first-chunk. */
  readonly events = new EventEmitter();
  /** Requests it is handling now, and the most it ever handled at once. */
  active = 0;
  maxActive = 0;
  readonly #gates = new Map<string, () => void>();

  constructor(name: string) {
    this.name = name;
    this.server = createServer((req, res) => this.#handle(req, res));
  }

  async start(): Promise<this> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    const address = this.server.address();
    assert.ok(typeof address === 'object' && address !== null);
    this.address = `127.0.0.1:${address.port}`;
    return this;
  }

  /** Lets the parked request `id` finish. */
  release(id: string): void {
    const gate = this.#gates.get(id);
    assert.ok(gate, `no request ${id} is held by ${this.name}`);
    this.#gates.delete(id);
    gate();
  }

  async close(): Promise<void> {
    for (const gate of this.#gates.values()) gate();
    this.server.closeAllConnections();
    this.server.close();
  }

  #park(id: string, gate: () => void): void {
    this.#gates.set(id, gate);
    this.events.emit('held', id);
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    this.maxActive = Math.max(this.maxActive, ++this.active);
    res.once('close', () => this.active--);
    const url = new URL(req.url ?? '/', 'http://upstream');
    const id = url.searchParams.get('id') ?? '';
    switch (url.pathname) {
      case '/hold':
        return this.#park(id, () => this.#echo(req, res));
      case '/first-chunk':
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first\n');
        return this.#park(id, () => res.end('rest\n'));
      case '/echo-stream':
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        req.pipe(res);
        return;
      case '/digest': {
        const hash = createHash('sha256');
        let bytes = 0;
        req.on('data', (chunk: Buffer) => {
          hash.update(chunk);
          bytes += chunk.length;
        });
        req.on('end', () => json(res, { bytes, sha256: hash.digest('hex') }));
        return;
      }
      case '/large': {
        const total = Number(url.searchParams.get('bytes'));
        const chunk = Buffer.alloc(64 * 1024, 'x');
        let sent = 0;
        const pump = (): void => {
          while (sent < total) {
            const size = Math.min(chunk.length, total - sent);
            sent += size;
            if (!res.write(size === chunk.length ? chunk : chunk.subarray(0, size))) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        res.writeHead(200, { 'content-length': String(total) });
        return pump();
      }
      case '/drip': {
        // `count` chunks, one every `every` ms.
        const every = Number(url.searchParams.get('every'));
        const count = Number(url.searchParams.get('count'));
        res.writeHead(200, { 'content-type': 'text/plain' });
        let sent = 0;
        const timer = setInterval(() => {
          res.write(`${sent}\n`);
          if (++sent === count) {
            clearInterval(timer);
            res.end();
          }
        }, every);
        res.once('close', () => clearInterval(timer));
        return;
      }
      case '/reset':
        req.socket.destroy();
        return;
      case '/hop':
        res.writeHead(200, {
          connection: 'x-hop-secret',
          'x-hop-secret': '1',
          'proxy-authenticate': 'Basic realm="x"',
          trailer: 'x-checksum',
          'x-kept': 'yes',
        });
        res.end('ok');
        return;
      default:
        return this.#echo(req, res);
    }
  }

  #echo(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    req.on('end', () => json(res, { server: this.name, method: req.method, url: req.url, headers: req.headers }));
  }
}

function json(res: ServerResponse, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

interface Echo {
  server: string;
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

// ---------------------------------------------------------------------------------------------
// Client side

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** The TLS server name; default the host. */
  servername?: string;
}

function collect(res: IncomingMessage): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.once('error', reject);
    res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
  });
}

/** What is left of a response body; listens at once, so an `end` right after data is not missed. */
function readToEnd(res: IncomingMessage): Promise<string> {
  return collect(res).then((reply) => reply.body);
}

/** The shared poller, with this file's way of naming what it waits for. */
function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  return pollUntil(check, timeoutMs, () => `timed out after ${timeoutMs} ms waiting for ${what}`);
}

function route(host: string, serviceName: string, ...targets: Array<Upstream | string>): Route {
  return {
    host,
    serviceId: `${serviceName}-id`,
    serviceName,
    targets: targets.map((target, index) => {
      const address = typeof target === 'string' ? target : target.address;
      return { instanceId: `${serviceName}-${index}-${typeof target === 'string' ? 'dead' : target.name}`, address };
    }),
  };
}

/** A loopback address where nothing listens: bound, then closed. */
async function deadAddress(): Promise<string> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  assert.ok(typeof address === 'object' && address !== null);
  server.close();
  await once(server, 'close');
  return `127.0.0.1:${address.port}`;
}

// ---------------------------------------------------------------------------------------------

describe('router', () => {
  let dir: string;
  let ca: string;
  let a: Upstream;
  let b: Upstream;
  let dead: string;
  let controlPlane: FakeControlPlane;
  let router: Router;
  const routers: Router[] = [];
  let baseTable: RouteTable;

  const configFor = (overrides: Partial<RouterConfig> = {}): RouterConfig => parseRouterConfig({
    listenHost: '127.0.0.1',
    httpPort: 0,
    httpsPort: 0,
    requestTimeoutMs: 5000,
    controlSocketPath: join(dir, 'control.sock'),
    routesCacheFile: join(dir, 'run', 'routes.json'),
    caDir: join(dir, 'ca'),
    ...overrides,
  });

  const launch = async (overrides: Partial<RouterConfig> = {}): Promise<Router> => {
    const started = await startRouter(configFor(overrides));
    routers.push(started);
    return started;
  };

  function open(port: number, host: string, path: string, options: SendOptions = {}): ReturnType<typeof httpsRequest> {
    const request: RequestOptions = {
      host: '127.0.0.1',
      port,
      path,
      method: options.method ?? 'GET',
      servername: options.servername ?? host,
      ca,
      headers: { host: `${host}:${port}`, ...options.headers },
      agent: false,
    };
    return httpsRequest(request);
  }

  async function send(host: string, path = '/', options: SendOptions = {}, via: Router = router): Promise<Reply> {
    const req = open(via.httpsPort, host, path, options);
    const response = once(req, 'response') as Promise<[IncomingMessage]>;
    req.end(options.body);
    const [res] = await response;
    return collect(res);
  }

  /** The status `host` answers with, 0 while TLS fails (a host the router does not know yet has no certificate). */
  const statusOf = (host: string, via: Router = router): Promise<number> =>
    send(host, '/', {}, via).then((reply) => reply.status, () => 0);

  const echo = async (host: string, path = '/', options: SendOptions = {}): Promise<Echo> => {
    const reply = await send(host, path, options);
    assert.equal(reply.status, 200, reply.body);
    return JSON.parse(reply.body) as Echo;
  };

  const noneInFlight = (of: Router = router): Promise<void> =>
    waitFor(() => [...of.inFlight().values()].every((count) => count === 0), 2000, `no request in flight (${JSON.stringify([...of.inFlight()])})`);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-router-'));
    a = await new Upstream('A').start();
    b = await new Upstream('B').start();
    dead = await deadAddress();
    baseTable = {
      routes: [
        route('hello-abc.localhost', 'hello', a),
        route('world-def.localhost', 'world', b),
        route('both-xyz.localhost', 'both', a, b),
        route('empty-000.localhost', 'empty'),
        route('dead-111.localhost', 'dead', dead),
        route('mixed-222.localhost', 'mixed', dead, a),
      ],
    };
    controlPlane = new FakeControlPlane(join(dir, 'control.sock'), baseTable);
    await controlPlane.start();
    router = await launch();
    ca = await readFile(join(dir, 'ca', 'ca.crt'), 'utf8');
    await waitFor(async () => (await statusOf('hello-abc.localhost')) === 200, 3000, 'the first route table');
  });

  after(async () => {
    for (const r of routers) await r.close(500);
    await controlPlane.stop();
    await a.close();
    await b.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('routes by Host to the right instance, whatever the case and port', async () => {
    assert.equal((await echo('hello-abc.localhost')).server, 'A');
    assert.equal((await echo('world-def.localhost')).server, 'B');
    const reply = await send('hello-abc.localhost', '/x', { headers: { host: 'HELLO-ABC.localhost.:443' } });
    assert.equal((JSON.parse(reply.body) as Echo).server, 'A');
    assert.equal((JSON.parse(reply.body) as Echo).url, '/x');
  });

  test('follows the protocol: If-None-Match carries the tag of the table held', () => {
    assert.ok(controlPlane.ifNoneMatch.includes(`"${routeTableTag(baseTable)}"`), JSON.stringify(controlPlane.ifNoneMatch));
  });

  test('balances across the instances of a service, round-robin when none is busy', async () => {
    const seen = { A: 0, B: 0 };
    for (let i = 0; i < 6; i++) seen[(await echo('both-xyz.localhost')).server as 'A' | 'B']++;
    assert.deepEqual(seen, { A: 3, B: 3 });
  });

  test('sends the next request to the instance with the fewest outstanding ones', async () => {
    const held = Promise.race([
      once(a.events, 'held').then(() => a),
      once(b.events, 'held').then(() => b),
    ]);
    const slow = send('both-xyz.localhost', '/hold?id=lor');
    const busy = await held;
    assert.equal(router.inFlight().get(`both-${busy === a ? 0 : 1}-${busy.name}`), 1);
    for (let i = 0; i < 3; i++) assert.notEqual((await echo('both-xyz.localhost')).server, busy.name);
    busy.release('lor');
    assert.equal((await slow).status, 200);
    await noneInFlight();
  });

  test('sets X-Forwarded-* and removes hop-by-hop request fields', async () => {
    const seen = await echo('hello-abc.localhost', '/headers?q=1', {
      headers: {
        connection: 'keep-alive, X-Hop-Secret',
        'x-hop-secret': 'not for the instance',
        'keep-alive': 'timeout=5',
        'proxy-authorization': 'Basic Zm9vOmJhcg==',
        proxy: 'http://attacker.example',
        te: 'trailers',
        upgrade: 'h2c',
        'x-forwarded-for': '203.0.113.7',
        'x-forwarded-proto': 'http',
        'x-forwarded-host': 'spoofed.example',
        'x-kept': 'yes',
      },
    });
    const port = router.httpsPort;
    assert.equal(seen.url, '/headers?q=1');
    assert.equal(seen.headers.host, `hello-abc.localhost:${port}`);
    assert.equal(seen.headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
    assert.equal(seen.headers['x-forwarded-host'], `hello-abc.localhost:${port}`);
    assert.equal(seen.headers['x-kept'], 'yes');
    for (const name of ['x-hop-secret', 'keep-alive', 'proxy-authorization', 'proxy', 'te', 'upgrade']) {
      assert.equal(seen.headers[name], undefined, `${name} reached the instance`);
    }
    assert.notEqual(seen.headers.connection, 'keep-alive, X-Hop-Secret');

    const plain = await echo('hello-abc.localhost');
    assert.equal(plain.headers['x-forwarded-for'], '127.0.0.1');
  });

  test('removes hop-by-hop response fields', async () => {
    const reply = await send('hello-abc.localhost', '/hop');
    assert.equal(reply.status, 200);
    assert.equal(reply.body, 'ok');
    assert.equal(reply.headers['x-kept'], 'yes');
    for (const name of ['x-hop-secret', 'proxy-authenticate', 'trailer', 'keep-alive']) {
      assert.equal(reply.headers[name], undefined, `${name} reached the client`);
    }
  });

  test('streams the request body: the instance answers the first chunk before the client sends the second', async () => {
    const req = open(router.httpsPort, 'hello-abc.localhost', '/echo-stream', { method: 'POST' });
    req.write('ping-1\n');
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    assert.equal(res.statusCode, 200);
    const first = (await once(res, 'data')) as [Buffer];
    assert.equal(first[0].toString(), 'ping-1\n');
    req.write('ping-2\n');
    const second = (await once(res, 'data')) as [Buffer];
    assert.equal(second[0].toString(), 'ping-2\n');
    const rest = readToEnd(res);
    req.end();
    assert.equal(await rest, '');
  });

  test('streams the response body: the first chunk arrives while the instance still holds the rest', async () => {
    const req = open(router.httpsPort, 'hello-abc.localhost', '/first-chunk?id=fc');
    req.end();
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    const first = (await once(res, 'data')) as [Buffer];
    assert.equal(first[0].toString(), 'first\n');
    const rest = readToEnd(res);
    a.release('fc');
    assert.equal(await rest, 'rest\n');
  });

  test('relays large bodies both ways intact', async () => {
    const upload = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < upload.length; i += 4096) upload.writeUInt32BE(i, i);
    const digest = JSON.parse((await send('hello-abc.localhost', '/digest', { method: 'PUT', body: upload })).body) as { bytes: number; sha256: string };
    assert.deepEqual(digest, { bytes: upload.length, sha256: createHash('sha256').update(upload).digest('hex') });

    const download = await send('hello-abc.localhost', `/large?bytes=${8 * 1024 * 1024 + 7}`);
    assert.equal(download.status, 200);
    assert.equal(download.headers['content-length'], String(8 * 1024 * 1024 + 7));
    assert.equal(download.body.length, 8 * 1024 * 1024 + 7);
  });

  test('404 for a host with no route', async () => {
    const reply = await send('nobody-999.localhost', '/', { servername: 'localhost' });
    assert.equal(reply.status, 404);
    assert.equal(reply.body, "no service answers on host 'nobody-999.localhost'\n");
    assert.equal(reply.headers['x-berth-error'], 'UnknownHost');
    assert.equal(reply.headers['content-type'], 'text/plain; charset=utf-8');
  });

  test('503 for a service with no instance', async () => {
    const reply = await send('empty-000.localhost');
    assert.equal(reply.status, 503);
    assert.equal(reply.body, 'no healthy instance for service empty\n');
    assert.equal(reply.headers['x-berth-error'], 'NoHealthyInstance');
    assert.equal(reply.headers['retry-after'], '1');
  });

  test('503 ServicePaused with Retry-After for a paused service, which serves again once resumed', async () => {
    const host = 'paused-121.localhost';
    controlPlane.publish({ routes: [...baseTable.routes, { ...route(host, 'sleepy', a), paused: true }] });
    try {
      await waitFor(async () => (await statusOf(host)) === 503, 3000, 'the paused route');
      const reply = await send(host, '/x', { method: 'POST', body: 'data' });
      assert.equal(reply.status, 503);
      assert.equal(reply.body, 'service sleepy is paused; ResumeService starts it again\n');
      assert.equal(reply.headers['x-berth-error'], 'ServicePaused');
      assert.equal(reply.headers['retry-after'], '10');
      assert.equal(router.inFlight().get('sleepy-0-A'), 0);

      controlPlane.publish({ routes: [...baseTable.routes, route(host, 'sleepy', a)] });
      await waitFor(async () => (await statusOf(host)) === 200, 3000, 'the resumed route');
      assert.equal((await echo(host)).server, 'A');
    } finally {
      controlPlane.publish(baseTable);
    }
  });

  test('502 when the only instance refuses connections', async () => {
    const reply = await send('dead-111.localhost');
    assert.equal(reply.status, 502);
    assert.equal(reply.body, 'could not connect to an instance of service dead (ECONNREFUSED)\n');
    assert.equal(reply.headers['x-berth-error'], 'InstanceUnreachable');
    await noneInFlight();
  });

  test('502 when the instance drops the connection before responding', async () => {
    const reply = await send('hello-abc.localhost', '/reset', { method: 'POST', body: 'x' });
    assert.equal(reply.status, 502);
    assert.match(reply.body, /^instance hello-0-A of service hello closed the connection before responding/);
    await noneInFlight();
  });

  test('an idempotent request whose connection fails is retried on another instance', async () => {
    for (let i = 0; i < 4; i++) assert.equal((await echo('mixed-222.localhost')).server, 'A');
    await noneInFlight();
  });

  test('an idempotent request cut by an instance dying under it is retried on another instance', async () => {
    // Reads each request, then drops the connection: what a killed instance does mid-request.
    const dying = createNetServer((socket) => socket.once('data', () => socket.destroy()));
    await new Promise<void>((resolve) => dying.listen(0, '127.0.0.1', resolve));
    const address = `127.0.0.1:${(dying.address() as AddressInfo).port}`;
    controlPlane.publish({ routes: [...baseTable.routes, { host: 'dying-333.localhost', serviceId: 'svc-dying', serviceName: 'dying', targets: [{ instanceId: 'dying-0', address }, { instanceId: 'dying-1-A', address: a.address }] }] });
    try {
      await waitFor(async () => (await statusOf('dying-333.localhost')) === 200, 3000, 'the route with a dying instance');
      for (let round = 0; round < 3; round++) {
        const replies = await Promise.all(Array.from({ length: 8 }, () => send('dying-333.localhost', '/')));
        assert.deepEqual(replies.map((r) => r.status), Array(8).fill(200), replies.map((r) => r.body).join(' | '));
      }
      await noneInFlight();
    } finally {
      controlPlane.publish(baseTable);
      dying.close();
    }
  });

  test('504 when the instance does not answer within the request timeout; a started response is cut', async () => {
    const fast = await launch({ requestTimeoutMs: 300 });
    const reply = await send('hello-abc.localhost', '/hold?id=t1', {}, fast);
    assert.equal(reply.status, 504);
    assert.equal(reply.body, 'service hello did not respond within 300 ms\n');
    assert.equal(reply.headers['x-berth-error'], 'RequestTimeout');
    a.release('t1');

    const req = open(fast.httpsPort, 'hello-abc.localhost', '/first-chunk?id=t2');
    req.on('error', () => {});
    req.end();
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    assert.equal(res.statusCode, 200);
    res.on('error', () => {}); // 'aborted': what this test expects
    res.resume();
    await new Promise((resolve) => res.once('close', resolve));
    assert.equal(res.complete, false);
    a.release('t2');
    await noneInFlight(fast);
  });

  test("a route's own request timeout applies, shorter or longer than the router's", async () => {
    const fast = await launch({ requestTimeoutMs: 300 });
    controlPlane.publish({
      routes: [
        ...baseTable.routes,
        { ...route('short-888.localhost', 'short', a), requestTimeoutMs: 400 },
        { ...route('long-888.localhost', 'long', a), requestTimeoutMs: 5000 },
      ],
    });
    try {
      await waitFor(async () => (await statusOf('short-888.localhost')) === 200 && (await statusOf('long-888.localhost', fast)) === 200, 3000, 'the routes with timeouts');
      // The main router's default is 5 s; the route says 400 ms.
      const started = Date.now();
      const reply = await send('short-888.localhost', '/hold?id=rt1');
      const elapsed = Date.now() - started;
      assert.equal(reply.status, 504);
      assert.equal(reply.body, 'service short did not respond within 400 ms\n');
      assert.equal(reply.headers['x-berth-error'], 'RequestTimeout');
      assert.ok(elapsed >= 390 && elapsed < 2000, `timed out after ${elapsed} ms`);
      a.release('rt1');

      // This router's default is 300 ms; the route allows 5 s.
      const held = once(a.events, 'held');
      const slow = send('long-888.localhost', '/hold?id=rt2', {}, fast);
      await held;
      await sleep(700);
      a.release('rt2');
      assert.equal((await slow).status, 200);
      await noneInFlight();
      await noneInFlight(fast);
    } finally {
      controlPlane.publish(baseTable);
    }
  });

  test('the idle timeout ends a request or stream with no bytes either way for that long, not one that keeps going', async () => {
    const host = 'idle-999.localhost';
    controlPlane.publish({ routes: [...baseTable.routes, { ...route(host, 'idle', a), idleTimeoutMs: 400 }] });
    try {
      await waitFor(async () => (await statusOf(host)) === 200, 3000, 'the route with an idle timeout');

      // Nothing from the instance before its head: 504, well before the 5 s request timeout.
      const silent = await send(host, '/hold?id=idle-1');
      assert.equal(silent.status, 504);
      assert.equal(silent.body, 'service idle sent nothing for 400 ms (its idle timeout)\n');
      assert.equal(silent.headers['x-berth-error'], 'RequestTimeout');
      a.release('idle-1');

      // A response that sends a chunk every 100 ms for 1.2 s: complete.
      const drip = await send(host, '/drip?every=100&count=12');
      assert.equal(drip.status, 200);
      assert.equal(drip.body, Array.from({ length: 12 }, (_, i) => `${i}\n`).join(''));

      // An upload that sends a chunk every 100 ms for 1.2 s while the instance says nothing: complete.
      const upload = open(router.httpsPort, host, '/digest', { method: 'POST' });
      const uploaded = once(upload, 'response') as Promise<[IncomingMessage]>;
      for (let i = 0; i < 12; i++) {
        upload.write('chunk\n');
        await sleep(100);
      }
      upload.end();
      const uploadReply = await collect((await uploaded)[0]);
      assert.equal(uploadReply.status, 200, uploadReply.body);
      assert.equal((JSON.parse(uploadReply.body) as { bytes: number }).bytes, 12 * 6);

      // A stream that stops sending after its first chunk: cut after the idle timeout.
      const req = open(router.httpsPort, host, '/first-chunk?id=idle-2');
      req.on('error', () => {});
      req.end();
      const [res] = (await once(req, 'response')) as [IncomingMessage];
      const started = Date.now();
      assert.equal(res.statusCode, 200);
      res.on('error', () => {}); // 'aborted': what this test expects
      res.resume();
      await new Promise((resolve) => res.once('close', resolve));
      const elapsed = Date.now() - started;
      assert.equal(res.complete, false);
      assert.ok(elapsed >= 300 && elapsed < 2000, `cut after ${elapsed} ms`);
      a.release('idle-2');
      await noneInFlight();
    } finally {
      controlPlane.publish(baseTable);
    }
  });

  test('a client that goes away ends the request on the instance and its count', async () => {
    const req = open(router.httpsPort, 'hello-abc.localhost', '/hold?id=gone');
    req.on('error', () => {});
    req.end();
    await once(a.events, 'held');
    assert.equal(router.inFlight().get('hello-0-A'), 1);
    req.destroy();
    await noneInFlight();
    a.release('gone');
  });

  test('a client that goes away mid-upload ends the request and its count', async () => {
    const messages: RequestMessage[] = [];
    const listener = (message: unknown): void => {
      messages.push(message as RequestMessage);
    };
    subscribe('berth:router:request', listener);
    try {
      const req = open(router.httpsPort, 'hello-abc.localhost', '/digest', { method: 'POST' });
      req.on('error', () => {});
      req.write('part of a body');
      await waitFor(() => router.inFlight().get('hello-0-A') === 1, 2000, 'the upload to reach the router');
      await new Promise((resolve) => setTimeout(resolve, 50));
      req.destroy();
      await noneInFlight();
      await waitFor(() => messages.length === 1, 2000, 'the request to end');
      assert.equal(messages[0]!.outcome, 'client-aborted');
    } finally {
      unsubscribe('berth:router:request', listener);
    }
  });

  test('publishes each request on berth:router:request', async () => {
    const messages: RequestMessage[] = [];
    const listener = (message: unknown): void => {
      messages.push(message as RequestMessage);
    };
    subscribe('berth:router:request', listener);
    try {
      await send('world-def.localhost', '/');
      await send('empty-000.localhost', '/');
    } finally {
      unsubscribe('berth:router:request', listener);
    }
    assert.deepEqual(messages.map(({ host, method, serviceName, instanceId, statusCode, outcome }) => ({ host, method, serviceName, instanceId, statusCode, outcome })), [
      { host: 'world-def.localhost', method: 'GET', serviceName: 'world', instanceId: 'world-0-B', statusCode: 200, outcome: 'completed' },
      { host: 'empty-000.localhost', method: 'GET', serviceName: 'empty', instanceId: '', statusCode: 503, outcome: 'no-instance' },
    ]);
  });

  test('HTTP redirects to HTTPS: 301 for GET, 308 for POST, path and query kept', async () => {
    const plain = (method: string, path: string, host: string): Promise<Reply> =>
      new Promise((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: router.httpPort, method, path, headers: { host }, agent: false }, (res) => collect(res).then(resolve, reject));
        req.once('error', reject);
        req.end(method === 'POST' ? 'data' : undefined);
      });
    const get = await plain('GET', '/a/b?x=1&y=2', `hello-abc.localhost:${router.httpPort}`);
    assert.equal(get.status, 301);
    assert.equal(get.headers.location, `https://hello-abc.localhost:${router.httpsPort}/a/b?x=1&y=2`);
    const post = await plain('POST', '/form', 'hello-abc.localhost');
    assert.equal(post.status, 308);
    assert.equal(post.headers.location, `https://hello-abc.localhost:${router.httpsPort}/form`);
    assert.equal((await plain('GET', '/', 'bad host!')).status, 400);

    // On the standard port the Location carries none.
    const server = createServer(createHttpsRedirectHandler(443)).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    const reply = await new Promise<Reply>((resolve, reject) => {
      httpRequest({ host: '127.0.0.1', port, path: '/p', headers: { host: `Hello-ABC.localhost:${port}` }, agent: false }, (res) => collect(res).then(resolve, reject)).end();
    });
    server.close();
    assert.equal(reply.headers.location, 'https://hello-abc.localhost/p');
  });

  test('serves a certificate for exactly the requested service host, signed by the local CA; other names get localhost', async () => {
    const peer = async (servername: string): Promise<{ authorized: boolean; cert: PeerCertificate }> => {
      const socket = tlsConnect({ host: '127.0.0.1', port: router.httpsPort, servername, ca, checkServerIdentity: () => undefined });
      await once(socket, 'secureConnect');
      const result = { authorized: socket.authorized, cert: socket.getPeerCertificate() };
      socket.destroy();
      return result;
    };
    const routed = await peer('hello-abc.localhost');
    assert.equal(routed.authorized, true);
    assert.equal(routed.cert.subjectaltname, 'DNS:hello-abc.localhost');
    const x509 = new X509Certificate(routed.cert.raw);
    assert.equal(x509.checkIssued(new X509Certificate(ca)), true);
    assert.equal(x509.checkHost('hello-abc.localhost'), 'hello-abc.localhost');

    // A name under the services' domain gets its own certificate even without a route, so a
    // client of a service that is gone reads a 404 instead of a certificate error.
    const unknown = await peer('nobody-999.localhost');
    assert.equal(unknown.authorized, true);
    assert.equal(unknown.cert.subjectaltname, 'DNS:nobody-999.localhost');
    assert.equal(await statusOf('nobody-999.localhost'), 404);
    // Names outside the domain, or deeper in it, get the default certificate.
    assert.equal((await peer('example.org')).cert.subjectaltname, 'DNS:localhost');
    assert.equal((await peer('a.b.localhost')).cert.subjectaltname, 'DNS:localhost');
  });

  test('route updates from the control plane take effect', async () => {
    controlPlane.publish({ routes: [...baseTable.routes, route('new-333.localhost', 'new', b)] });
    await waitFor(async () => (await statusOf('new-333.localhost')) === 200, 3000, 'the new route');
    assert.equal((await echo('new-333.localhost')).server, 'B');

    // The host keeps its certificate: a client of a removed service gets a verifiable 404.
    controlPlane.publish(baseTable);
    await waitFor(async () => (await statusOf('new-333.localhost')) === 404, 3000, 'the route to go');
  });

  test('reuses keep-alive connections to an instance, and closes them when it leaves the table', async () => {
    const c = await new Upstream('C').start();
    let connections = 0;
    c.server.on('connection', () => connections++);
    const connectionsOpen = (): Promise<number> => new Promise((resolve, reject) => c.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
    try {
      controlPlane.publish({ routes: [...baseTable.routes, route('c-666.localhost', 'c', c)] });
      await waitFor(async () => (await statusOf('c-666.localhost')) === 200, 3000, 'the route to C');
      for (let i = 0; i < 5; i++) assert.equal((await echo('c-666.localhost')).server, 'C');
      assert.equal(connections, 1);

      controlPlane.publish(baseTable);
      await waitFor(async () => (await connectionsOpen()) === 0, 3000, "the router to close C's connections");
    } finally {
      controlPlane.publish(baseTable);
      await c.close();
    }
  });

  test('drains a withdrawn instance: its request in flight completes, new ones go to the new instance, reports say when it is done', async () => {
    const c = await new Upstream('C').start();
    const connectionsOpen = (): Promise<number> => new Promise((resolve, reject) => c.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
    const host = 'drain-777.localhost';
    const onC = { routes: [...baseTable.routes, route(host, 'drain', c)] };
    const onB = { routes: [...baseTable.routes, route(host, 'drain', b)] };
    const mine = (): Array<{ report: RouterReport; at: number }> => controlPlane.reports.filter(({ report }) => report.routerId === router.routerId);
    try {
      controlPlane.publish(onC);
      await waitFor(async () => (await statusOf(host)) === 200, 3000, 'the route to C');
      const held = once(c.events, 'held');
      const slow = send(host, '/hold?id=drain-1');
      await held;

      controlPlane.publish(onB);
      await waitFor(async () => (await echo(host)).server === 'B', 3000, 'the route to B');
      for (let i = 0; i < 3; i++) assert.equal((await echo(host)).server, 'B');
      assert.equal(router.inFlight().get('drain-0-C'), 1);
      assert.equal(router.inFlight().get('drain-0-B'), 0);
      const tag = routeTableTag(onB);
      await waitFor(() => mine().some(({ report }) => report.tableTag === tag && report.instances['drain-0-C'] === 1 && report.instances['drain-0-B'] === 0), 3000, 'a report with C draining');
      assert.ok(await connectionsOpen() > 0, 'the connection to C was closed while a request ran on it');

      // Released just after a report arrived, so the next one a second later is not due yet:
      // one within 100 ms is the one for the drained instance.
      const count = mine().length;
      await waitFor(() => mine().length > count, 3000, 'the next report');
      const released = Date.now();
      c.release('drain-1');
      const reply = await slow;
      assert.equal(reply.status, 200);
      assert.equal((JSON.parse(reply.body) as Echo).server, 'C');
      const drained = (): { report: RouterReport; at: number } | undefined => mine().find(({ report, at }) => at >= released && !('drain-0-C' in report.instances));
      await waitFor(() => drained() !== undefined, 2000, 'a report without C');
      const { report, at } = drained()!;
      assert.ok(at - released < 100, `the report came ${at - released} ms after the last request ended`);
      assert.equal(report.tableTag, tag);
      assert.equal(report.instances['drain-0-B'], 0);
      assert.equal(router.inFlight().has('drain-0-C'), false);
      await waitFor(async () => (await connectionsOpen()) === 0, 3000, "the router to close C's connections");
    } finally {
      controlPlane.publish(baseTable);
      await c.close();
    }
  });

  test('an instance that comes back while draining keeps its count and its connections', async () => {
    const c = await new Upstream('C').start();
    let connections = 0;
    c.server.on('connection', () => connections++);
    const host = 'again-778.localhost';
    const onC = { routes: [...baseTable.routes, route(host, 'again', c)] };
    try {
      controlPlane.publish(onC);
      await waitFor(async () => (await statusOf(host)) === 200, 3000, 'the route to C');
      const held = once(c.events, 'held');
      const slow = send(host, '/hold?id=again-1');
      await held;
      const before = connections;
      controlPlane.publish({ routes: [...baseTable.routes, route(host, 'again', b)] });
      await waitFor(async () => (await echo(host)).server === 'B', 3000, 'the route to B');
      // Back, without a request to C meanwhile (which would need a connection of its own).
      controlPlane.publish(onC);
      await waitFor(() => !router.inFlight().has('again-0-B'), 3000, 'the route back to C');
      assert.equal(router.inFlight().get('again-0-C'), 1);
      c.release('again-1');
      assert.equal((await slow).status, 200);
      await noneInFlight();
      // The connection the held request used serves the next ones: the pool was never closed.
      for (let i = 0; i < 3; i++) assert.equal((await echo(host)).server, 'C');
      assert.equal(connections, before);
    } finally {
      controlPlane.publish(baseTable);
      await c.close();
    }
  });

  /** The reports `of` sent, oldest first. */
  const reportsOf = (of: Router): Array<{ report: RouterReport; at: number }> => controlPlane.reports.filter(({ report }) => report.routerId === of.routerId);

  /** Resolves once `of` has sent `count` more reports: the next periodic one is then about a second away. */
  const nextReports = async (of: Router, count = 1): Promise<void> => {
    const seen = reportsOf(of).length;
    await waitFor(() => reportsOf(of).length >= seen + count, 3000, `${count} more report(s)`);
  };

  test('maxConcurrency caps the requests an instance gets at once; the others wait their turn, and all complete', async () => {
    const c = await new Upstream('C').start();
    const host = 'capped-131.localhost';
    const held: string[] = [];
    c.events.on('held', (id: string) => held.push(id));
    try {
      controlPlane.publish({ routes: [...baseTable.routes, { ...route(host, 'capped', c), maxConcurrency: 2 }] });
      await waitFor(async () => (await statusOf(host)) === 200, 3000, 'the capped route');
      const replies = Array.from({ length: 5 }, (_, i) => send(host, `/hold?id=cap-${i}`));
      await waitFor(() => held.length === 2, 3000, 'two requests on the instance');
      // Give the three others every chance to get through if the cap did not hold.
      await sleep(200);
      assert.equal(held.length, 2);
      assert.equal(c.active, 2);
      assert.equal(router.inFlight().get('capped-0-C'), 2);
      // Each request that ends lets one waiting request in.
      for (let released = 0; released < 5; released++) {
        c.release(held[released]!);
        await waitFor(() => held.length === Math.min(5, released + 3), 3000, `request ${released + 3} on the instance`);
      }
      const statuses = (await Promise.all(replies)).map((reply) => reply.status);
      assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
      assert.equal(c.maxActive, 2);
      assert.deepEqual([...held].sort(), ['cap-0', 'cap-1', 'cap-2', 'cap-3', 'cap-4']);
      await noneInFlight();
    } finally {
      controlPlane.publish(baseTable);
      await c.close();
    }
  });

  test('503 NoCapacity with Retry-After when no instance has room within the queue timeout, or the queue is full', async () => {
    const c = await new Upstream('C').start();
    const host = 'full-132.localhost';
    const small = await launch({ queueTimeoutMs: 300, queueLimit: 1, routesCacheFile: join(dir, 'small', 'routes.json') });
    try {
      controlPlane.publish({ routes: [...baseTable.routes, { ...route(host, 'full', c), maxConcurrency: 1 }] });
      await waitFor(async () => (await statusOf(host, small)) === 200, 3000, 'the capped route');
      const held = once(c.events, 'held');
      const running = send(host, '/hold?id=full-1', {}, small);
      await held;

      const started = Date.now();
      const waiting = send(host, '/', {}, small);
      await sleep(50);
      // The queue (one request) is full: refused at once.
      const full = await send(host, '/', {}, small);
      assert.equal(full.status, 503);
      assert.equal(full.body, "too many requests wait for an instance of service full (1, the router's queue limit)\n");
      assert.equal(full.headers['x-berth-error'], 'NoCapacity');
      assert.equal(full.headers['retry-after'], '1');
      assert.ok(Date.now() - started < 250, `the full queue answered after ${Date.now() - started} ms`);

      const timedOut = await waiting;
      const elapsed = Date.now() - started;
      assert.equal(timedOut.status, 503);
      assert.equal(timedOut.body, 'no instance of service full could take the request within 300 ms\n');
      assert.equal(timedOut.headers['x-berth-error'], 'NoCapacity');
      assert.equal(timedOut.headers['retry-after'], '1');
      assert.ok(elapsed >= 290 && elapsed < 2000, `gave up after ${elapsed} ms`);

      c.release('full-1');
      assert.equal((await running).status, 200);
      // The instance only ever saw the first request.
      assert.equal(c.maxActive, 1);
      await nextReports(small);
      const rejected = reportsOf(small).reduce((sum, { report }) => sum + (report.services?.['full-id']?.rejected ?? 0), 0);
      assert.equal(rejected, 2);
      await noneInFlight(small);
    } finally {
      controlPlane.publish(baseTable);
      await c.close();
    }
  });

  test('a waiting request whose client goes away leaves the queue and never reaches the instance', async () => {
    const c = await new Upstream('C').start();
    const host = 'gone-133.localhost';
    const held: string[] = [];
    c.events.on('held', (id: string) => held.push(id));
    try {
      controlPlane.publish({ routes: [...baseTable.routes, { ...route(host, 'gone', c), maxConcurrency: 1 }] });
      await waitFor(async () => (await statusOf(host)) === 200, 3000, 'the capped route');
      const running = send(host, '/hold?id=gone-1');
      await waitFor(() => held.length === 1, 3000, 'the first request on the instance');
      await nextReports(router);
      const req = open(router.httpsPort, host, '/hold?id=gone-2');
      req.on('error', () => {});
      req.end();
      await waitFor(() => reportsOf(router).at(-1)!.report.services?.['gone-id']?.queued === 1, 3000, 'a report with the request waiting');
      req.destroy();
      await waitFor(() => reportsOf(router).at(-1)!.report.services?.['gone-id']?.queued === 0, 3000, 'a report with none waiting');
      c.release('gone-1');
      assert.equal((await running).status, 200);
      // The slot it would have taken serves the next request.
      assert.equal((await echo(host)).server, 'C');
      assert.deepEqual(held, ['gone-1']);
      await noneInFlight();
    } finally {
      controlPlane.publish(baseTable);
      await c.close();
    }
  });

  test('a held route without instances keeps the request, reports the demand at once, and serves it when an instance comes', async () => {
    const c = await new Upstream('C').start();
    const host = 'cold-134.localhost';
    const cold = { ...route(host, 'cold'), hold: true };
    try {
      controlPlane.publish({ routes: [...baseTable.routes, cold] });
      await waitFor(() => router.inFlight().size > 0 && reportsOf(router).at(-1)!.report.services?.['cold-id'] !== undefined, 3000, 'the held route');
      // Just after a report, the next periodic one is a second away: one within 100 ms is the demand's.
      await nextReports(router);
      const sent = Date.now();
      const reply = send(host, '/first?x=1', { method: 'POST', body: 'kept while waiting' });
      await waitFor(() => reportsOf(router).some(({ report, at }) => at >= sent && report.services?.['cold-id']?.queued === 1), 2000, 'a report of the waiting request');
      const { report, at } = reportsOf(router).find(({ report, at }) => at >= sent && report.services?.['cold-id']?.queued === 1)!;
      assert.ok(at - sent < 100, `the demand was reported ${at - sent} ms after the request was sent`);
      assert.equal(report.services!['cold-id']!.arrivals, 1);
      await sleep(200);
      assert.equal(c.active, 0);

      controlPlane.publish({ routes: [...baseTable.routes, { ...cold, targets: [{ instanceId: 'cold-0-C', address: c.address }] }] });
      const served = await reply;
      assert.equal(served.status, 200, served.body);
      const seen = JSON.parse(served.body) as Echo;
      assert.equal(seen.server, 'C');
      assert.equal(seen.method, 'POST');
      assert.equal(seen.url, '/first?x=1');
      await noneInFlight();
    } finally {
      controlPlane.publish(baseTable);
      await c.close();
    }
  });

  test('a held route gives up with 503 NoCapacity after the queue timeout; a paused one still answers ServicePaused at once', async () => {
    const quick = await launch({ queueTimeoutMs: 300, routesCacheFile: join(dir, 'quick', 'routes.json') });
    const host = 'cold-135.localhost';
    try {
      controlPlane.publish({ routes: [...baseTable.routes, { ...route(host, 'frozen'), hold: true }, { ...route('sleepy-135.localhost', 'sleepy'), hold: true, paused: true }] });
      await waitFor(async () => (await statusOf('sleepy-135.localhost', quick)) === 503, 3000, 'the held routes');
      const started = Date.now();
      const reply = await send(host, '/', {}, quick);
      const elapsed = Date.now() - started;
      assert.equal(reply.status, 503);
      assert.equal(reply.headers['x-berth-error'], 'NoCapacity');
      assert.equal(reply.headers['retry-after'], '1');
      assert.equal(reply.body, 'no instance of service frozen could take the request within 300 ms\n');
      assert.ok(elapsed >= 290 && elapsed < 2000, `gave up after ${elapsed} ms`);
      const paused = await send('sleepy-135.localhost', '/', {}, quick);
      assert.equal(paused.headers['x-berth-error'], 'ServicePaused');
    } finally {
      controlPlane.publish(baseTable);
    }
  });

  test('reports each service\'s load: time-weighted concurrency, requests waiting, arrivals', async () => {
    const c = await new Upstream('C').start();
    const host = 'load-136.localhost';
    const loads = (): Array<ServiceLoad> => reportsOf(router).flatMap(({ report }) => report.services?.['load-id'] ?? []);
    const latest = (): ServiceLoad | undefined => loads().at(-1);
    try {
      // Adopted without a request to it, so every arrival reported is one of the three below.
      controlPlane.publish({ routes: [...baseTable.routes, { ...route(host, 'load', c), maxConcurrency: 2 }] });
      await waitFor(() => router.inFlight().has('load-0-C'), 3000, 'the route');
      const replies = [send(host, '/hold?id=load-1'), send(host, '/hold?id=load-2'), send(host, '/hold?id=load-3')];
      await waitFor(() => latest()?.queued === 1, 3000, 'a report with one request waiting');
      // The next interval has two requests in flight and one waiting all along.
      await nextReports(router);
      const steady = latest()!;
      assert.ok(Math.abs(steady.concurrency - 3) < 1e-9, `concurrency ${steady.concurrency}, not 3`);
      assert.deepEqual({ ...steady, concurrency: 3, intervalMs: 0 }, { concurrency: 3, queued: 1, arrivals: 0, rejected: 0, intervalMs: 0 });
      assert.ok(steady.intervalMs > 900 && steady.intervalMs < 1500, `interval ${steady.intervalMs} ms`);
      assert.equal(loads().reduce((sum, load) => sum + load.arrivals, 0), 3);
      assert.equal(c.active, 2);

      // Two requests held for a whole interval: concurrency 2.
      c.release('load-1');
      await waitFor(() => latest()?.queued === 0, 3000, 'a report with none waiting');
      await nextReports(router);
      const two = latest()!;
      assert.ok(Math.abs(two.concurrency - 2) < 1e-9, `concurrency ${two.concurrency}, not 2`);
      assert.equal(c.maxActive, 2);

      const seen = loads().length;
      c.release('load-2');
      c.release('load-3');
      for (const reply of await Promise.all(replies)) assert.equal(reply.status, 200);
      await waitFor(() => latest()?.concurrency === 0, 3000, 'a report with no load');
      // The interval in which they ended: between 0 and 2, by how long they still ran in it.
      const ending = loads().slice(seen).find((load) => load.concurrency < 2)!;
      assert.ok(ending.concurrency > 0, `concurrency ${ending.concurrency}`);
      assert.equal(loads().reduce((sum, load) => sum + load.arrivals, 0), 3);
    } finally {
      controlPlane.publish(baseTable);
      await c.close();
    }
  });

  test('a table the router cannot read is refused and the routes held are kept', async () => {
    const errors: FeedErrorMessage[] = [];
    const listener = (message: unknown): void => {
      errors.push(message as FeedErrorMessage);
    };
    subscribe('berth:router:feed-error', listener);
    try {
      controlPlane.mode = 'garbage';
      controlPlane.publish({ routes: [route('hello-abc.localhost', 'hello', b)] });
      await waitFor(() => errors.length > 0, 3000, 'a feed error');
      assert.match(errors[0]!.error.message, /route table the router cannot use/);
      assert.equal((await echo('hello-abc.localhost')).server, 'A');
    } finally {
      unsubscribe('berth:router:feed-error', listener);
      controlPlane.mode = 'normal';
      controlPlane.publish(baseTable);
    }
  });

  test('follows the real control plane feed server, and reports to it', async () => {
    const feed = new ControlPlaneFeed();
    const reports: RouterReport[] = [];
    const server = createControlServer(feed, { onReport: (report) => reports.push(report) });
    const socketPath = join(dir, 'real-control.sock');
    server.listen(socketPath);
    await once(server, 'listening');
    const follower = await launch({ controlSocketPath: socketPath, routesCacheFile: join(dir, 'real', 'routes.json') });
    try {
      feed.publish({ routes: [route('real-444.localhost', 'real', a)] });
      await waitFor(async () => (await statusOf('real-444.localhost', follower)) === 200, 3000, 'the route from the real feed');
      const table = { routes: [route('real-444.localhost', 'real', b)] };
      feed.publish(table);
      await waitFor(async () => JSON.parse((await send('real-444.localhost', '/', {}, follower)).body).server === 'B', 3000, 'the updated route');
      await waitFor(() => reports.some((report) => report.routerId === follower.routerId && report.tableTag === routeTableTag(table)), 3000, 'a report from the router');
      const last = reports.findLast((report) => report.routerId === follower.routerId)!;
      assert.deepEqual(last.instances, { 'real-0-B': 0 });
      assert.deepEqual(Object.keys(last.services ?? {}), ['real-id']);
    } finally {
      feed.close();
      server.closeAllConnections();
      server.close();
    }
  });

  test('the control socket takes reports: 204 and the callback for a valid one, 400 with the reason otherwise', async () => {
    const feed = new ControlPlaneFeed();
    const received: RouterReport[] = [];
    const server = createControlServer(feed, { onReport: (report) => received.push(report) });
    const socketPath = join(dir, 'reports.sock');
    server.listen(socketPath);
    await once(server, 'listening');
    const post = (body: string | undefined, method = 'POST', path = '/v1/reports', headers: Record<string, string> = {}): Promise<Reply> =>
      new Promise((resolve, reject) => {
        const req = httpRequest({ socketPath, method, path, headers: { 'content-type': 'application/json', ...headers }, agent: false }, (res) => collect(res).then(resolve, reject));
        req.once('error', reject);
        if (body === undefined) req.flushHeaders();
        else req.end(body);
      });
    try {
      const load = { concurrency: 1.25, queued: 2, arrivals: 10, rejected: 0, intervalMs: 1000.5 };
      const valid: RouterReport = { routerId: 'router-1', tableTag: '0a1b2c3d-2', instances: { i1: 0, i2: 3 }, services: { s1: load, ['__proto__']: { ...load, concurrency: 0 } } };
      const ok = await post(JSON.stringify(valid));
      assert.equal(ok.status, 204);
      assert.deepEqual(received, [valid]);
      assert.deepEqual(Object.keys(received[0]!.services!), ['s1', '__proto__']);
      assert.equal((await post(JSON.stringify({ routerId: 'router-1', tableTag: '', instances: {} }))).status, 204);
      assert.equal(received.length, 2);
      assert.equal('services' in received[1]!, false);

      const many = Object.fromEntries(Array.from({ length: 10_001 }, (_, i) => [`i${i}`, 0]));
      const manyServices = Object.fromEntries(Array.from({ length: 10_001 }, (_, i) => [`s${i}`, load]));
      const withLoad = (figures: Record<string, unknown>): string => JSON.stringify({ ...valid, services: { s1: { ...load, ...figures } } });
      const bad: Array<[string, RegExp]> = [
        ['{"routerId": ', /^a report must be JSON: /],
        ['[]', /^a report must be a JSON object, got '\[\]'$/],
        [JSON.stringify({ ...valid, routerId: '' }), /^routerId must be a string of 1 to 100 characters, got ''$/],
        [JSON.stringify({ ...valid, routerId: 'r'.repeat(101) }), /^routerId must be a string of 1 to 100 characters/],
        [JSON.stringify({ tableTag: 't', instances: {} }), /^routerId must be a string/],
        [JSON.stringify({ ...valid, tableTag: 7 }), /^tableTag must be a string of at most 100 characters, got '7'$/],
        [JSON.stringify({ ...valid, instances: [] }), /^instances must be an object of instance id to requests in flight/],
        [JSON.stringify({ ...valid, instances: { i1: -1 } }), /^instances.i1 must be a whole number of requests, 0 or more, got '-1'$/],
        [JSON.stringify({ ...valid, instances: { i1: 1.5 } }), /^instances.i1 must be a whole number/],
        [JSON.stringify({ ...valid, instances: { i1: '1' } }), /^instances.i1 must be a whole number/],
        [JSON.stringify({ ...valid, instances: { '': 1 } }), /^instance ids in instances must have 1 to 100 characters/],
        [JSON.stringify({ ...valid, instances: many }), /^instances may list at most 10000 instances, got 10001$/],
        [JSON.stringify({ ...valid, extra: true }), /^a report has routerId, tableTag, instances and services only, not 'extra'$/],
        [JSON.stringify({ ...valid, services: [] }), /^services must be an object of service id to load, got '\[\]'$/],
        [JSON.stringify({ ...valid, services: manyServices }), /^services may list at most 10000 services, got 10001$/],
        [JSON.stringify({ ...valid, services: { '': load } }), /^service ids in services must have 1 to 100 characters/],
        [JSON.stringify({ ...valid, services: { s1: 3 } }), /^services.s1 must be an object with concurrency, queued, arrivals, rejected, intervalMs, got '3'$/],
        [withLoad({ extra: 1 }), /^services.s1 has concurrency, queued, arrivals, rejected, intervalMs only, not 'extra'$/],
        [withLoad({ concurrency: undefined }), /^services.s1.concurrency must be a finite number, 0 or more, got 'undefined'$/],
        [withLoad({ concurrency: -0.5 }), /^services.s1.concurrency must be a finite number, 0 or more, got '-0.5'$/],
        [withLoad({ intervalMs: '1000' }), /^services.s1.intervalMs must be a finite number/],
        [withLoad({ queued: 1.5 }), /^services.s1.queued must be a whole number of requests, 0 or more, got '1.5'$/],
        [withLoad({ arrivals: -1 }), /^services.s1.arrivals must be a whole number of requests/],
        [withLoad({ rejected: 1e300 }), /^services.s1.rejected must be a whole number of requests/],
      ];
      for (const [body, reason] of bad) {
        const reply = await post(body);
        assert.equal(reply.status, 400, body.slice(0, 100));
        assert.ok(reply.body.endsWith('\n') && !reply.body.slice(0, -1).includes('\n'), `not one line: ${reply.body}`);
        assert.match(reply.body.slice(0, -1), reason);
      }
      assert.equal(received.length, 2);

      const get = await post(undefined, 'GET');
      assert.equal(get.status, 405);
      assert.equal(get.headers.allow, 'POST');
      assert.equal((await post('{}', 'POST', '/v1/unknown')).status, 404);
      const tooLarge = await post(undefined, 'POST', '/v1/reports', { 'content-length': String(5 * 1024 * 1024) });
      assert.equal(tooLarge.status, 413);
      assert.equal(received.length, 2);

      // Without a callback the server still takes reports.
      const plain = createControlServer(feed);
      const plainPath = join(dir, 'plain.sock');
      plain.listen(plainPath);
      await once(plain, 'listening');
      try {
        const reply = await new Promise<Reply>((resolve, reject) => {
          const req = httpRequest({ socketPath: plainPath, method: 'POST', path: '/v1/reports', agent: false }, (res) => collect(res).then(resolve, reject));
          req.once('error', reject);
          req.end(JSON.stringify(valid));
        });
        assert.equal(reply.status, 204);
      } finally {
        plain.close();
      }
    } finally {
      feed.close();
      server.closeAllConnections();
      server.close();
    }
  });

  test('keeps serving the last routes while the control plane is down, and follows it again when it is back', async () => {
    await controlPlane.stop();
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal((await echo('hello-abc.localhost')).server, 'A');
    assert.equal((await echo('world-def.localhost')).server, 'B');
    assert.equal((await send('empty-000.localhost')).status, 503);

    // A router started now, with the control plane still down, serves from the cache file.
    const cached = JSON.parse(await readFile(join(dir, 'run', 'routes.json'), 'utf8')) as { tag: string };
    assert.equal(cached.tag, routeTableTag(baseTable));
    const restarted = await launch();
    const reply = await send('hello-abc.localhost', '/', {}, restarted);
    assert.equal(reply.status, 200);
    assert.equal((JSON.parse(reply.body) as Echo).server, 'A');

    controlPlane.table = { routes: [...baseTable.routes, route('back-555.localhost', 'back', a)] };
    await controlPlane.start();
    const back = Date.now();
    await waitFor(async () => (await statusOf('back-555.localhost')) === 200, 3000, 'the router to follow the control plane again');
    // Reports failed while it was away, silently; they start again.
    await waitFor(() => controlPlane.reports.some(({ report, at }) => at >= back && report.routerId === router.routerId && report.tableTag === controlPlane.tag), 3000, 'reports again');
    await waitFor(async () => (await statusOf('back-555.localhost', restarted)) === 200, 3000, 'the restarted router to follow it too');
  });

  test('closing lets requests in flight finish, then stops', async () => {
    const closing = await launch();
    const req = open(closing.httpsPort, 'hello-abc.localhost', '/hold?id=drain');
    const response = once(req, 'response') as Promise<[IncomingMessage]>;
    req.end();
    await once(a.events, 'held');
    const closed = closing.close(5000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await assert.rejects(send('hello-abc.localhost', '/', {}, closing), /ECONNREFUSED/);
    a.release('drain');
    const [res] = await response;
    assert.equal((await collect(res)).status, 200);
    await closed;
  });

  test('closing cuts what is still running after the grace period', async () => {
    const closing = await launch();
    const req = open(closing.httpsPort, 'hello-abc.localhost', '/hold?id=cut');
    const failed = new Promise<Error>((resolve) => req.once('error', resolve));
    req.end();
    await once(a.events, 'held');
    // A client that connected and never finished its handshake must not hold the close either.
    const idle = tlsConnect({ host: '127.0.0.1', port: closing.httpsPort, servername: 'hello-abc.localhost', ca });
    idle.on('error', () => {});
    const started = Date.now();
    await closing.close(200);
    assert.ok(Date.now() - started < 2000, `close took ${Date.now() - started} ms`);
    assert.match((await failed).message, /socket hang up|ECONNRESET/);
    a.release('cut');
    idle.destroy();
  });

  test('no request is left counted in flight', async () => {
    for (const r of routers) await noneInFlight(r);
  });
});

/**
 * @module
 * The control plane's side of the route feed (see src/core/routes.ts): `GET /v1/routes?wait=N`
 * with `If-None-Match: "<tag>"` answers at once with a newer table, or holds the request until
 * one is published or N seconds pass (then 304). Until the first table is published (a
 * restarted control plane still probing what runs) requests are held, so routers keep theirs.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { routeTableTag, type RouteTable } from '../../core/routes.ts';

export class RouteFeed {
  #current: { table: RouteTable; tag: string; body: string } | undefined;
  readonly #waiters = new Set<() => void>();

  publish(table: RouteTable): void {
    const tag = routeTableTag(table);
    if (this.#current?.tag === tag) return;
    this.#current = { table, tag, body: JSON.stringify(table) };
    for (const wake of [...this.#waiters]) wake();
  }

  get current(): RouteTable | undefined {
    return this.#current?.table;
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://control');
    if (req.method !== 'GET' || url.pathname !== '/v1/routes') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const waitSeconds = Math.min(Math.max(Number(url.searchParams.get('wait') ?? 0) || 0, 0), 60);
    const known = (req.headers['if-none-match'] ?? '').replaceAll('"', '');
    const answer = (): boolean => {
      if (this.#current === undefined) return false;
      if (this.#current.tag === known) return false;
      res.writeHead(200, { 'content-type': 'application/json', etag: `"${this.#current.tag}"` }).end(this.#current.body);
      return true;
    };
    if (answer()) return;
    const timer = setTimeout(() => {
      this.#waiters.delete(wake);
      if (this.#current !== undefined) res.writeHead(304, { etag: `"${this.#current.tag}"` }).end();
      else res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' }).end('no route table yet\n');
    }, waitSeconds * 1000);
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

  /** Releases held requests (at shutdown). */
  close(): void {
    for (const wake of [...this.#waiters]) wake();
  }
}

export function createControlServer(feed: RouteFeed): Server {
  return createServer((req, res) => feed.handle(req, res));
}

/**
 * @module
 * The route table being served, indexed by host, and its copy on disk. The copy is what lets a
 * router that restarts while the control plane is down serve at once: the table is loaded from
 * it at start and rewritten (temporary file, fsync, rename) whenever it changes. Writes happen
 * off the request path; a burst of changes writes the latest table once.
 */

import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Route, RouteTable } from '../../core/routes.ts';
import { cacheErrorChannel, routesChannel, type CacheErrorMessage, type RoutesMessage } from './diagnostics.ts';
import { parseRouteTable } from './parse-route-table.ts';

export type RouteTableListener = (table: RouteTable) => void;

const CACHE_VERSION = 1;

interface CacheFile {
  version: typeof CACHE_VERSION;
  tag: string;
  table: RouteTable;
}

export class RouteTableStore {
  readonly cacheFile: string;
  #table: RouteTable = { routes: [] };
  #tag = '';
  #byHost = new Map<string, Route>();
  readonly #listeners = new Set<RouteTableListener>();
  #writing: Promise<void> | null = null;
  #writeAgain = false;

  /** Opens the store with the table kept in `cacheFile`, or an empty one when there is none. */
  static async open(cacheFile: string): Promise<RouteTableStore> {
    const store = new RouteTableStore(cacheFile);
    const cached = await readCache(cacheFile);
    if (cached !== undefined) store.#install(cached.table, cached.tag, 'cache');
    return store;
  }

  private constructor(cacheFile: string) {
    this.cacheFile = cacheFile;
  }

  get table(): RouteTable {
    return this.#table;
  }

  /** The tag of the table served; empty before any table was received. */
  get tag(): string {
    return this.#tag;
  }

  /** The route for a host key (see `hostKey`). */
  get(host: string): Route | undefined {
    return this.#byHost.get(host);
  }

  /**
   * Serves `table` from now on and saves it, unless it has the tag already served. Listeners run
   * before this returns, so the next request sees the table and everything derived from it.
   */
  replace(table: RouteTable, tag: string): boolean {
    if (tag === this.#tag) return false;
    this.#install(table, tag, 'control-plane');
    this.#save();
    return true;
  }

  /** Calls `listener` with the table now and after every change; returns a function that unsubscribes it. */
  subscribe(listener: RouteTableListener): () => void {
    this.#listeners.add(listener);
    listener(this.#table);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves once the table served has been written to the cache file (or failed to be). */
  async flush(): Promise<void> {
    while (this.#writing !== null) await this.#writing;
  }

  #install(table: RouteTable, tag: string, source: RoutesMessage['source']): void {
    const byHost = new Map<string, Route>();
    for (const route of table.routes) byHost.set(route.host, route);
    this.#table = table;
    this.#tag = tag;
    this.#byHost = byHost;
    for (const listener of this.#listeners) listener(table);
    if (routesChannel.hasSubscribers) {
      routesChannel.publish({ tag, routeCount: table.routes.length, source } satisfies RoutesMessage);
    }
  }

  #save(): void {
    if (this.#writing !== null) {
      this.#writeAgain = true;
      return;
    }
    this.#writing = this.#writeLatest().finally(() => {
      this.#writing = null;
    });
  }

  async #writeLatest(): Promise<void> {
    do {
      this.#writeAgain = false;
      const cache: CacheFile = { version: CACHE_VERSION, tag: this.#tag, table: this.#table };
      try {
        await writeAtomically(this.cacheFile, JSON.stringify(cache));
      } catch (err) {
        publishCacheError(this.cacheFile, 'write', err);
      }
    } while (this.#writeAgain);
  }
}

async function readCache(file: string): Promise<{ table: RouteTable; tag: string } | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') publishCacheError(file, 'read', err);
    return undefined;
  }
  // A damaged cache is reported and ignored: the control plane will send the table again.
  try {
    const cache = JSON.parse(text) as Partial<CacheFile> | null;
    if (cache?.version !== CACHE_VERSION || typeof cache.tag !== 'string' || cache.tag === '') {
      throw new Error(`expected {"version":${CACHE_VERSION},"tag":"...","table":{...}}`);
    }
    return { table: parseRouteTable(cache.table), tag: cache.tag };
  } catch (err) {
    publishCacheError(file, 'read', err);
    return undefined;
  }
}

let temporaries = 0;

/** Replaces `file` so that a reader, or a restart after a crash, sees the old or the new content. */
async function writeAtomically(file: string, contents: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.${++temporaries}.tmp`;
  const handle = await open(temporary, 'w', 0o644);
  try {
    await handle.writeFile(contents);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temporary, file);
  } catch (err) {
    await unlink(temporary).catch(() => {});
    throw err;
  }
}

function publishCacheError(file: string, operation: CacheErrorMessage['operation'], err: unknown): void {
  if (cacheErrorChannel.hasSubscribers) {
    cacheErrorChannel.publish({ file, operation, error: asError(err) } satisfies CacheErrorMessage);
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

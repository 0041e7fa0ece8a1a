/**
 * @module
 * The route table: what the control plane tells the router. The router needs nothing else to
 * serve, so it keeps serving on the last table it received while the control plane is away.
 */

export interface RouteTarget {
  /** Berth's instance id. */
  instanceId: string;
  /** `host:port` reachable from the router's machine. */
  address: string;
}

export interface Route {
  /** The host name the service answers on (its ServiceUrl), lower case, no port. */
  host: string;
  serviceId: string;
  serviceName: string;
  /** Healthy instances to balance across; empty means the service cannot answer now (503). */
  targets: RouteTarget[];
}

export interface RouteTable {
  routes: Route[];
}

/** A stable tag for a table, so watchers can ask "anything newer than this?". */
export function routeTableTag(table: RouteTable): string {
  const canonical = [...table.routes]
    .sort((a, b) => (a.host < b.host ? -1 : 1))
    .map((r) => `${r.host}=${r.serviceId}:${[...r.targets].map((t) => `${t.instanceId}@${t.address}`).sort().join(',')}`)
    .join(';');
  // FNV-1a, 32 bits: enough to tell tables apart; not a security boundary.
  let hash = 0x811c9dc5;
  for (let i = 0; i < canonical.length; i++) {
    hash ^= canonical.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `${hash.toString(16).padStart(8, '0')}-${table.routes.length}`;
}

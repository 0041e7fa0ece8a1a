/**
 * @module
 * Checks a route table that arrived as JSON (from the control plane or the cache file) before
 * the router serves from it: a malformed table is refused whole, and the router keeps the one it
 * has, rather than serving half of it.
 */

import { showValue } from '../../core/errors.ts';
import type { Route, RouteTable, RouteTarget } from '../../core/routes.ts';
import { hostKey } from './host.ts';

/** The longest per-route timeout (Berth's service settings allow up to 60 minutes). */
export const MAX_ROUTE_TIMEOUT_MS = 3_600_000;

/** The highest per-instance cap a route may carry (App Runner's MaxConcurrency stops at 200). */
export const MAX_ROUTE_CONCURRENCY = 100_000;

export class RouteTableError extends Error {
  override readonly name = 'RouteTableError';
}

export function parseRouteTable(input: unknown): RouteTable {
  const table = record(input, 'the route table');
  if (!Array.isArray(table.routes)) {
    throw new RouteTableError(`the route table must have a routes array, got ${showValue(table.routes)}`);
  }
  const hosts = new Set<string>();
  const routes = table.routes.map((item: unknown, index: number): Route => {
    const at = `routes[${index}]`;
    const route = record(item, at);
    const host = text(route.host, `${at}.host`);
    if (hostKey(host) !== host) {
      throw new RouteTableError(`${at}.host must be a lower-case host name without port, got ${showValue(host)}`);
    }
    if (hosts.has(host)) throw new RouteTableError(`${at}.host ${showValue(host)} appears in two routes`);
    hosts.add(host);
    if (!Array.isArray(route.targets)) {
      throw new RouteTableError(`${at}.targets must be an array, got ${showValue(route.targets)}`);
    }
    const parsed: Route = {
      host,
      serviceId: text(route.serviceId, `${at}.serviceId`),
      serviceName: text(route.serviceName, `${at}.serviceName`),
      targets: route.targets.map((target: unknown, t: number) => parseTarget(target, `${at}.targets[${t}]`)),
    };
    // Optional members are left out when absent, so a parsed table has the tag it was sent with.
    if (route.requestTimeoutMs !== undefined) parsed.requestTimeoutMs = timeout(route.requestTimeoutMs, `${at}.requestTimeoutMs`);
    if (route.idleTimeoutMs !== undefined) parsed.idleTimeoutMs = timeout(route.idleTimeoutMs, `${at}.idleTimeoutMs`);
    if (flag(route.paused, `${at}.paused`)) parsed.paused = true;
    if (route.maxConcurrency !== undefined) {
      const value = route.maxConcurrency;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_ROUTE_CONCURRENCY) {
        throw new RouteTableError(`${at}.maxConcurrency must be a whole number of requests from 1 to ${MAX_ROUTE_CONCURRENCY}, got ${showValue(value)}`);
      }
      parsed.maxConcurrency = value;
    }
    if (flag(route.hold, `${at}.hold`)) parsed.hold = true;
    return parsed;
  });
  return { routes };
}

function parseTarget(input: unknown, at: string): RouteTarget {
  const target = record(input, at);
  const address = text(target.address, `${at}.address`);
  // `host:port` or `[v6]:port`: the router makes an http://address origin of it.
  if (!/^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(address) || Number(address.slice(address.lastIndexOf(':') + 1)) > 65535) {
    throw new RouteTableError(`${at}.address must be host:port, got ${showValue(address)}`);
  }
  return { instanceId: text(target.instanceId, `${at}.instanceId`), address };
}

function record(value: unknown, at: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RouteTableError(`${at} must be an object, got ${showValue(value)}`);
  }
  return value as Record<string, unknown>;
}

function timeout(value: unknown, at: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_ROUTE_TIMEOUT_MS) {
    throw new RouteTableError(`${at} must be a whole number of milliseconds from 1 to ${MAX_ROUTE_TIMEOUT_MS}, got ${showValue(value)}`);
  }
  return value;
}

/** An optional boolean: true, or false when absent (false is the same as absent). */
function flag(value: unknown, at: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new RouteTableError(`${at} must be true or false, got ${showValue(value)}`);
  return value;
}

function text(value: unknown, at: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new RouteTableError(`${at} must be a non-empty string, got ${showValue(value)}`);
  }
  return value;
}

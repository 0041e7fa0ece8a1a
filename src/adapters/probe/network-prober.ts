/**
 * @module
 * Health probes over the network: TCP (a connection is accepted) and HTTP (GET of the path
 * answers 2xx or 3xx), each bounded by the check's Timeout.
 */
import { connect } from 'node:net';
import { request } from 'node:http';
import type { HealthProber, ProbeResult } from '../../core/health.ts';
import type { HealthCheckConfiguration } from '../../core/service.ts';

export class NetworkProber implements HealthProber {
  probe(address: string, check: HealthCheckConfiguration): Promise<ProbeResult> {
    const { host, port } = splitAddress(address);
    const timeoutMs = check.Timeout * 1000;
    return check.Protocol === 'HTTP' ? httpProbe(host, port, check.Path, timeoutMs) : tcpProbe(host, port, timeoutMs);
  }
}

function splitAddress(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(address.slice(at + 1)) };
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (result: ProbeResult): void => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done({ ok: false, detail: `TCP connection to port ${port} timed out after ${timeoutMs / 1000} s` }));
    socket.once('connect', () => done({ ok: true, detail: `TCP connection to port ${port} accepted` }));
    socket.once('error', (error: NodeJS.ErrnoException) => done({ ok: false, detail: `TCP connection to port ${port} failed: ${error.code ?? error.message}` }));
  });
}

function httpProbe(host: string, port: number, path: string, timeoutMs: number): Promise<ProbeResult> {
  // App Runner's Path is any string; one that HTTP cannot carry (a space, a control character)
  // fails every probe with that reason rather than failing the reconciler's pass.
  if (!sendable(path)) {
    return Promise.resolve({ ok: false, detail: `the health check path ${JSON.stringify(path)} cannot be sent in an HTTP request (it has a space or a control character); use a path such as /health` });
  }
  return new Promise((resolve) => {
    let settled = false;
    const done = (result: ProbeResult): void => {
      if (settled) return;
      settled = true;
      req.destroy();
      resolve(result);
    };
    // A fresh connection per probe (no agent): a probe must see what a new client would.
    const req = request({ host, port, path, method: 'GET', agent: false, headers: { 'user-agent': 'berth-health-check', connection: 'close' } }, (res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      done({ ok: status >= 200 && status < 400, detail: `HTTP GET ${path} on port ${port} answered ${status}` });
    });
    req.setTimeout(timeoutMs, () => done({ ok: false, detail: `HTTP GET ${path} on port ${port} timed out after ${timeoutMs / 1000} s` }));
    req.once('error', (error: NodeJS.ErrnoException) => done({ ok: false, detail: `HTTP GET ${path} on port ${port} failed: ${error.code ?? error.message}` }));
    req.end();
  });
}

function sendable(path: string): boolean {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) return false;
  }
  return true;
}

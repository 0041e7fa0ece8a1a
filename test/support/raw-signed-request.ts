/**
 * @module
 * A SigV4-signed AWS JSON request whose body is raw bytes, for what a string cannot carry:
 * invalid UTF-8, a byte order mark, truncated multi-byte characters. The reply comes back as
 * text with its status and headers, parsed by the caller, since a broken reply is the finding.
 */
import { request, type IncomingHttpHeaders } from 'node:http';
import { Sha256Js } from '@smithy/core/checksum';
import { HttpRequest } from '@smithy/core/protocols';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Endpoint } from './signed-request.ts';

export interface RawReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export async function signedSendBytes(endpoint: Endpoint, target: string, body: Uint8Array, options: { timeoutMs?: number } = {}): Promise<RawReply> {
  const url = new URL(endpoint.apiUrl);
  const headers: Record<string, string> = {
    host: url.host,
    'content-type': 'application/x-amz-json-1.0',
    'content-length': String(body.byteLength),
    'x-amz-target': target,
  };
  const signer = new SignatureV4({ service: 'apprunner', region: endpoint.region, credentials: endpoint.credentials, sha256: Sha256Js });
  const signed = await signer.sign(new HttpRequest({ method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: '/', headers, body }));
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method: 'POST', path: '/', headers: signed.headers, timeout: options.timeoutMs ?? 30_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.once('error', reject);
      },
    );
    req.once('timeout', () => req.destroy(new Error(`no reply to ${target} within ${options.timeoutMs ?? 30_000} ms`)));
    req.once('error', reject);
    req.end(body);
  });
}

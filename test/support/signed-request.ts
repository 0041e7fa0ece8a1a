/**
 * Raw SigV4-signed AWS JSON 1.0 requests, signed by the same signer the SDK uses: for bodies
 * the SDK will not send (malformed JSON, unknown operations) and for output members it drops.
 */
import { request } from 'node:http';
import { Sha256Js } from '@smithy/core/checksum';
import { HttpRequest } from '@smithy/core/protocols';
import { SignatureV4 } from '@smithy/signature-v4';

export interface Endpoint {
  apiUrl: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

export async function signedFetch(
  endpoint: Endpoint,
  target: string | undefined,
  body: string,
  options: {
    sign?: boolean;
    service?: string;
    region?: string;
    signingDate?: Date;
    /** Sign with these instead of the endpoint's (a sessionToken is signed as X-Amz-Security-Token). */
    credentials?: Endpoint['credentials'];
    /** Whether to send (and sign) x-amz-content-sha256, as the JS SDK does; default true. */
    applyChecksum?: boolean;
    /** Send this body instead of the one signed (a tampered request). */
    sendBody?: string;
    /** Headers added after signing, so not covered by the signature. */
    unsignedHeaders?: Record<string, string>;
  } = {},
): Promise<{ status: number; body: string; json: () => Record<string, unknown> }> {
  const url = new URL(endpoint.apiUrl);
  const headers: Record<string, string> = {
    host: url.host,
    'content-type': 'application/x-amz-json-1.0',
    ...(target !== undefined && { 'x-amz-target': target }),
  };
  let signed = headers;
  if (options.sign !== false) {
    const signer = new SignatureV4({
      service: options.service ?? 'apprunner',
      region: options.region ?? endpoint.region,
      credentials: options.credentials ?? endpoint.credentials,
      sha256: Sha256Js,
      applyChecksum: options.applyChecksum ?? true,
    });
    const req = await signer.sign(
      new HttpRequest({ method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: '/', headers, body }),
      options.signingDate === undefined ? {} : { signingDate: options.signingDate },
    );
    signed = req.headers as Record<string, string>;
  }
  if (options.unsignedHeaders !== undefined) signed = { ...signed, ...options.unsignedHeaders };
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method: 'POST', path: '/', headers: signed }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body: text, json: () => JSON.parse(text) as Record<string, unknown> }));
    });
    req.once('error', reject);
    req.end(options.sendBody ?? body);
  });
}

/**
 * @module
 * Reading requests on the API listener, shared by the AWS JSON API and the webhook endpoint.
 */
import type { IncomingMessage } from 'node:http';

/**
 * The whole body, or the error `tooLarge` makes once past `limit` bytes. Rejected once, at the
 * chunk that crosses the limit; the rest is read and dropped rather than the socket destroyed,
 * so the client reads the error reply instead of a connection reset (the server's request
 * timeout bounds how long a client can keep sending).
 */
export function readBody(req: IncomingMessage, limit: number, tooLarge: (limit: number) => Error): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        if (size - chunk.length <= limit) reject(tooLarge(limit));
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

/** A request header's value; the first when it was sent more than once. */
export function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

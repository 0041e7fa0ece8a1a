/** Small network helpers shared by the tests. */
import { once } from 'node:events';
import { createServer } from 'node:net';

/** A loopback port nothing listens on right now (the caller binds it soon after). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('Could not find a free loopback port');
  return address.port;
}

// SigV4 verification against signatures made by the real AWS signers: @smithy/signature-v4
// (what @aws-sdk/client-apprunner uses), the real AppRunnerClient over a socket, and the AWS
// CLI when the machine has it. Only the refusal cases build requests by hand, from good ones.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, before, after } from 'node:test';
import { AppRunnerClient, ListServicesCommand } from '@aws-sdk/client-apprunner';
import { Sha256Js } from '@smithy/core/checksum';
import { HttpRequest } from '@smithy/core/protocols';
import { SignatureV4 } from '@smithy/signature-v4';
import { BerthError, type ErrorCode } from '../../src/core/errors.ts';
import { parseAuthorization, signRequest, verifySignature, type RequestHeaders, type VerifiedSignature } from '../../src/core/sigv4.ts';

const REGION = 'us-east-1';
const KEY = { accessKeyId: 'AKIDBERTHTEST0000001', secretAccessKey: 'berth/secret+key/0123456789abcdefABCDEF' };
const ACCOUNT = { secret: KEY.secretAccessKey, accountId: '000000000001' };
const lookupSecret = (accessKeyId: string): typeof ACCOUNT | undefined => (accessKeyId === KEY.accessKeyId ? ACCOUNT : undefined);
const SIGNED_AT = new Date('2024-05-01T12:00:00Z');
const BODY = Buffer.from('{"MaxResults":5}');
const HOST = '127.0.0.1:8080';

interface SignedRequest {
  path: string;
  query: string;
  headers: Record<string, string>;
  body: Buffer;
}

interface SignOptions {
  /** The headers to sign besides those the signer adds (x-amz-date, x-amz-content-sha256). */
  headers: Record<string, string>;
  /** Headers added after signing, as clients do with User-Agent. */
  unsigned?: Record<string, string>;
  body?: Buffer;
  query?: Record<string, string>;
  rawQuery?: string;
  date?: Date;
  region?: string;
  service?: string;
  secret?: string;
  sessionToken?: string;
  /** The JS SDK sends x-amz-content-sha256; botocore does not. */
  applyChecksum: boolean;
}

async function sign(options: SignOptions): Promise<SignedRequest> {
  const body = options.body ?? BODY;
  const credentials = { ...KEY, secretAccessKey: options.secret ?? KEY.secretAccessKey, ...(options.sessionToken === undefined ? {} : { sessionToken: options.sessionToken }) };
  const signer = new SignatureV4({
    service: options.service ?? 'apprunner',
    region: options.region ?? REGION,
    credentials,
    sha256: Sha256Js,
    applyChecksum: options.applyChecksum,
  });
  const request = new HttpRequest({
    method: 'POST',
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: 8080,
    path: '/',
    query: options.query ?? {},
    headers: { ...options.headers },
    body,
  });
  const signed = await signer.sign(request, { signingDate: options.date ?? SIGNED_AT });
  const headers: Record<string, string> = { ...options.unsigned };
  for (const [name, value] of Object.entries(signed.headers)) headers[name.toLowerCase()] = value;
  return { path: '/', query: options.rawQuery ?? '', headers, body };
}

/** Exactly the headers @aws-sdk/client-apprunner puts on ListServices before signing (app-runner-api.md §1.2). */
function jsSdkHeaders(body: Buffer = BODY): Record<string, string> {
  return {
    'amz-sdk-invocation-id': '5b0c8f7e-7c1a-4b9e-9d55-0f0c7c4f2a10',
    'amz-sdk-request': 'attempt=1; max=3',
    'content-length': String(body.length),
    'content-type': 'application/x-amz-json-1.0',
    host: HOST,
    'x-amz-target': 'AppRunner.ListServices',
    'x-amz-user-agent': 'aws-sdk-js/3.1142.0',
    'user-agent': 'aws-sdk-js/3.1142.0 ua/2.1 os/linux#6.1 lang/js md/nodejs#24.21.0 api/apprunner#3.1142.0',
  };
}

/** Signs what the JS SDK signs. */
const signLikeJsSdk = (extra: Partial<SignOptions> = {}): Promise<SignedRequest> =>
  sign({ headers: jsSdkHeaders(extra.body), applyChecksum: true, ...extra });

/** Signs what botocore/the CLI signs: content-type;host;x-amz-date;x-amz-target, the rest unsigned. */
const signLikeCli = (extra: Partial<SignOptions> = {}): Promise<SignedRequest> =>
  sign({
    headers: { 'content-type': 'application/x-amz-json-1.0', host: HOST, 'x-amz-target': 'AppRunner.ListServices' },
    unsigned: {
      'user-agent': 'aws-cli/2.9.19 Python/3.11.2 Linux/6.1 source/x86_64.debian.12 prompt/off command/apprunner.list-services',
      'content-length': String((extra.body ?? BODY).length),
      'amz-sdk-invocation-id': 'f2a6c1de-4e4f-4bd8-9d0e-6a3c2a5b1c77',
      'amz-sdk-request': 'attempt=1',
    },
    applyChecksum: false,
    ...extra,
  });

function verify(request: SignedRequest, overrides: { now?: Date; headers?: RequestHeaders; body?: Buffer; expectedRegion?: string; expectedService?: string } = {}): VerifiedSignature<typeof ACCOUNT> {
  return verifySignature({
    method: 'POST',
    path: request.path,
    query: request.query,
    headers: overrides.headers ?? request.headers,
    body: overrides.body ?? request.body,
    now: overrides.now ?? SIGNED_AT,
    lookupSecret,
    expectedService: overrides.expectedService ?? 'apprunner',
    expectedRegion: overrides.expectedRegion ?? REGION,
  });
}

function assertRefused(fn: () => unknown, code: ErrorCode, message?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof BerthError, `expected a BerthError, got ${String(error)}`);
    assert.equal(error.code, code, `wrong code; message was: ${error.message}`);
    if (message !== undefined) assert.match(error.message, message);
    return true;
  });
}

const minutes = (n: number): number => n * 60_000;

describe('verifySignature accepts real signatures', () => {
  it('with the JS SDK header set', async () => {
    const request = await signLikeJsSdk();
    assert.match(request.headers.authorization ?? '', /SignedHeaders=amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-target;x-amz-user-agent,/);
    const verified = verify(request);
    assert.equal(verified.accessKeyId, KEY.accessKeyId);
    assert.deepEqual(verified.scope, { date: '20240501', region: REGION, service: 'apprunner' });
    assert.equal(verified.credential.accountId, ACCOUNT.accountId);
    assert.equal(verified.signedAt.getTime(), SIGNED_AT.getTime());
    assert.equal(verified.securityToken, undefined);
  });

  it('with the CLI header set, extra headers unsigned', async () => {
    const request = await signLikeCli();
    assert.match(request.headers.authorization ?? '', /SignedHeaders=content-type;host;x-amz-date;x-amz-target,/);
    assert.equal(request.headers['x-amz-content-sha256'], undefined);
    assert.equal(verify(request).accessKeyId, KEY.accessKeyId);
  });

  it('with an empty body', async () => {
    assert.equal(verify(await signLikeJsSdk({ body: Buffer.alloc(0) })).accessKeyId, KEY.accessKeyId);
    assert.equal(verify(await signLikeCli({ body: Buffer.alloc(0) })).accessKeyId, KEY.accessKeyId);
  });

  it('within the skew window either way', async () => {
    const request = await signLikeJsSdk();
    verify(request, { now: new Date(SIGNED_AT.getTime() + minutes(14)) });
    verify(request, { now: new Date(SIGNED_AT.getTime() - minutes(14)) });
  });

  it('returns a signed session token to the caller', async () => {
    const jsSdk = await signLikeJsSdk({ sessionToken: 'session-token/with+odd=chars' });
    assert.match(jsSdk.headers.authorization ?? '', /;x-amz-security-token;/);
    assert.equal(verify(jsSdk).securityToken, 'session-token/with+odd=chars');
    const cli = await signLikeCli({ sessionToken: 'cli-token' });
    assert.equal(verify(cli).securityToken, 'cli-token');
  });

  it('with header values in any spacing and repeated headers', async () => {
    const request = await signLikeJsSdk({ headers: { ...jsSdkHeaders(), 'x-amz-user-agent': '  aws-sdk-js/3   md/x \t y  ' } });
    verify(request);
    // Node hands repeated headers to us as arrays; SigV4 joins their values with ','.
    const repeated = await sign({ headers: { host: HOST, 'x-amz-meta-list': 'a,b' }, applyChecksum: false });
    verify(repeated, { headers: { ...repeated.headers, 'x-amz-meta-list': ['a', ' b '] } });
  });

  it('when only unsigned headers changed on the way', async () => {
    const request = await signLikeCli();
    verify(request, { headers: { ...request.headers, 'user-agent': 'something else', 'amz-sdk-request': 'attempt=2' } });
  });

  it('with a query string, canonicalised like the SDK', async () => {
    const request = await signLikeCli({ query: { b: '2', a: 'x y/z', 'A~': '*' }, rawQuery: 'b=2&a=x%20y%2Fz&A~=%2A' });
    verify(request);
  });
});

describe('verifySignature refuses', () => {
  it('a tampered body', async () => {
    const jsSdk = await signLikeJsSdk();
    assertRefused(() => verify(jsSdk, { body: Buffer.from('{"MaxResults":6}') }), 'InvalidSignatureException', /x-amz-content-sha256/);
    const cli = await signLikeCli();
    assertRefused(() => verify(cli, { body: Buffer.from('{"MaxResults":6}') }), 'InvalidSignatureException', /does not match the signature you provided/);
  });

  it('a tampered signed header', async () => {
    const request = await signLikeJsSdk();
    assertRefused(() => verify(request, { headers: { ...request.headers, 'x-amz-target': 'AppRunner.DeleteService' } }),
      'InvalidSignatureException', /^The request signature we calculated does not match the signature you provided\. /);
    assertRefused(() => verify(request, { headers: { ...request.headers, host: 'evil.example:8080' } }), 'InvalidSignatureException');
  });

  it('a signature made with the wrong secret', async () => {
    const request = await signLikeJsSdk({ secret: 'not-the-secret' });
    assertRefused(() => verify(request), 'InvalidSignatureException', /does not match/);
  });

  it('an unknown access key', async () => {
    const request = await signLikeJsSdk();
    const unknown = request.headers.authorization?.replace(KEY.accessKeyId, 'AKIDUNKNOWN000000000') ?? '';
    assertRefused(() => verify(request, { headers: { ...request.headers, authorization: unknown } }),
      'UnrecognizedClientException', /^The security token included in the request is invalid\.$/);
  });

  it('a stale date (16 minutes old)', async () => {
    const request = await signLikeJsSdk();
    assertRefused(() => verify(request, { now: new Date(SIGNED_AT.getTime() + minutes(16)) }), 'InvalidSignatureException',
      /^Signature expired: 20240501T120000Z is now earlier than 20240501T120100Z \(20240501T121600Z - 15 min\.\)$/);
  });

  it('a date in the future (16 minutes ahead)', async () => {
    const request = await signLikeJsSdk();
    assertRefused(() => verify(request, { now: new Date(SIGNED_AT.getTime() - minutes(16)) }), 'InvalidSignatureException',
      /^Signature not yet current: 20240501T120000Z is still later than 20240501T115900Z \(20240501T114400Z \+ 15 min\.\)$/);
  });

  it('a credential scoped to another region', async () => {
    const request = await signLikeJsSdk({ region: 'eu-west-1' });
    assertRefused(() => verify(request), 'InvalidSignatureException', /'us-east-1', not 'eu-west-1'/);
  });

  it('a credential scoped to another service', async () => {
    const request = await signLikeJsSdk({ service: 'ecs' });
    assertRefused(() => verify(request), 'InvalidSignatureException', /correct service: 'apprunner', not 'ecs'/);
  });

  it('a scope date that is not the X-Amz-Date day', async () => {
    const request = await signLikeJsSdk();
    const authorization = request.headers.authorization?.replace('/20240501/', '/20240430/') ?? '';
    assertRefused(() => verify(request, { headers: { ...request.headers, authorization } }), 'InvalidSignatureException', /'20240430' != '20240501'/);
  });

  it('a request without Authorization', async () => {
    const request = await signLikeJsSdk();
    const { authorization: _, ...headers } = request.headers;
    assertRefused(() => verify(request, { headers }), 'MissingAuthenticationTokenException');
  });

  it('a garbage Authorization', async () => {
    const request = await signLikeJsSdk();
    for (const garbage of ['garbage', 'Bearer abc', 'AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA256 Credential=x, Signature=y']) {
      assertRefused(() => verify(request, { headers: { ...request.headers, authorization: garbage } }), 'IncompleteSignatureException');
    }
  });

  it('a missing or malformed X-Amz-Date', async () => {
    const request = await signLikeJsSdk();
    const { 'x-amz-date': _, ...withoutDate } = request.headers;
    assertRefused(() => verify(request, { headers: withoutDate }), 'InvalidSignatureException', /no X-Amz-Date/);
    for (const bad of ['2024-05-01T12:00:00Z', '20240231T120000Z', 'yesterday']) {
      assertRefused(() => verify(request, { headers: { ...request.headers, 'x-amz-date': bad } }), 'InvalidSignatureException', /X-Amz-Date/);
    }
  });

  it('a signature that does not cover host or x-amz-date', async () => {
    const noHost = await sign({ headers: { 'content-type': 'application/x-amz-json-1.0' }, unsigned: { host: HOST }, applyChecksum: false });
    assertRefused(() => verify(noHost), 'IncompleteSignatureException', /'host' must be a signed header/);
    const request = await signLikeCli();
    const authorization = request.headers.authorization?.replace('host;x-amz-date;', 'host;') ?? '';
    assertRefused(() => verify(request, { headers: { ...request.headers, authorization } }), 'IncompleteSignatureException', /'x-amz-date' must be a signed header/);
  });

  it('an unsigned session token', async () => {
    const request = await signLikeCli();
    assertRefused(() => verify(request, { headers: { ...request.headers, 'x-amz-security-token': 'added-later' } }), 'IncompleteSignatureException', /x-amz-security-token/);
  });
});

describe('parseAuthorization', () => {
  it('parses a well-formed header', () => {
    const signature = 'a'.repeat(64);
    assert.deepEqual(parseAuthorization(`AWS4-HMAC-SHA256 Credential=AKID/20240501/us-east-1/apprunner/aws4_request, SignedHeaders=host;x-amz-date, Signature=${signature}`), {
      accessKeyId: 'AKID', date: '20240501', region: 'us-east-1', service: 'apprunner', signedHeaders: ['host', 'x-amz-date'], signature,
    });
  });

  it('names every missing part', () => {
    assert.throws(() => parseAuthorization('AWS4-HMAC-SHA256 Credential=AKID/20240501/us-east-1/apprunner/aws4_request'), (error: unknown) => {
      assert.ok(error instanceof BerthError);
      assert.equal(error.code, 'IncompleteSignatureException');
      assert.match(error.message, /requires 'SignedHeaders' parameter/);
      assert.match(error.message, /requires 'Signature' parameter/);
      assert.doesNotMatch(error.message, /'Credential'/);
      return true;
    });
  });

  it('names malformed parts and the allowed form', () => {
    const sig = 'b'.repeat(64);
    assertRefused(() => parseAuthorization(`AWS4-HMAC-SHA256 Credential=AKID/20240501/us-east-1, SignedHeaders=host, Signature=${sig}`), 'IncompleteSignatureException', /<AccessKeyId>\/<yyyymmdd>\/<region>\/<service>\/aws4_request/);
    assertRefused(() => parseAuthorization(`AWS4-HMAC-SHA256 Credential=AKID/2024-05-01/us-east-1/apprunner/aws4_request, SignedHeaders=host, Signature=${sig}`), 'IncompleteSignatureException', /yyyymmdd/);
    assertRefused(() => parseAuthorization(`AWS4-HMAC-SHA256 Credential=AKID/20240501/us-east-1/apprunner/aws4_reqest, SignedHeaders=host, Signature=${sig}`), 'IncompleteSignatureException', /terminator: 'aws4_request'/);
    assertRefused(() => parseAuthorization('AWS4-HMAC-SHA256 Credential=AKID/20240501/us-east-1/apprunner/aws4_request, SignedHeaders=Host, Signature=xyz'), 'IncompleteSignatureException', /lower-case header names.*64 lower-case hexadecimal/);
    assertRefused(() => parseAuthorization(`AWS4-HMAC-SHA512 Credential=AKID/20240501/us-east-1/apprunner/aws4_request, SignedHeaders=host, Signature=${sig}`), 'IncompleteSignatureException', /only 'AWS4-HMAC-SHA256'/);
  });
});

/** A loopback server that verifies each request's signature as Berth's API will. */
class VerifyingServer {
  readonly server: Server;
  readonly verified: Array<VerifiedSignature<typeof ACCOUNT>> = [];

  constructor() {
    this.server = createServer((req, res) => {
      this.handle(req)
        .catch((error: unknown) => ({ status: 500, body: { __type: 'InternalFailure', Message: String(error) } }))
        .then(({ status, body }) => {
          res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': '00000000-0000-0000-0000-000000000000' });
          res.end(JSON.stringify(body));
        });
    });
  }

  async handle(req: IncomingMessage): Promise<{ status: number; body: object }> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = req.url ?? '/';
    const question = url.indexOf('?');
    try {
      this.verified.push(verifySignature({
        method: req.method ?? 'POST',
        path: question === -1 ? url : url.slice(0, question),
        query: question === -1 ? '' : url.slice(question + 1),
        headers: req.headers,
        body: Buffer.concat(chunks),
        now: new Date(),
        lookupSecret,
        expectedService: 'apprunner',
        expectedRegion: REGION,
      }));
      return { status: 200, body: { ServiceSummaryList: [] } };
    } catch (error) {
      if (!(error instanceof BerthError)) throw error;
      return { status: error.status, body: { __type: error.code, Message: error.message } };
    }
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
}

describe('signatures from real clients over a socket', () => {
  const verifying = new VerifyingServer();
  before(async () => {
    verifying.server.listen(0, '127.0.0.1');
    await once(verifying.server, 'listening');
  });
  after(() => {
    verifying.server.close();
  });

  const client = (credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }): AppRunnerClient =>
    new AppRunnerClient({ region: REGION, endpoint: verifying.endpoint, credentials, maxAttempts: 1 });

  it('@aws-sdk/client-apprunner, with and without a session token', async () => {
    const plain = client(KEY);
    const output = await plain.send(new ListServicesCommand({ MaxResults: 5 }));
    assert.deepEqual(output.ServiceSummaryList, []);
    assert.equal(verifying.verified.at(-1)?.securityToken, undefined);
    plain.destroy();

    const session = client({ ...KEY, sessionToken: 'sdk-session-token' });
    await session.send(new ListServicesCommand({}));
    assert.equal(verifying.verified.at(-1)?.securityToken, 'sdk-session-token');
    session.destroy();
  });

  it('@aws-sdk/client-apprunner with a wrong secret gets InvalidSignatureException', async () => {
    const wrong = client({ ...KEY, secretAccessKey: 'wrong' });
    await assert.rejects(wrong.send(new ListServicesCommand({})), { name: 'InvalidSignatureException' });
    wrong.destroy();
  });

  it('the AWS CLI (skipped outside CI where it is not installed)', async (t) => {
    const env = {
      ...process.env,
      AWS_ACCESS_KEY_ID: KEY.accessKeyId,
      AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey,
      AWS_SESSION_TOKEN: 'cli-session-token',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_PAGER: '',
    };
    const child = spawn('aws', ['apprunner', 'list-services', '--endpoint-url', verifying.endpoint, '--region', REGION, '--output', 'json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    // 'close' gives the exit code; 'error' with ENOENT means there is no CLI on this machine.
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('close', resolve);
      child.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? resolve(-1) : reject(error)));
    });
    if (code === -1) {
      // CI installs the CLI (.ci/run), so there a missing one is a broken machine, not a skip.
      assert.ok(process.env.CI !== 'true', 'the aws CLI is not installed; .ci/run installs Debian\'s awscli');
      t.skip('aws CLI not installed');
      return;
    }
    assert.equal(code, 0, output);
    assert.deepEqual(JSON.parse(output), { ServiceSummaryList: [] });
    assert.equal(verifying.verified.at(-1)?.securityToken, 'cli-session-token');
  });
});

describe('signRequest (the berth CLI\'s signer)', () => {
  const ownSigned = (sessionToken?: string): SignedRequest => ({
    path: '/',
    query: '',
    body: BODY,
    headers: signRequest({
      method: 'POST',
      host: HOST,
      path: '/',
      headers: { 'Content-Type': 'application/x-amz-json-1.0', 'X-Amz-Target': 'AppRunner.ListServices' },
      body: BODY,
      credentials: { ...KEY, ...(sessionToken === undefined ? {} : { sessionToken }) },
      region: REGION,
      service: 'apprunner',
      now: SIGNED_AT,
    }),
  });

  it('makes the very signature the AWS SDK\'s signer makes for the same request', async () => {
    const smithy = await sign({ headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AppRunner.ListServices', host: HOST }, applyChecksum: true });
    assert.equal(ownSigned().headers.authorization, smithy.headers.authorization);
    const smithySession = await sign({ headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AppRunner.ListServices', host: HOST }, applyChecksum: true, sessionToken: 'tok/en+=' });
    assert.equal(ownSigned('tok/en+=').headers.authorization, smithySession.headers.authorization);
  });

  it('is accepted by verifySignature, session token included, and a changed body is not', () => {
    assert.equal(verify(ownSigned()).accessKeyId, KEY.accessKeyId);
    assert.equal(verify(ownSigned('tok')).securityToken, 'tok');
    assertRefused(() => verify(ownSigned(), { body: Buffer.from('{"MaxResults":6}') }), 'InvalidSignatureException');
  });
});

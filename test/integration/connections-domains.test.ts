/**
 * Connections (with Berth's handshake extension) and custom domains, driven through the
 * official SDK and raw signed calls against a real control plane whose instances listen, so
 * services reach RUNNING and their state rules apply.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AssociateCustomDomainCommand,
  CreateConnectionCommand,
  CreateServiceCommand,
  DeleteConnectionCommand,
  DeleteServiceCommand,
  DescribeCustomDomainsCommand,
  DescribeServiceCommand,
  DisassociateCustomDomainCommand,
  ListConnectionsCommand,
  ListTagsForResourceCommand,
  paginateDescribeCustomDomains,
  paginateListConnections,
  type AppRunnerClient,
  type Connection,
  type ProviderType,
  type CustomDomain,
  type Service,
} from '@aws-sdk/client-apprunner';
import { loadOrCreateMasterKey } from '../../src/adapters/local-files/master-key.ts';
import { berthPaths } from '../../src/core/config.ts';
import { connectionCredential } from '../../src/core/connection.ts';
import { SecretBox } from '../../src/core/secret-box.ts';
import { ApiError, startApiHarness, type ApiHarness } from '../support/api-harness.ts';

let api: ApiHarness;
let client: AppRunnerClient;
const scratch = mkdtempSync(join(tmpdir(), 'berth-keys-'));

before(async () => {
  api = await startApiHarness({ quotas: { customDomainsPerService: 3 } });
  client = api.client;
});

after(async () => {
  await api?.close();
  rmSync(scratch, { recursive: true, force: true });
});

const ARN_PREFIX = /^arn:aws:apprunner:us-east-1:[0-9]{12}:/;

async function rejects(send: Promise<unknown>, type: string, mentions: RegExp, status = 400): Promise<void> {
  await assert.rejects(send, (error: Error & { $metadata?: { httpStatusCode?: number } }) => {
    assert.equal(error.name, type, error.message);
    assert.equal(error.$metadata?.httpStatusCode, status);
    assert.match(error.message, mentions);
    return true;
  });
}

async function callRejects(operation: string, input: unknown, type: string, mentions: RegExp): Promise<ApiError> {
  const error = await api.call(operation, input).then(
    () => assert.fail(`${operation} succeeded`),
    (e: unknown) => e as ApiError,
  );
  assert.ok(error instanceof ApiError, String(error));
  assert.equal(error.type, type, error.message);
  assert.match(error.message, mentions);
  return error;
}

// Berth's own provider types (GITLAB, GITEA, GIT) are outside the SDK's enum, hence the casts.
async function createConnection(name: string, providerType = 'GITHUB'): Promise<Connection> {
  const { Connection: connection } = await client.send(new CreateConnectionCommand({ ConnectionName: name, ProviderType: providerType as ProviderType }));
  assert.ok(connection);
  return connection;
}

async function createRunningService(name: string): Promise<Service> {
  const { Service: created } = await client.send(
    new CreateServiceCommand({
      ServiceName: name,
      SourceConfiguration: { ImageRepository: { ImageIdentifier: 'registry.example.com/team/app:1', ImageRepositoryType: 'ECR', ImageConfiguration: { Port: '8080' } } },
    }),
  );
  await api.settle();
  const { Service: service } = await client.send(new DescribeServiceCommand({ ServiceArn: created?.ServiceArn }));
  assert.equal(service?.Status, 'RUNNING');
  return service as Service;
}

/** The credential store of the harness's installation, opened with its master key. */
function secretBox(): SecretBox {
  return new SecretBox(loadOrCreateMasterKey(berthPaths(api.home).masterKey));
}

/** A real OpenSSH key pair made by ssh-keygen, and a known_hosts line pinning its public half for a host. */
function sshKey(name: string, passphrase = ''): { privateKey: string; knownHosts: string } {
  const file = join(scratch, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'berth-test', '-f', file]);
  const [type, key] = readFileSync(`${file}.pub`, 'utf8').split(' ');
  return { privateKey: readFileSync(file, 'utf8'), knownHosts: `git.example.com,192.0.2.7 ${type} ${key}\n` };
}

describe('connections', () => {
  test('CreateConnection returns a PENDING_HANDSHAKE connection in the documented shape, tags kept', async () => {
    const before = Date.now();
    const { Connection: connection } = await client.send(
      new CreateConnectionCommand({ ConnectionName: 'shape-check', ProviderType: 'GITHUB', Tags: [{ Key: 'team', Value: 'web' }] }),
    );
    assert.ok(connection?.CreatedAt instanceof Date);
    assert.ok(Math.abs(connection.CreatedAt.getTime() - before) < 5_000);
    assert.match(connection.ConnectionArn ?? '', new RegExp(`${ARN_PREFIX.source}connection/shape-check/[0-9a-f]{32}$`));
    assert.deepEqual(
      { ...connection, CreatedAt: undefined, ConnectionArn: undefined },
      { ConnectionName: 'shape-check', ProviderType: 'GITHUB', Status: 'PENDING_HANDSHAKE', CreatedAt: undefined, ConnectionArn: undefined },
    );
    const { Tags } = await client.send(new ListTagsForResourceCommand({ ResourceArn: connection.ConnectionArn }));
    assert.deepEqual(Tags, [{ Key: 'team', Value: 'web' }]);
    await client.send(new DeleteConnectionCommand({ ConnectionArn: connection.ConnectionArn }));
  });

  test('every provider type is accepted; ListConnections pages one at a time in creation order and filters by exact name', async () => {
    const providers = ['GITHUB', 'BITBUCKET', 'GITLAB', 'GITEA', 'GIT'];
    const created = [];
    for (const [i, provider] of providers.entries()) created.push(await createConnection(`page-${i}`, provider));
    assert.deepEqual(created.map((c) => c.ProviderType), providers);

    const pages: Connection[][] = [];
    for await (const page of paginateListConnections({ client, pageSize: 1 }, {})) pages.push(page.ConnectionSummaryList ?? []);
    assert.equal(pages.length, providers.length);
    assert.ok(pages.every((p) => p.length === 1));
    assert.deepEqual(pages.flat().map((c) => c.ConnectionName), providers.map((_, i) => `page-${i}`));
    assert.deepEqual(pages.flat().map((c) => c.ProviderType), providers);
    assert.ok(pages.flat().every((c) => c.Status === 'PENDING_HANDSHAKE' && c.CreatedAt instanceof Date));

    const filtered = await client.send(new ListConnectionsCommand({ ConnectionName: 'page-3' }));
    assert.deepEqual(filtered.ConnectionSummaryList?.map((c) => c.ConnectionArn), [created[3]?.ConnectionArn]);
    assert.equal(filtered.NextToken, undefined);
    const none = await client.send(new ListConnectionsCommand({ ConnectionName: 'page-33' }));
    assert.deepEqual(none.ConnectionSummaryList, []);
    // A token belongs to its listing: another filter may not continue it.
    const first = await client.send(new ListConnectionsCommand({ MaxResults: 1 }));
    await rejects(client.send(new ListConnectionsCommand({ MaxResults: 1, NextToken: first.NextToken, ConnectionName: 'page-1' })), 'InvalidRequestException', /NextToken/);

    for (const c of created) await client.send(new DeleteConnectionCommand({ ConnectionArn: c.ConnectionArn }));
  });

  test('a name is unique among live connections; a deleted connection is DELETED, unlisted, and frees its name', async () => {
    const connection = await createConnection('dup-name');
    await rejects(client.send(new CreateConnectionCommand({ ConnectionName: 'dup-name', ProviderType: 'GITLAB' as ProviderType })), 'InvalidRequestException', /'dup-name' already exists/);

    const { Connection: deleted } = await client.send(new DeleteConnectionCommand({ ConnectionArn: connection.ConnectionArn }));
    assert.equal(deleted?.Status, 'DELETED');
    assert.equal(deleted?.ConnectionArn, connection.ConnectionArn);
    assert.equal(deleted?.ConnectionName, 'dup-name');
    const listed = await client.send(new ListConnectionsCommand({}));
    assert.ok(!listed.ConnectionSummaryList?.some((c) => c.ConnectionArn === connection.ConnectionArn));
    await rejects(client.send(new DeleteConnectionCommand({ ConnectionArn: connection.ConnectionArn })), 'ResourceNotFoundException', /already been deleted/);

    const again = await createConnection('dup-name');
    assert.notEqual(again.ConnectionArn, connection.ConnectionArn);
    await client.send(new DeleteConnectionCommand({ ConnectionArn: again.ConnectionArn }));
  });

  test('DeleteConnection is refused while a live service uses the connection, allowed once the service is DELETED', async () => {
    const connection = await createConnection('in-use');
    const service = await createRunningService('conn-user');
    // CreateService cannot take a source repository yet (a later issue); this writes what such a
    // service stores, so the rule is checked against the real store.
    const { store } = api.cp;
    store.transaction(() => {
      const record = store.listLiveServices().find((s) => s.arn === service.ServiceArn);
      assert.ok(record);
      const source = { ...record.config.SourceConfiguration, AuthenticationConfiguration: { ConnectionArn: connection.ConnectionArn } };
      store.updateService({ ...record, config: { ...record.config, SourceConfiguration: source } });
    });
    await rejects(client.send(new DeleteConnectionCommand({ ConnectionArn: connection.ConnectionArn })), 'InvalidRequestException', /'in-use' is used by service 'conn-user'/);
    const listed = await client.send(new ListConnectionsCommand({ ConnectionName: 'in-use' }));
    assert.equal(listed.ConnectionSummaryList?.[0]?.Status, 'PENDING_HANDSHAKE');

    await client.send(new DeleteServiceCommand({ ServiceArn: service.ServiceArn }));
    await api.settle();
    const { Connection: deleted } = await client.send(new DeleteConnectionCommand({ ConnectionArn: connection.ConnectionArn }));
    assert.equal(deleted?.Status, 'DELETED');
  });

  test('the connection quota is ServiceQuotaExceededException (402) and counts live connections only', async () => {
    const small = await startApiHarness({ quotas: { connections: 2 } });
    try {
      const arns = [];
      for (const name of ['quota-a', 'quota-b']) {
        arns.push((await small.client.send(new CreateConnectionCommand({ ConnectionName: name, ProviderType: 'GITEA' as ProviderType }))).Connection?.ConnectionArn);
      }
      const before = small.dump();
      await rejects(small.client.send(new CreateConnectionCommand({ ConnectionName: 'quota-c', ProviderType: 'GITEA' as ProviderType })), 'ServiceQuotaExceededException', /quota of 2 connections/, 402);
      assert.equal(small.dump(), before);
      await small.client.send(new DeleteConnectionCommand({ ConnectionArn: arns[0] }));
      const { Connection: third } = await small.client.send(new CreateConnectionCommand({ ConnectionName: 'quota-c', ProviderType: 'GITEA' as ProviderType }));
      assert.equal(third?.Status, 'PENDING_HANDSHAKE');
    } finally {
      await small.close();
    }
  });
});

describe('Berth.CompleteConnectionHandshake', () => {
  const token = 'ghp_berthTestToken0123456789abcdefABCDEF';

  test('a token makes the connection AVAILABLE; the token is in no output and not in clear in the store', async () => {
    const connection = await createConnection('handshake-token', 'GITHUB');
    const reply = await api.call('Berth.CompleteConnectionHandshake', { ConnectionArn: connection.ConnectionArn, Credential: { Token: token, Username: 'x-access-token' } });
    const completed = reply.Connection as Record<string, unknown>;
    assert.equal(completed.Status, 'AVAILABLE');
    assert.equal(completed.CredentialType, 'TOKEN');
    assert.equal(completed.ConnectionArn, connection.ConnectionArn);
    assert.equal(typeof completed.CreatedAt, 'number');
    assert.ok(!JSON.stringify(reply).includes(token));

    const raw = await api.call('ListConnections', { ConnectionName: 'handshake-token' });
    assert.ok(!JSON.stringify(raw).includes(token));
    const listed = await client.send(new ListConnectionsCommand({ ConnectionName: 'handshake-token' }));
    assert.equal(listed.ConnectionSummaryList?.[0]?.Status, 'AVAILABLE');
    assert.ok(!api.dump().includes(token), 'the token is stored in clear');
    assert.ok(!api.dump().includes('x-access-token'), 'the username is stored in clear');

    // What source builds will use: the credential, opened with the installation's key.
    assert.deepEqual(connectionCredential(api.cp.store, secretBox(), connection.ConnectionArn ?? ''), { type: 'TOKEN', token, username: 'x-access-token' });
  });

  test('an SSH key with pinned host keys; completing again replaces the credential', async () => {
    const connection = await createConnection('handshake-ssh', 'GIT');
    const arn = connection.ConnectionArn ?? '';
    await api.call('Berth.CompleteConnectionHandshake', { ConnectionArn: arn, Credential: { Token: token } });
    assert.equal(connectionCredential(api.cp.store, secretBox(), arn).type, 'TOKEN');

    const key = sshKey('id_replace');
    const reply = await api.call('Berth.CompleteConnectionHandshake', { ConnectionArn: arn, Credential: { SshPrivateKey: key.privateKey, SshKnownHosts: key.knownHosts } });
    assert.equal((reply.Connection as Record<string, unknown>).CredentialType, 'SSH_KEY');
    assert.equal((reply.Connection as Record<string, unknown>).Status, 'AVAILABLE');
    const body = key.privateKey.split('\n').slice(1, -2).join('');
    assert.ok(!JSON.stringify(reply).includes(body.slice(0, 40)));
    const dump = api.dump();
    for (const line of key.privateKey.split('\n').slice(1, -2)) assert.ok(!dump.includes(line), 'a line of the private key is stored in clear');
    assert.ok(!dump.includes(token), 'the replaced token is still in the store');
    assert.deepEqual(connectionCredential(api.cp.store, secretBox(), arn), { type: 'SSH_KEY', privateKey: key.privateKey, knownHosts: key.knownHosts });
  });

  test('a PEM private key is accepted too', async () => {
    const connection = await createConnection('handshake-pem', 'GITLAB');
    const { privateKey } = generateKeyPairSync('ed25519');
    const key = sshKey('id_for_hosts');
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const reply = await api.call('Berth.CompleteConnectionHandshake', { ConnectionArn: connection.ConnectionArn, Credential: { SshPrivateKey: pem, SshKnownHosts: key.knownHosts } });
    assert.equal((reply.Connection as Record<string, unknown>).Status, 'AVAILABLE');
  });

  test('bad credentials are refused without repeating the secret, and change nothing', async () => {
    const connection = await createConnection('handshake-bad', 'GITHUB');
    const arn = connection.ConnectionArn;
    const key = sshKey('id_bad');
    const before = api.dump();
    const spaced = 'secret token with spaces';
    const error = await callRejects('Berth.CompleteConnectionHandshake', { ConnectionArn: arn, Credential: { Token: spaced } }, 'InvalidRequestException', /at 'credential.token' failed to satisfy constraint/);
    assert.ok(!error.message.includes(spaced), error.message);
    const long = `x${'y'.repeat(5000)}`;
    const tooLong = await callRejects('Berth.CompleteConnectionHandshake', { ConnectionArn: arn, Credential: { Token: long } }, 'InvalidRequestException', /length less than or equal to 4096/);
    assert.ok(!tooLong.message.includes('xyyyyyyyyy'), tooLong.message);
    await callRejects('Berth.CompleteConnectionHandshake', { ConnectionArn: arn, Credential: { SshPrivateKey: key.privateKey } }, 'InvalidRequestException', /'credential.sshKnownHosts' is required.*does not trust a host on first use/);
    await callRejects('Berth.CompleteConnectionHandshake', { ConnectionArn: arn, Credential: { Token: token, SshPrivateKey: key.privateKey, SshKnownHosts: key.knownHosts } }, 'InvalidRequestException', /exactly one/);
    await callRejects('Berth.CompleteConnectionHandshake', { ConnectionArn: arn, Credential: {} }, 'InvalidRequestException', /gives no credential/);
    const locked = sshKey('id_locked', 'a passphrase');
    const lockedError = await callRejects('Berth.CompleteConnectionHandshake', { ConnectionArn: arn, Credential: { SshPrivateKey: locked.privateKey, SshKnownHosts: locked.knownHosts } }, 'InvalidRequestException', /protected by a passphrase/);
    assert.ok(!lockedError.message.includes('BEGIN'), lockedError.message);
    await callRejects('Berth.CompleteConnectionHandshake', { ConnectionArn: arn, Credential: { SshPrivateKey: readFileSync(join(scratch, 'id_bad.pub'), 'utf8'), SshKnownHosts: key.knownHosts } }, 'InvalidRequestException', /is a public key/);
    await callRejects('Berth.CompleteConnectionHandshake', { ConnectionArn: arn, Credential: { SshPrivateKey: key.privateKey, SshKnownHosts: 'git.example.com ssh-ed25519 AAAAnotakey' } }, 'InvalidRequestException', /Line 1 of 'credential.sshKnownHosts' has a key that is not a valid base64 ssh-ed25519 key/);
    assert.equal(api.dump(), before);
  });

  test('a DELETED connection cannot be completed (InvalidStateException)', async () => {
    const connection = await createConnection('handshake-gone');
    await client.send(new DeleteConnectionCommand({ ConnectionArn: connection.ConnectionArn }));
    await callRejects('Berth.CompleteConnectionHandshake', { ConnectionArn: connection.ConnectionArn, Credential: { Token: token } }, 'InvalidStateException', /'handshake-gone' is DELETED/);
    assert.throws(() => connectionCredential(api.cp.store, secretBox(), connection.ConnectionArn ?? ''), { name: 'ResourceNotFoundException' });
  });

  test('a pending connection has no credential to open yet', async () => {
    const connection = await createConnection('handshake-pending');
    assert.throws(() => connectionCredential(api.cp.store, secretBox(), connection.ConnectionArn ?? ''), { name: 'InvalidStateException', message: /PENDING_HANDSHAKE.*CompleteConnectionHandshake/ });
  });
});

describe('custom domains', () => {
  let first: Service;
  let second: Service;

  before(async () => {
    first = await createRunningService('domains-first');
    second = await createRunningService('domains-second');
  });

  const associate = (service: Service, DomainName: string, EnableWWWSubdomain?: boolean) =>
    client.send(new AssociateCustomDomainCommand({ ServiceArn: service.ServiceArn, DomainName, EnableWWWSubdomain }));

  function assertRecords(domain: CustomDomain, names: string[]): void {
    assert.deepEqual(domain.CertificateValidationRecords?.map((r) => r.Name?.replace(/^_[0-9a-f]{32}\./, '_*.')), names.map((n) => `_*.${n}.`));
    for (const record of domain.CertificateValidationRecords ?? []) {
      assert.equal(record.Type, 'CNAME');
      assert.equal(record.Status, 'PENDING_VALIDATION');
      assert.match(record.Value ?? '', /^_[0-9a-f]{32}\.validations\.berth\.invalid\.$/);
    }
  }

  test('AssociateCustomDomain returns the DNS target, the domain pending validation, a record for it and one for www', async () => {
    const reply = await associate(first, 'example.com');
    assert.equal(reply.DNSTarget, first.ServiceUrl);
    assert.equal(reply.ServiceArn, first.ServiceArn);
    assert.deepEqual(reply.VpcDNSTargets, []);
    assert.equal(reply.CustomDomain?.DomainName, 'example.com');
    assert.equal(reply.CustomDomain?.EnableWWWSubdomain, true);
    assert.equal(reply.CustomDomain?.Status, 'PENDING_CERTIFICATE_DNS_VALIDATION');
    assertRecords(reply.CustomDomain ?? {}, ['example.com', 'www.example.com']);
  });

  test('a wildcard has no www and validates on its base name; names are lower-cased; www can be turned off', async () => {
    const wildcard = await associate(first, '*.wild.example.org');
    assert.equal(wildcard.CustomDomain?.EnableWWWSubdomain, false);
    assertRecords(wildcard.CustomDomain ?? {}, ['wild.example.org']);
    await rejects(associate(first, '*.other.example.org', true), 'InvalidRequestException', /'\*' already covers www/);

    const mixed = await associate(first, 'API.Example.NET', false);
    assert.equal(mixed.CustomDomain?.DomainName, 'api.example.net');
    assert.equal(mixed.CustomDomain?.EnableWWWSubdomain, false);
    assertRecords(mixed.CustomDomain ?? {}, ['api.example.net']);
  });

  test('DescribeCustomDomains pages one domain at a time, with the same records as at association', async () => {
    const all = await client.send(new DescribeCustomDomainsCommand({ ServiceArn: first.ServiceArn }));
    assert.equal(all.DNSTarget, first.ServiceUrl);
    assert.equal(all.ServiceArn, first.ServiceArn);
    assert.deepEqual(all.VpcDNSTargets, []);
    assert.equal(all.NextToken, undefined);
    const pages: CustomDomain[][] = [];
    for await (const page of paginateDescribeCustomDomains({ client, pageSize: 1 }, { ServiceArn: first.ServiceArn })) pages.push(page.CustomDomains ?? []);
    assert.deepEqual(pages.map((p) => p.length), [1, 1, 1]);
    assert.deepEqual(pages.flat().map((d) => d.DomainName), ['example.com', '*.wild.example.org', 'api.example.net']);
    assert.deepEqual(pages.flat(), all.CustomDomains);
    // Stable: derived from the service and the name.
    const again = await client.send(new DescribeCustomDomainsCommand({ ServiceArn: first.ServiceArn }));
    assert.deepEqual(again.CustomDomains, all.CustomDomains);
    await rejects(client.send(new DescribeCustomDomainsCommand({ ServiceArn: first.ServiceArn, MaxResults: 6 })), 'InvalidRequestException', /'maxResults' failed to satisfy constraint: Member must have value less than or equal to 5/);
  });

  test('the per-service quota is ServiceQuotaExceededException (402)', async () => {
    await rejects(associate(first, 'fourth.example.com', false), 'ServiceQuotaExceededException', /quota of 3 custom domains per service/, 402);
  });

  test('a name served by one service cannot be associated again, here or with another service', async () => {
    await rejects(associate(first, 'example.com'), 'InvalidRequestException', /'example.com' is already served by the custom domain 'example.com' of this service/);
    await rejects(associate(second, 'EXAMPLE.com'), 'InvalidRequestException', /already served by the custom domain 'example.com' of another service/);
    await rejects(associate(second, 'www.example.com', false), 'InvalidRequestException', /'www.example.com' is already served by the custom domain 'example.com'/);
    await rejects(associate(second, 'api.example.net'), 'InvalidRequestException', /another service/);
  });

  test('names that are not valid DNS names, or are under Berth’s own domain, are refused', async () => {
    const bad: [string, RegExp][] = [
      ['a..example.com', /empty label/],
      ['example.com.', /trailing dot/],
      ['a.*.example.com', /'\*' may only be the whole first label/],
      ['*x.example.com', /'\*' may only be the whole first label/],
      [`${'a'.repeat(64)}.example.com`, /is 64 characters long; a label has at most 63/],
      ['-a.example.com', /starts or ends with '-'/],
      ['com', /at least two labels/],
      ['*.com', /at least two labels/],
      ['10.0.0.1', /IP address/],
      ['app.localhost', /under 'localhost'/],
    ];
    const before = api.dump();
    for (const [name, message] of bad) await rejects(associate(second, name), 'InvalidRequestException', message);
    assert.equal(api.dump(), before);
  });

  test('DisassociateCustomDomain returns the domain DELETING and frees the name; an unknown domain is ResourceNotFoundException', async () => {
    const reply = await client.send(new DisassociateCustomDomainCommand({ ServiceArn: first.ServiceArn, DomainName: 'Example.COM' }));
    assert.equal(reply.CustomDomain?.Status, 'DELETING');
    assert.equal(reply.CustomDomain?.DomainName, 'example.com');
    assert.equal(reply.DNSTarget, first.ServiceUrl);
    assert.deepEqual(reply.VpcDNSTargets, []);
    const left = await client.send(new DescribeCustomDomainsCommand({ ServiceArn: first.ServiceArn }));
    assert.deepEqual(left.CustomDomains?.map((d) => d.DomainName), ['*.wild.example.org', 'api.example.net']);
    await rejects(
      client.send(new DisassociateCustomDomainCommand({ ServiceArn: first.ServiceArn, DomainName: 'example.com' })),
      'ResourceNotFoundException',
      /no custom domain 'example.com'; its custom domains: \*.wild.example.org, api.example.net/,
    );
    const moved = await associate(second, 'example.com');
    assert.equal(moved.DNSTarget, second.ServiceUrl);
  });

  test('a PAUSED service refuses association and disassociation', async () => {
    await api.call('PauseService', { ServiceArn: second.ServiceArn });
    await api.settle();
    const { Service: paused } = await client.send(new DescribeServiceCommand({ ServiceArn: second.ServiceArn }));
    assert.equal(paused?.Status, 'PAUSED');
    await rejects(associate(second, 'paused.example.com'), 'InvalidStateException', /Cannot AssociateCustomDomain on service 'domains-second' while its status is PAUSED/);
    await rejects(
      client.send(new DisassociateCustomDomainCommand({ ServiceArn: second.ServiceArn, DomainName: 'example.com' })),
      'InvalidStateException',
      /Cannot DisassociateCustomDomain .* PAUSED/,
    );
    const described = await client.send(new DescribeCustomDomainsCommand({ ServiceArn: second.ServiceArn }));
    assert.deepEqual(described.CustomDomains?.map((d) => d.DomainName), ['example.com']);
  });

  test('the domains of a DELETED service are gone with it: free for another service', async () => {
    await client.send(new DeleteServiceCommand({ ServiceArn: second.ServiceArn }));
    await api.settle();
    const described = await client.send(new DescribeCustomDomainsCommand({ ServiceArn: second.ServiceArn }));
    assert.deepEqual(described.CustomDomains, []);
    await rejects(associate(second, 'late.example.com'), 'ResourceNotFoundException', /has been deleted/);
    await client.send(new DisassociateCustomDomainCommand({ ServiceArn: first.ServiceArn, DomainName: 'api.example.net' }));
    const reused = await associate(first, 'example.com');
    assert.equal(reused.ServiceArn, first.ServiceArn);
  });
});

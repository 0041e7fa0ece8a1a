/**
 * Invalid requests of the connection operations (CreateConnection, DeleteConnection,
 * ListConnections) and of Berth's extensions: CompleteConnectionHandshake,
 * GetConnectionWebhook and RotateConnectionWebhookSecret.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { CaseFamily, Fixtures, InvalidCase } from './types.ts';

const HANDSHAKE = 'Berth.CompleteConnectionHandshake';

// Keys made here with node:crypto, so the table needs no ssh-keygen: an Ed25519 key in PEM
// (PKCS#8) form, the known_hosts line for its public half, and keys SSH cannot use.
const ed25519 = generateKeyPairSync('ed25519');
const PEM_KEY = ed25519.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const LOCKED_PEM_KEY = ed25519.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'conn-passphrase' }).toString();
const X25519_KEY = generateKeyPairSync('x25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const sshString = (value: string | Buffer): Buffer => {
  const bytes = typeof value === 'string' ? Buffer.from(value) : value;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
};
const ED25519_BLOB = Buffer.concat([sshString('ssh-ed25519'), sshString(Buffer.from(ed25519.publicKey.export({ format: 'jwk' }).x ?? '', 'base64url'))]).toString('base64');
const KNOWN_HOSTS = `git.example.com ssh-ed25519 ${ED25519_BLOB}\n`;

/** The account id in a fixture ARN. */
const account = (arn: string | undefined): string => arn?.split(':')[4] ?? '000000000000';
const connectionArn = (f: Fixtures, tail: string): string => `arn:aws:apprunner:us-east-1:${account(f.connPendingArn)}:connection/${tail}`;
const handshake = (f: Fixtures, credential: unknown): unknown => ({ ConnectionArn: f.connPendingArn, Credential: credential });

/** The webhook operations take one member, a connection's ARN: the same cases for both. */
const webhookCases = (operation: string): InvalidCase[] => [
  { name: 'no ConnectionArn', operation, body: () => ({}), error: 'InvalidRequestException', message: /Value null at 'connectionArn' failed to satisfy constraint: Member must not be null/ },
  { name: 'an empty ARN', operation, body: () => ({ ConnectionArn: '' }), error: 'InvalidRequestException', message: /at 'connectionArn' failed to satisfy constraint: Member must have length greater than or equal to 1/ },
  { name: 'a malformed ARN', operation, body: () => ({ ConnectionArn: 'conn-available' }), error: 'InvalidRequestException', message: /Value 'conn-available' at 'connectionArn'.*regular expression pattern/ },
  { name: 'an ARN that is a number', operation, body: () => ({ ConnectionArn: 42 }), error: 'InvalidRequestException', message: /Value 42 at 'connectionArn' must be a string/ },
  { name: 'the ARN of a service', operation, body: (f) => ({ ConnectionArn: `arn:aws:apprunner:us-east-1:${account(f.connAvailableArn)}:service/conn-svc/0123456789abcdef0123456789abcdef` }), error: 'InvalidRequestException', message: /at 'connectionArn' is not a connection ARN: arn:aws:apprunner:<region>:<account>:connection\/<name>\/<32 hex id>/ },
  { name: 'a connection ARN without its id', operation, body: (f) => ({ ConnectionArn: connectionArn(f, 'conn-available') }), error: 'InvalidRequestException', message: /is not a connection ARN/ },
  { name: 'an ARN of another region', operation, body: (f) => ({ ConnectionArn: String(f.connAvailableArn).replace('us-east-1', 'eu-west-1') }), error: 'ResourceNotFoundException', message: /No connection with ARN .* exists in account [0-9]{12}, region us-east-1/ },
  { name: 'a connection that does not exist', operation, body: (f) => ({ ConnectionArn: connectionArn(f, 'conn-ghost/0123456789abcdef0123456789abcdef') }), error: 'ResourceNotFoundException', message: /No connection with ARN '.*conn-ghost.*' exists/ },
  { name: 'a deleted connection', operation, body: (f) => ({ ConnectionArn: f.connDeletedArn }), error: 'ResourceNotFoundException', message: /Connection 'conn-deleted' has been deleted; its webhook went with it/ },
  { name: 'an unknown member', operation, body: (f) => ({ ConnectionArn: f.connAvailableArn, Secret: 'conn-my-own-secret' }), error: 'InvalidRequestException', message: /Unknown member 'secret'; expected one of: ConnectionArn/ },
  { name: 'a body that is not JSON', operation, body: () => '{"ConnectionArn": ', error: 'SerializationException', message: /not valid JSON/ },
];

export const family: CaseFamily = {
  name: 'connections',
  async setup(api) {
    const created = async (name: string, providerType = 'GITHUB'): Promise<string> =>
      String(((await api.call('CreateConnection', { ConnectionName: name, ProviderType: providerType })).Connection as { ConnectionArn: string }).ConnectionArn);
    const connPendingArn = await created('conn-pending');
    const connDeletedArn = await created('conn-deleted', 'GITLAB');
    await api.call('DeleteConnection', { ConnectionArn: connDeletedArn });
    const connAvailableArn = await created('conn-available', 'GIT');
    await api.call(HANDSHAKE, { ConnectionArn: connAvailableArn, Credential: { Token: 'conn-setup-token' } });
    const page = await api.call('ListConnections', { MaxResults: 1 });
    return { connPendingArn, connDeletedArn, connAvailableArn, connListToken: String(page.NextToken) };
  },
  cases: [
    // CreateConnection
    { name: 'no ConnectionName', operation: 'CreateConnection', body: () => ({ ProviderType: 'GITHUB' }), error: 'InvalidRequestException', message: /Value null at 'connectionName' failed to satisfy constraint: Member must not be null/ },
    { name: 'no ProviderType', operation: 'CreateConnection', body: () => ({ ConnectionName: 'conn-new' }), error: 'InvalidRequestException', message: /Value null at 'providerType' failed to satisfy constraint: Member must not be null/ },
    { name: 'a name of 3 characters', operation: 'CreateConnection', body: () => ({ ConnectionName: 'con', ProviderType: 'GITHUB' }), error: 'InvalidRequestException', message: /Value 'con' at 'connectionName' failed to satisfy constraint: Member must have length greater than or equal to 4/ },
    { name: 'a name of 33 characters', operation: 'CreateConnection', body: () => ({ ConnectionName: `conn-${'x'.repeat(28)}`, ProviderType: 'GITHUB' }), error: 'InvalidRequestException', message: /at 'connectionName' failed to satisfy constraint: Member must have length less than or equal to 32/ },
    { name: 'a name starting with _', operation: 'CreateConnection', body: () => ({ ConnectionName: '_conn-x', ProviderType: 'GITHUB' }), error: 'InvalidRequestException', message: /Value '_conn-x' at 'connectionName' failed to satisfy constraint: Member must satisfy regular expression pattern/ },
    { name: 'a name with a space', operation: 'CreateConnection', body: () => ({ ConnectionName: 'conn x y', ProviderType: 'GITHUB' }), error: 'InvalidRequestException', message: /Value 'conn x y' at 'connectionName'.*regular expression pattern/ },
    { name: 'a name that is a number', operation: 'CreateConnection', body: () => ({ ConnectionName: 12345, ProviderType: 'GITHUB' }), error: 'InvalidRequestException', message: /Value 12345 at 'connectionName' must be a string/ },
    { name: 'an unknown provider type', operation: 'CreateConnection', body: () => ({ ConnectionName: 'conn-new', ProviderType: 'SOURCEFORGE' }), error: 'InvalidRequestException', message: /Value 'SOURCEFORGE' at 'providerType' failed to satisfy constraint: Member must satisfy enum value set: \[GITHUB, BITBUCKET, GITLAB, GITEA, GIT\]/ },
    { name: 'a provider type in lower case', operation: 'CreateConnection', body: () => ({ ConnectionName: 'conn-new', ProviderType: 'github' }), error: 'InvalidRequestException', message: /Value 'github' at 'providerType'.*enum value set/ },
    { name: 'a provider type that is not a string', operation: 'CreateConnection', body: () => ({ ConnectionName: 'conn-new', ProviderType: ['GITHUB'] }), error: 'InvalidRequestException', message: /at 'providerType' must be a string/ },
    { name: 'an unknown member', operation: 'CreateConnection', body: () => ({ ConnectionName: 'conn-new', ProviderType: 'GITHUB', RepositoryUrl: 'https://example.com/x' }), error: 'InvalidRequestException', message: /Unknown member 'repositoryUrl'; expected one of: ConnectionName, ProviderType, Tags/ },
    { name: 'tags that are not a list', operation: 'CreateConnection', body: () => ({ ConnectionName: 'conn-new', ProviderType: 'GITHUB', Tags: { team: 'web' } }), error: 'InvalidRequestException', message: /at 'tags' must be a list/ },
    { name: 'a tag key starting with aws:', operation: 'CreateConnection', body: () => ({ ConnectionName: 'conn-new', ProviderType: 'GITHUB', Tags: [{ Key: 'aws:owner', Value: 'x' }] }), error: 'InvalidRequestException', message: /Value 'aws:owner' at 'tags.1.member.key'.*regular expression pattern/ },
    { name: 'a tag without a key', operation: 'CreateConnection', body: () => ({ ConnectionName: 'conn-new', ProviderType: 'GITHUB', Tags: [{ Value: 'x' }] }), error: 'InvalidRequestException', message: /Value null at 'tags.1.member.key' failed to satisfy constraint: Member must not be null/ },
    { name: '51 tags', operation: 'CreateConnection', body: () => ({ ConnectionName: 'conn-new', ProviderType: 'GITHUB', Tags: Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: 'v' })) }), error: 'InvalidRequestException', message: /Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50/ },
    { name: 'the name of a live connection', operation: 'CreateConnection', body: () => ({ ConnectionName: 'conn-pending', ProviderType: 'GITEA' }), error: 'InvalidRequestException', message: /A connection named 'conn-pending' already exists/ },
    { name: 'a body that is not JSON', operation: 'CreateConnection', body: () => '{"ConnectionName": "conn-new",', error: 'SerializationException', message: /not valid JSON/ },
    { name: 'a body that is a JSON array', operation: 'CreateConnection', body: () => '["conn-new"]', error: 'SerializationException', message: /must be a JSON object/ },

    // DeleteConnection
    { name: 'no ConnectionArn', operation: 'DeleteConnection', body: () => ({}), error: 'InvalidRequestException', message: /Value null at 'connectionArn' failed to satisfy constraint: Member must not be null/ },
    { name: 'an empty ARN', operation: 'DeleteConnection', body: () => ({ ConnectionArn: '' }), error: 'InvalidRequestException', message: /at 'connectionArn' failed to satisfy constraint: Member must have length greater than or equal to 1/ },
    { name: 'a malformed ARN', operation: 'DeleteConnection', body: () => ({ ConnectionArn: 'conn-pending' }), error: 'InvalidRequestException', message: /Value 'conn-pending' at 'connectionArn'.*regular expression pattern/ },
    { name: 'an ARN that is a number', operation: 'DeleteConnection', body: () => ({ ConnectionArn: 42 }), error: 'InvalidRequestException', message: /Value 42 at 'connectionArn' must be a string/ },
    { name: 'the ARN of a service', operation: 'DeleteConnection', body: (f) => ({ ConnectionArn: `arn:aws:apprunner:us-east-1:${account(f.connPendingArn)}:service/conn-svc/0123456789abcdef0123456789abcdef` }), error: 'InvalidRequestException', message: /at 'connectionArn' is not a connection ARN: arn:aws:apprunner:<region>:<account>:connection\/<name>\/<32 hex id>/ },
    { name: 'a connection ARN without its id', operation: 'DeleteConnection', body: (f) => ({ ConnectionArn: connectionArn(f, 'conn-pending') }), error: 'InvalidRequestException', message: /is not a connection ARN/ },
    { name: 'a connection ARN with a malformed id', operation: 'DeleteConnection', body: (f) => ({ ConnectionArn: connectionArn(f, 'conn-pending/XYZ') }), error: 'InvalidRequestException', message: /'arn:aws:apprunner:.*conn-pending\/XYZ' at 'connectionArn' is not a connection ARN/ },
    { name: 'an ARN of another region', operation: 'DeleteConnection', body: (f) => ({ ConnectionArn: String(f.connPendingArn).replace('us-east-1', 'eu-west-1') }), error: 'ResourceNotFoundException', message: /No connection with ARN .* exists in account [0-9]{12}, region us-east-1/ },
    { name: 'a connection that does not exist', operation: 'DeleteConnection', body: (f) => ({ ConnectionArn: connectionArn(f, 'conn-pending/00000000000000000000000000000000') }), error: 'ResourceNotFoundException', message: /No connection with ARN '.*conn-pending\/0{32}' exists/ },
    { name: 'a deleted connection', operation: 'DeleteConnection', body: (f) => ({ ConnectionArn: f.connDeletedArn }), error: 'ResourceNotFoundException', message: /Connection '.*conn-deleted.*' has already been deleted/ },
    { name: 'an unknown member', operation: 'DeleteConnection', body: (f) => ({ ConnectionArn: f.connPendingArn, Force: true }), error: 'InvalidRequestException', message: /Unknown member 'force'/ },

    // ListConnections
    { name: 'MaxResults 0', operation: 'ListConnections', body: () => ({ MaxResults: 0 }), error: 'InvalidRequestException', message: /Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1/ },
    { name: 'MaxResults 101', operation: 'ListConnections', body: () => ({ MaxResults: 101 }), error: 'InvalidRequestException', message: /Value '101' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100/ },
    { name: 'MaxResults as a string', operation: 'ListConnections', body: () => ({ MaxResults: '5' }), error: 'InvalidRequestException', message: /Value "5" at 'maxResults' must be an integer/ },
    { name: 'an empty NextToken', operation: 'ListConnections', body: () => ({ NextToken: '' }), error: 'InvalidRequestException', message: /at 'nextToken' failed to satisfy constraint: Member must have length greater than or equal to 1/ },
    { name: 'a NextToken of 1025 characters', operation: 'ListConnections', body: () => ({ NextToken: 'a'.repeat(1025) }), error: 'InvalidRequestException', message: /at 'nextToken' failed to satisfy constraint: Member must have length less than or equal to 1024/ },
    { name: 'a NextToken that is no token', operation: 'ListConnections', body: () => ({ NextToken: 'conn-garbage' }), error: 'InvalidRequestException', message: /The NextToken 'conn-garbage' is invalid/ },
    { name: 'a NextToken of the listing without a name filter', operation: 'ListConnections', body: (f) => ({ NextToken: f.connListToken, ConnectionName: 'conn-pending' }), error: 'InvalidRequestException', message: /does not belong to this listing/ },
    { name: 'a name filter with a bad character', operation: 'ListConnections', body: () => ({ ConnectionName: 'conn/x' }), error: 'InvalidRequestException', message: /Value 'conn\/x' at 'connectionName'.*regular expression pattern/ },
    { name: 'an unknown member', operation: 'ListConnections', body: () => ({ ProviderType: 'GITHUB' }), error: 'InvalidRequestException', message: /Unknown member 'providerType'; expected one of: ConnectionName, MaxResults, NextToken/ },

    // Berth.CompleteConnectionHandshake
    { name: 'no ConnectionArn', operation: HANDSHAKE, body: () => ({ Credential: { Token: 'conn-token' } }), error: 'InvalidRequestException', message: /Value null at 'connectionArn' failed to satisfy constraint: Member must not be null/ },
    { name: 'no Credential', operation: HANDSHAKE, body: (f) => ({ ConnectionArn: f.connPendingArn }), error: 'InvalidRequestException', message: /Value null at 'credential' failed to satisfy constraint: Member must not be null/ },
    { name: 'a Credential that is a string', operation: HANDSHAKE, body: (f) => handshake(f, 'conn-bare-token'), error: 'InvalidRequestException', message: /^(?![\s\S]*conn-bare-token)[\s\S]*Value \(secret, not shown\) at 'credential' must be an object/ },
    { name: 'an empty Credential', operation: HANDSHAKE, body: (f) => handshake(f, {}), error: 'InvalidRequestException', message: /'credential' gives no credential; give 'credential.token'.*or 'credential.sshPrivateKey' with 'credential.sshKnownHosts'/ },
    { name: 'a token and an SSH key', operation: HANDSHAKE, body: (f) => handshake(f, { Token: 'conn-token', SshPrivateKey: PEM_KEY, SshKnownHosts: KNOWN_HOSTS }), error: 'InvalidRequestException', message: /gives both 'credential.token' and 'credential.sshPrivateKey'; give exactly one/ },
    { name: 'a token with spaces, not repeated in the message', operation: HANDSHAKE, body: (f) => handshake(f, { Token: 'conn secret token' }), error: 'InvalidRequestException', message: /^(?![\s\S]*conn secret token)[\s\S]*'credential.token' failed to satisfy constraint: Member must satisfy regular expression pattern/ },
    { name: 'a token with a line break', operation: HANDSHAKE, body: (f) => handshake(f, { Token: 'conn-token\nHost: evil' }), error: 'InvalidRequestException', message: /^(?![\s\S]*Host: evil)[\s\S]*'credential.token'.*regular expression pattern/ },
    { name: 'an empty token', operation: HANDSHAKE, body: (f) => handshake(f, { Token: '' }), error: 'InvalidRequestException', message: /at 'credential.token' failed to satisfy constraint: Member must have length greater than or equal to 1/ },
    { name: 'a token of 4097 characters, not repeated in the message', operation: HANDSHAKE, body: (f) => handshake(f, { Token: `conn${'t'.repeat(4093)}` }), error: 'InvalidRequestException', message: /^(?![\s\S]*conntttt)[\s\S]*'credential.token' failed to satisfy constraint: Member must have length less than or equal to 4096/ },
    { name: 'a token that is a number', operation: HANDSHAKE, body: (f) => handshake(f, { Token: 1234 }), error: 'InvalidRequestException', message: /at 'credential.token' must be a string/ },
    { name: 'a username with a colon', operation: HANDSHAKE, body: (f) => handshake(f, { Token: 'conn-token', Username: 'conn:user' }), error: 'InvalidRequestException', message: /Value 'conn:user' at 'credential.username'.*regular expression pattern/ },
    { name: 'a username with an SSH key', operation: HANDSHAKE, body: (f) => handshake(f, { Username: 'git', SshPrivateKey: PEM_KEY, SshKnownHosts: KNOWN_HOSTS }), error: 'InvalidRequestException', message: /'credential.username' applies to a token/ },
    { name: 'known hosts with a token', operation: HANDSHAKE, body: (f) => handshake(f, { Token: 'conn-token', SshKnownHosts: KNOWN_HOSTS }), error: 'InvalidRequestException', message: /'credential.sshKnownHosts' applies to an SSH private key, not to a token/ },
    { name: 'an SSH key without known hosts (no trust on first use)', operation: HANDSHAKE, body: (f) => handshake(f, { SshPrivateKey: PEM_KEY }), error: 'InvalidRequestException', message: /'credential.sshKnownHosts' is required with 'credential.sshPrivateKey'.*does not trust a host on first use/ },
    { name: 'an SSH key that is no key', operation: HANDSHAKE, body: (f) => handshake(f, { SshPrivateKey: 'conn-not-a-key', SshKnownHosts: KNOWN_HOSTS }), error: 'InvalidRequestException', message: /^(?![\s\S]*conn-not-a-key)[\s\S]*'credential.sshPrivateKey' is not a private key in OpenSSH or PEM form/ },
    { name: 'a PEM key with a damaged body', operation: HANDSHAKE, body: (f) => handshake(f, { SshPrivateKey: PEM_KEY.replace(/\n[A-Za-z0-9+/]{8}/, '\n!!!!!!!!'), SshKnownHosts: KNOWN_HOSTS }), error: 'InvalidRequestException', message: /is not a private key in OpenSSH or PEM form/ },
    { name: 'an OpenSSH key block with a body that is no key', operation: HANDSHAKE, body: (f) => handshake(f, { SshPrivateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nY29ubi1ub3Qta2V5\n-----END OPENSSH PRIVATE KEY-----\n', SshKnownHosts: KNOWN_HOSTS }), error: 'InvalidRequestException', message: /is not a private key in OpenSSH or PEM form/ },
    { name: 'a public key given as the private key', operation: HANDSHAKE, body: (f) => handshake(f, { SshPrivateKey: `ssh-ed25519 ${ED25519_BLOB} conn@example`, SshKnownHosts: KNOWN_HOSTS }), error: 'InvalidRequestException', message: /'credential.sshPrivateKey' is a public key; give the private key/ },
    { name: 'a passphrase-protected key', operation: HANDSHAKE, body: (f) => handshake(f, { SshPrivateKey: LOCKED_PEM_KEY, SshKnownHosts: KNOWN_HOSTS }), error: 'InvalidRequestException', message: /^(?![\s\S]*BEGIN)[\s\S]*'credential.sshPrivateKey' is protected by a passphrase/ },
    { name: 'an X25519 key, which SSH cannot use', operation: HANDSHAKE, body: (f) => handshake(f, { SshPrivateKey: X25519_KEY, SshKnownHosts: KNOWN_HOSTS }), error: 'InvalidRequestException', message: /is a x25519 key, which SSH cannot use/ },
    { name: 'a certificate given as the key', operation: HANDSHAKE, body: (f) => handshake(f, { SshPrivateKey: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----', SshKnownHosts: KNOWN_HOSTS }), error: 'InvalidRequestException', message: /is a PEM block of type 'CERTIFICATE', not a private key/ },
    { name: 'known hosts that are not entries', operation: HANDSHAKE, body: (f) => handshake(f, { SshPrivateKey: PEM_KEY, SshKnownHosts: 'git.example.com\n' }), error: 'InvalidRequestException', message: /Line 1 of 'credential.sshKnownHosts' is not a known_hosts entry/ },
    { name: 'known hosts with an unknown key type', operation: HANDSHAKE, body: (f) => handshake(f, { SshPrivateKey: PEM_KEY, SshKnownHosts: `# pinned\ngit.example.com ssh-foo ${ED25519_BLOB}` }), error: 'InvalidRequestException', message: /Line 2 of 'credential.sshKnownHosts' has the key type 'ssh-foo'; expected one of: ssh-ed25519/ },
    { name: 'known hosts whose key is of another type', operation: HANDSHAKE, body: (f) => handshake(f, { SshPrivateKey: PEM_KEY, SshKnownHosts: `git.example.com ssh-rsa ${ED25519_BLOB}` }), error: 'InvalidRequestException', message: /Line 1 .* has a key that is not a valid base64 ssh-rsa key/ },
    { name: 'known hosts with an unknown marker', operation: HANDSHAKE, body: (f) => handshake(f, { SshPrivateKey: PEM_KEY, SshKnownHosts: `@trusted ${KNOWN_HOSTS}` }), error: 'InvalidRequestException', message: /has the marker '@trusted'; known_hosts markers are @cert-authority and @revoked/ },
    { name: 'known hosts with an empty host pattern', operation: HANDSHAKE, body: (f) => handshake(f, { SshPrivateKey: PEM_KEY, SshKnownHosts: `git.example.com,,x ssh-ed25519 ${ED25519_BLOB}` }), error: 'InvalidRequestException', message: /has an empty host pattern/ },
    { name: 'known hosts with revoked keys only', operation: HANDSHAKE, body: (f) => handshake(f, { SshPrivateKey: PEM_KEY, SshKnownHosts: `# none\n@revoked ${KNOWN_HOSTS}` }), error: 'InvalidRequestException', message: /'credential.sshKnownHosts' holds no host key/ },
    { name: 'an unknown credential member, its value not repeated', operation: HANDSHAKE, body: (f) => handshake(f, { Password: 'conn-hunter2' }), error: 'InvalidRequestException', message: /^(?![\s\S]*conn-hunter2)[\s\S]*Unknown member 'credential.password'; expected one of: Token, Username, SshPrivateKey, SshKnownHosts/ },
    { name: 'an unknown member', operation: HANDSHAKE, body: (f) => ({ ConnectionArn: f.connPendingArn, Credential: { Token: 'conn-token' }, ProviderType: 'GITHUB' }), error: 'InvalidRequestException', message: /Unknown member 'providerType'; expected one of: ConnectionArn, Credential/ },
    { name: 'the ARN of a service', operation: HANDSHAKE, body: (f) => ({ ConnectionArn: `arn:aws:apprunner:us-east-1:${account(f.connPendingArn)}:service/conn-svc/0123456789abcdef0123456789abcdef`, Credential: { Token: 'conn-token' } }), error: 'InvalidRequestException', message: /at 'connectionArn' is not a connection ARN/ },
    { name: 'a connection that does not exist', operation: HANDSHAKE, body: (f) => ({ ConnectionArn: connectionArn(f, 'conn-ghost/0123456789abcdef0123456789abcdef'), Credential: { Token: 'conn-token' } }), error: 'ResourceNotFoundException', message: /No connection with ARN '.*conn-ghost.*' exists/ },
    { name: 'a deleted connection', operation: HANDSHAKE, body: (f) => ({ ConnectionArn: f.connDeletedArn, Credential: { Token: 'conn-token' } }), error: 'InvalidStateException', message: /Connection 'conn-deleted' is DELETED; a deleted connection cannot be completed/ },
    { name: 'an available connection given a bad credential keeps its own', operation: HANDSHAKE, body: (f) => ({ ConnectionArn: f.connAvailableArn, Credential: { Token: 'conn bad' } }), error: 'InvalidRequestException', message: /'credential.token' failed to satisfy constraint/ },

    // Berth.GetConnectionWebhook, Berth.RotateConnectionWebhookSecret
    webhookCases('Berth.GetConnectionWebhook'),
    webhookCases('Berth.RotateConnectionWebhookSecret'),
  ],
};

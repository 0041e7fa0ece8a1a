/**
 * A scripted tour of Berth with Debian's AWS CLI v2 (2.9.19), the way a user would drive it:
 * auto scaling and observability configurations, a connection, a VPC connector, a service from
 * an image and its whole lifecycle, custom domains, a VPC ingress connection, tags, then every
 * delete. The list of commands comes from the CLI's own App Runner model, and the last step
 * proves the tour ran each of them, so none is silently skipped. The CLI's model is older than
 * the SDK's (app-runner-api.md §5.8): Cpu/Memory as "1 vCPU"/"2 GB", no
 * UpdateDefaultAutoScalingConfiguration or ListServicesForAutoScalingConfiguration, and its
 * output drops members it does not know (IsDefault, IpAddressType, ...).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startApiHarness, type ApiHarness } from '../support/api-harness.ts';
import { awsCli, awsCliSkip, cliCommandName, cliModelOperations, type AwsCli } from '../support/aws-cli.ts';
import { waitFor } from '../support/berth-process.ts';

const skip = awsCliSkip();
const ACCOUNT = '000000000000';
const PREFIX = `arn:aws:apprunner:us-east-1:${ACCOUNT}:`;
const HEX32 = '[0-9a-f]{32}';
const IMAGE = 'public.ecr.aws/berth-tour/web:1';
const arnOf = (resource: string): RegExp => new RegExp(`^${PREFIX.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}${resource}$`);

interface AutoScaling {
  AutoScalingConfigurationArn: string;
  AutoScalingConfigurationName: string;
  AutoScalingConfigurationRevision: number;
  Latest: boolean;
  Status: string;
  MaxConcurrency: number;
  MinSize: number;
  MaxSize: number;
  CreatedAt: string;
  DeletedAt?: string;
}
interface Observability {
  ObservabilityConfigurationArn: string;
  ObservabilityConfigurationName: string;
  ObservabilityConfigurationRevision: number;
  TraceConfiguration?: { Vendor: string };
  Latest: boolean;
  Status: string;
  CreatedAt: string;
  DeletedAt?: string;
}
interface Connection { ConnectionName: string; ConnectionArn: string; ProviderType: string; Status: string; CreatedAt: string }
interface VpcConnector {
  VpcConnectorName: string;
  VpcConnectorArn: string;
  VpcConnectorRevision: number;
  Subnets: string[];
  SecurityGroups: string[];
  Status: string;
  CreatedAt: string;
  DeletedAt?: string;
}
interface Service {
  ServiceName: string;
  ServiceId: string;
  ServiceArn: string;
  ServiceUrl: string;
  CreatedAt: string;
  UpdatedAt: string;
  DeletedAt?: string;
  Status: string;
  SourceConfiguration: Record<string, unknown>;
  InstanceConfiguration: Record<string, unknown>;
  HealthCheckConfiguration: Record<string, unknown>;
  AutoScalingConfigurationSummary: Record<string, unknown>;
  NetworkConfiguration: Record<string, unknown>;
  ObservabilityConfiguration: Record<string, unknown>;
}
interface ServiceSummary { ServiceName: string; ServiceId: string; ServiceArn: string; ServiceUrl: string; CreatedAt: string; UpdatedAt: string; Status: string }
interface OperationSummary { Id: string; Type: string; Status: string; TargetArn: string; StartedAt: string; EndedAt?: string; UpdatedAt: string }
interface CustomDomain {
  DomainName: string;
  EnableWWWSubdomain: boolean;
  Status: string;
  CertificateValidationRecords?: { Name: string; Type: string; Value: string; Status: string }[];
}
interface CustomDomainsOutput { DNSTarget: string; ServiceArn: string; VpcDNSTargets: unknown[]; NextToken?: string }
interface VpcIngressConnection {
  VpcIngressConnectionArn: string;
  VpcIngressConnectionName: string;
  ServiceArn: string;
  Status: string;
  AccountId: string;
  DomainName: string;
  IngressVpcConfiguration: { VpcId: string; VpcEndpointId: string };
  CreatedAt: string;
  DeletedAt?: string;
}
type Tag = { Key: string; Value: string };

const DOMAIN_STATUSES = ['CREATING', 'CREATE_FAILED', 'ACTIVE', 'DELETING', 'DELETE_FAILED', 'PENDING_CERTIFICATE_DNS_VALIDATION', 'BINDING_CERTIFICATE'];

describe('the AWS CLI v2 (2.9.19) tour of every App Runner command its model knows', { skip }, () => {
  let api: ApiHarness;
  let cli: AwsCli;
  let tourStart: number;
  // What earlier steps made, for the steps after them.
  const made = {
    ascV1: '', ascV2: '', observability: '', connection: '', connector: '', service: '', serviceId: '', serviceUrl: '', ingress: '',
    operations: [] as { id: string; type: string }[],
  };

  before(async () => {
    // Quotas as documented (§5.1); the tour stays well inside them.
    api = await startApiHarness();
    cli = awsCli(api.endpoint);
    tourStart = Math.floor(Date.now() / 1000) * 1000;
  });

  after(async () => {
    await api?.close();
  });

  /** Runs a command that must succeed and returns its parsed output (`{}` when it prints nothing). */
  async function ok<T = Record<string, unknown>>(command: string, args: readonly string[] = []): Promise<T> {
    const result = await cli.run(command, args);
    assert.equal(result.code, 0, `aws apprunner ${command} ${args.join(' ')} exited ${result.code}:\n${result.stderr}`);
    return (result.stdout.trim() === '' ? {} : JSON.parse(result.stdout)) as T;
  }

  /** Runs a command the server must refuse: exit 254 and the CLI's one-line account of the error. */
  async function refused(command: string, args: readonly string[], type: string | RegExp, operation: string): Promise<string> {
    const result = await cli.run(command, args);
    assert.equal(result.code, 254, `aws apprunner ${command} ${args.join(' ')} exited ${result.code}, expected 254:\n${result.stdout}${result.stderr}`);
    const line = result.stderr.trim();
    const code = typeof type === 'string' ? type.replace(/[()]/g, '\\$&') : type.source;
    assert.match(line, new RegExp(`^An error occurred \\((${code})\\) when calling the ${operation} operation: .+`), line);
    assert.equal(result.stdout, '');
    return line;
  }

  /** CLI v2 prints timestamps as ISO 8601; each must be a time since the tour started. */
  function recent(value: unknown, what: string): void {
    assert.equal(typeof value, 'string', `${what} should be a timestamp, got ${JSON.stringify(value)}`);
    assert.match(value as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/, what);
    const ms = Date.parse(value as string);
    assert.ok(ms >= tourStart && ms <= Date.now() + 1000, `${what} ${String(value)} is not between the tour's start and now`);
  }

  async function describeService(): Promise<Service> {
    return (await ok<{ Service: Service }>('describe-service', ['--service-arn', made.service])).Service;
  }

  /** Waits for the service's operation to end (the reconciler runs it) and checks the status it ends in. */
  async function settledTo(status: string): Promise<Service> {
    await api.settle(20_000);
    const service = await describeService();
    assert.equal(service.Status, status, `after the operation the service should be ${status}`);
    return service;
  }

  it("knows the CLI's model: 35 operations, without the two the newer model added (§5.8)", () => {
    const operations = cliModelOperations();
    assert.equal(operations.length, 35, operations.join(', '));
    assert.ok(!operations.includes('UpdateDefaultAutoScalingConfiguration'));
    assert.ok(!operations.includes('ListServicesForAutoScalingConfiguration'));
  });

  it('auto scaling configurations: two revisions of a name, describe, list, pages', async () => {
    const first = (await ok<{ AutoScalingConfiguration: AutoScaling }>('create-auto-scaling-configuration', [
      '--auto-scaling-configuration-name', 'tour-scaling', '--max-concurrency', '50', '--min-size', '2', '--max-size', '10',
      '--tags', 'Key=team,Value=tour',
    ])).AutoScalingConfiguration;
    assert.match(first.AutoScalingConfigurationArn, arnOf(`autoscalingconfiguration/tour-scaling/1/${HEX32}`));
    assert.equal(first.AutoScalingConfigurationName, 'tour-scaling');
    assert.equal(first.AutoScalingConfigurationRevision, 1);
    assert.equal(first.Latest, true);
    assert.equal(first.Status, 'ACTIVE');
    assert.deepEqual([first.MaxConcurrency, first.MinSize, first.MaxSize], [50, 2, 10]);
    recent(first.CreatedAt, 'CreatedAt');
    assert.equal(first.DeletedAt, undefined);
    made.ascV1 = first.AutoScalingConfigurationArn;

    // The same name again is the next revision; unset values take the defaults (100, 1, 25).
    const second = (await ok<{ AutoScalingConfiguration: AutoScaling }>('create-auto-scaling-configuration', [
      '--auto-scaling-configuration-name', 'tour-scaling', '--min-size', '1', '--max-size', '3',
    ])).AutoScalingConfiguration;
    assert.match(second.AutoScalingConfigurationArn, arnOf(`autoscalingconfiguration/tour-scaling/2/${HEX32}`));
    assert.equal(second.AutoScalingConfigurationRevision, 2);
    assert.equal(second.Latest, true);
    assert.deepEqual([second.MaxConcurrency, second.MinSize, second.MaxSize], [100, 1, 3]);
    made.ascV2 = second.AutoScalingConfigurationArn;

    const described = (await ok<{ AutoScalingConfiguration: AutoScaling }>('describe-auto-scaling-configuration', [
      '--auto-scaling-configuration-arn', made.ascV1,
    ])).AutoScalingConfiguration;
    assert.equal(described.AutoScalingConfigurationArn, made.ascV1);
    assert.equal(described.AutoScalingConfigurationRevision, 1);
    assert.equal(described.Latest, false, 'revision 1 is no longer the latest once revision 2 exists');
    assert.deepEqual([described.MaxConcurrency, described.MinSize, described.MaxSize], [50, 2, 10]);

    // A partial ARN (name only) names the latest active revision (§2.2).
    const byName = (await ok<{ AutoScalingConfiguration: AutoScaling }>('describe-auto-scaling-configuration', [
      '--auto-scaling-configuration-arn', `${PREFIX}autoscalingconfiguration/tour-scaling`,
    ])).AutoScalingConfiguration;
    assert.equal(byName.AutoScalingConfigurationArn, made.ascV2);

    type Listing = { AutoScalingConfigurationSummaryList: { AutoScalingConfigurationArn: string; AutoScalingConfigurationName: string; AutoScalingConfigurationRevision: number }[]; NextToken?: string };
    // LatestOnly defaults to true: one entry per name, the default configuration's among them.
    const latest = await ok<Listing>('list-auto-scaling-configurations');
    assert.deepEqual(
      latest.AutoScalingConfigurationSummaryList.map((s) => `${s.AutoScalingConfigurationName}/${s.AutoScalingConfigurationRevision}`).sort(),
      ['DefaultConfiguration/1', 'tour-scaling/2'],
    );
    assert.equal(latest.NextToken, undefined);
    const all = await ok<Listing>('list-auto-scaling-configurations', ['--auto-scaling-configuration-name', 'tour-scaling', '--no-latest-only']);
    assert.deepEqual(all.AutoScalingConfigurationSummaryList.map((s) => s.AutoScalingConfigurationArn).sort(), [made.ascV1, made.ascV2].sort());

    // Pages of one: the CLI does not paginate App Runner by itself (§1.7), the user passes the token.
    const page1 = await ok<Listing>('list-auto-scaling-configurations', ['--no-latest-only', '--max-results', '1']);
    assert.equal(page1.AutoScalingConfigurationSummaryList.length, 1);
    assert.equal(typeof page1.NextToken, 'string');
    const seen = [...page1.AutoScalingConfigurationSummaryList];
    let token = page1.NextToken;
    while (token !== undefined) {
      const page = await ok<Listing>('list-auto-scaling-configurations', ['--no-latest-only', '--max-results', '1', '--next-token', token]);
      assert.ok(page.AutoScalingConfigurationSummaryList.length <= 1);
      seen.push(...page.AutoScalingConfigurationSummaryList);
      token = page.NextToken;
      assert.ok(seen.length <= 3, 'pagination should end after the three revisions');
    }
    assert.deepEqual(seen.map((s) => s.AutoScalingConfigurationArn).sort(), [...all.AutoScalingConfigurationSummaryList.map((s) => s.AutoScalingConfigurationArn), latest.AutoScalingConfigurationSummaryList.find((s) => s.AutoScalingConfigurationName === 'DefaultConfiguration')?.AutoScalingConfigurationArn].sort());

    // MinSize above MaxSize is refused by the server (§3.8); the CLI only checks minimums.
    await refused('create-auto-scaling-configuration', ['--auto-scaling-configuration-name', 'tour-bad', '--min-size', '5', '--max-size', '2'], 'InvalidRequestException', 'CreateAutoScalingConfiguration');
  });

  it('observability configurations: create, describe, list; DefaultConfiguration is reserved', async () => {
    const created = (await ok<{ ObservabilityConfiguration: Observability }>('create-observability-configuration', [
      '--observability-configuration-name', 'tour-tracing', '--trace-configuration', 'Vendor=AWSXRAY',
    ])).ObservabilityConfiguration;
    assert.match(created.ObservabilityConfigurationArn, arnOf(`observabilityconfiguration/tour-tracing/1/${HEX32}`));
    assert.equal(created.ObservabilityConfigurationName, 'tour-tracing');
    assert.equal(created.ObservabilityConfigurationRevision, 1);
    assert.deepEqual(created.TraceConfiguration, { Vendor: 'AWSXRAY' });
    assert.equal(created.Latest, true);
    assert.equal(created.Status, 'ACTIVE');
    recent(created.CreatedAt, 'CreatedAt');
    made.observability = created.ObservabilityConfigurationArn;

    const described = (await ok<{ ObservabilityConfiguration: Observability }>('describe-observability-configuration', [
      '--observability-configuration-arn', made.observability,
    ])).ObservabilityConfiguration;
    assert.deepEqual(described, created);

    const listed = await ok<{ ObservabilityConfigurationSummaryList: Record<string, unknown>[]; NextToken?: string }>('list-observability-configurations', [
      '--observability-configuration-name', 'tour-tracing',
    ]);
    assert.deepEqual(listed.ObservabilityConfigurationSummaryList, [
      { ObservabilityConfigurationArn: made.observability, ObservabilityConfigurationName: 'tour-tracing', ObservabilityConfigurationRevision: 1 },
    ]);

    await refused('create-observability-configuration', ['--observability-configuration-name', 'DefaultConfiguration'], 'InvalidRequestException', 'CreateObservabilityConfiguration');
  });

  it('connections: a GitHub connection starts pending its handshake', async () => {
    const created = (await ok<{ Connection: Connection }>('create-connection', [
      '--connection-name', 'tour-github', '--provider-type', 'GITHUB', '--tags', 'Key=team,Value=tour',
    ])).Connection;
    assert.match(created.ConnectionArn, arnOf(`connection/tour-github/${HEX32}`));
    assert.equal(created.ConnectionName, 'tour-github');
    assert.equal(created.ProviderType, 'GITHUB');
    assert.equal(created.Status, 'PENDING_HANDSHAKE');
    recent(created.CreatedAt, 'CreatedAt');
    made.connection = created.ConnectionArn;

    const listed = await ok<{ ConnectionSummaryList: Connection[] }>('list-connections', ['--connection-name', 'tour-github']);
    assert.deepEqual(listed.ConnectionSummaryList, [created]);
    // Names are unique per account and region (§2.3).
    await refused('create-connection', ['--connection-name', 'tour-github', '--provider-type', 'GITHUB'], 'InvalidRequestException', 'CreateConnection');
  });

  it('VPC connectors: create, describe, list', async () => {
    const created = (await ok<{ VpcConnector: VpcConnector }>('create-vpc-connector', [
      '--vpc-connector-name', 'tour-egress', '--subnets', 'subnet-0a1b2c3d', 'subnet-0e4f5a6b', '--security-groups', 'sg-0c7d8e9f',
    ])).VpcConnector;
    assert.match(created.VpcConnectorArn, arnOf(`vpcconnector/tour-egress/1/${HEX32}`));
    assert.equal(created.VpcConnectorName, 'tour-egress');
    assert.equal(created.VpcConnectorRevision, 1);
    assert.deepEqual(created.Subnets, ['subnet-0a1b2c3d', 'subnet-0e4f5a6b']);
    assert.deepEqual(created.SecurityGroups, ['sg-0c7d8e9f']);
    assert.equal(created.Status, 'ACTIVE');
    recent(created.CreatedAt, 'CreatedAt');
    made.connector = created.VpcConnectorArn;

    const described = (await ok<{ VpcConnector: VpcConnector }>('describe-vpc-connector', ['--vpc-connector-arn', made.connector])).VpcConnector;
    assert.deepEqual(described, created);
    const listed = await ok<{ VpcConnectors: VpcConnector[] }>('list-vpc-connectors');
    assert.deepEqual(listed.VpcConnectors, [created]);
  });

  it('create-service from an image with the configurations above, and the refusals', async () => {
    const source = {
      ImageRepository: {
        ImageIdentifier: IMAGE,
        ImageRepositoryType: 'ECR_PUBLIC',
        ImageConfiguration: { Port: '8080', RuntimeEnvironmentVariables: { GREETING: 'hello from the tour' } },
      },
      AutoDeploymentsEnabled: false,
    };
    const healthCheck = { Protocol: 'TCP', Interval: 1, Timeout: 1, HealthyThreshold: 1, UnhealthyThreshold: 3 };

    // Refusals first, so the service they would have made is provably absent: an unsupported
    // size combination (2 vCPU takes 4 or 6 GB) and an invalid name. The CLI only checks minimums.
    const sizeLine = await refused('create-service', [
      '--service-name', 'tour-web', '--source-configuration', JSON.stringify(source),
      '--instance-configuration', JSON.stringify({ Cpu: '2 vCPU', Memory: '2 GB' }),
    ], 'InvalidRequestException', 'CreateService');
    assert.match(sizeLine, /2 vCPU/);
    const nameLine = await refused('create-service', ['--service-name', 'tour web!', '--source-configuration', JSON.stringify(source)], 'InvalidRequestException', 'CreateService');
    assert.match(nameLine, /'tour web!'/);

    const result = await ok<{ Service: Service; OperationId: string }>('create-service', [
      '--service-name', 'tour-web',
      '--source-configuration', JSON.stringify(source),
      '--instance-configuration', 'Cpu=1 vCPU,Memory=2 GB',
      '--health-check-configuration', JSON.stringify(healthCheck),
      '--auto-scaling-configuration-arn', made.ascV2,
      '--observability-configuration', JSON.stringify({ ObservabilityEnabled: true, ObservabilityConfigurationArn: made.observability }),
      '--tags', 'Key=env,Value=tour', 'Key=owner,Value=berth',
    ]);
    const service = result.Service;
    assert.match(result.OperationId, /^([0-9a-f]{32}|[0-9a-f-]{36})$/);
    made.operations.push({ id: result.OperationId, type: 'CREATE_SERVICE' });
    assert.equal(service.ServiceName, 'tour-web');
    assert.match(service.ServiceId, new RegExp(`^${HEX32}$`));
    assert.equal(service.ServiceArn, `${PREFIX}service/tour-web/${service.ServiceId}`);
    assert.equal(typeof service.ServiceUrl, 'string');
    assert.doesNotMatch(service.ServiceUrl, /^https?:|\//, 'ServiceUrl is a host, without scheme or path');
    assert.equal(service.Status, 'OPERATION_IN_PROGRESS');
    recent(service.CreatedAt, 'CreatedAt');
    recent(service.UpdatedAt, 'UpdatedAt');
    assert.deepEqual(service.SourceConfiguration, source);
    // Sizes come back in their numeric form, whatever form was sent (§3.6).
    assert.deepEqual(service.InstanceConfiguration, { Cpu: '1024', Memory: '2048' });
    assert.deepEqual(service.HealthCheckConfiguration, { ...healthCheck, Path: '/' });
    assert.deepEqual(service.AutoScalingConfigurationSummary, {
      AutoScalingConfigurationArn: made.ascV2, AutoScalingConfigurationName: 'tour-scaling', AutoScalingConfigurationRevision: 2,
    });
    assert.deepEqual(service.NetworkConfiguration, { EgressConfiguration: { EgressType: 'DEFAULT' }, IngressConfiguration: { IsPubliclyAccessible: true } });
    assert.deepEqual(service.ObservabilityConfiguration, { ObservabilityEnabled: true, ObservabilityConfigurationArn: made.observability });
    made.service = service.ServiceArn;
    made.serviceId = service.ServiceId;
    made.serviceUrl = service.ServiceUrl;

    // The name is taken now (§2.1).
    await refused('create-service', ['--service-name', 'tour-web', '--source-configuration', JSON.stringify(source)], 'InvalidRequestException', 'CreateService');
  });

  it('describe-service and list-services once the service runs', async () => {
    const service = await settledTo('RUNNING');
    assert.equal(service.ServiceArn, made.service);
    assert.equal(service.ServiceUrl, made.serviceUrl);
    assert.equal(service.AutoScalingConfigurationSummary.AutoScalingConfigurationArn, made.ascV2);

    const listed = await ok<{ ServiceSummaryList: ServiceSummary[]; NextToken?: string }>('list-services');
    assert.equal(listed.NextToken, undefined);
    assert.equal(listed.ServiceSummaryList.length, 1);
    const summary = listed.ServiceSummaryList[0];
    assert.deepEqual(
      { ...summary, CreatedAt: undefined, UpdatedAt: undefined },
      { ServiceName: 'tour-web', ServiceId: made.serviceId, ServiceArn: made.service, ServiceUrl: made.serviceUrl, Status: 'RUNNING', CreatedAt: undefined, UpdatedAt: undefined },
    );
    recent(summary?.CreatedAt, 'CreatedAt');

    // A service on the revision may not be deleted from under it (§2.2).
    await refused('delete-auto-scaling-configuration', ['--auto-scaling-configuration-arn', made.ascV2], /InvalidRequestException|InvalidStateException/, 'DeleteAutoScalingConfiguration');
  });

  it('update-service: a new size and VPC egress through the connector', async () => {
    const result = await ok<{ Service: Service; OperationId: string }>('update-service', [
      '--service-arn', made.service,
      '--instance-configuration', JSON.stringify({ Cpu: '2 vCPU', Memory: '4 GB' }),
      '--network-configuration', JSON.stringify({ EgressConfiguration: { EgressType: 'VPC', VpcConnectorArn: made.connector } }),
    ]);
    made.operations.push({ id: result.OperationId, type: 'UPDATE_SERVICE' });
    // The returned service already shows the new configuration (§2.1); members not sent are kept.
    assert.equal(result.Service.Status, 'OPERATION_IN_PROGRESS');
    assert.deepEqual(result.Service.InstanceConfiguration, { Cpu: '2048', Memory: '4096' });
    assert.deepEqual(result.Service.NetworkConfiguration, {
      EgressConfiguration: { EgressType: 'VPC', VpcConnectorArn: made.connector }, IngressConfiguration: { IsPubliclyAccessible: true },
    });
    assert.equal(result.Service.AutoScalingConfigurationSummary.AutoScalingConfigurationArn, made.ascV2);
    assert.deepEqual(result.Service.ObservabilityConfiguration, { ObservabilityEnabled: true, ObservabilityConfigurationArn: made.observability });

    const service = await settledTo('RUNNING');
    assert.deepEqual(service.InstanceConfiguration, { Cpu: '2048', Memory: '4096' });
    assert.deepEqual((service.NetworkConfiguration.EgressConfiguration as Record<string, unknown>).VpcConnectorArn, made.connector);
    // A connector in use may not be deleted (§2.6).
    await refused('delete-vpc-connector', ['--vpc-connector-arn', made.connector], /InvalidRequestException|InvalidStateException/, 'DeleteVpcConnector');
  });

  it('pause-service, a deployment refused while paused, resume-service, start-deployment', async () => {
    const paused = await ok<{ Service: Service; OperationId?: string }>('pause-service', ['--service-arn', made.service]);
    assert.equal(paused.Service.Status, 'OPERATION_IN_PROGRESS');
    assert.equal(typeof paused.OperationId, 'string');
    made.operations.push({ id: paused.OperationId ?? '', type: 'PAUSE_SERVICE' });
    await settledTo('PAUSED');

    await refused('start-deployment', ['--service-arn', made.service], 'InvalidStateException', 'StartDeployment');
    await refused('pause-service', ['--service-arn', made.service], 'InvalidStateException', 'PauseService');

    const resumed = await ok<{ Service: Service; OperationId?: string }>('resume-service', ['--service-arn', made.service]);
    assert.equal(resumed.Service.Status, 'OPERATION_IN_PROGRESS');
    assert.equal(typeof resumed.OperationId, 'string');
    made.operations.push({ id: resumed.OperationId ?? '', type: 'RESUME_SERVICE' });
    const running = await settledTo('RUNNING');
    assert.deepEqual(running.InstanceConfiguration, { Cpu: '2048', Memory: '4096' }, 'resume deploys the last deployed configuration');

    const deployed = await ok<{ OperationId: string }>('start-deployment', ['--service-arn', made.service]);
    assert.deepEqual(Object.keys(deployed), ['OperationId']);
    made.operations.push({ id: deployed.OperationId, type: 'START_DEPLOYMENT' });
    await settledTo('RUNNING');
  });

  it('list-operations: newest first, every one succeeded; pages; MaxResults 50 is refused by the server', async () => {
    const listed = await ok<{ OperationSummaryList: OperationSummary[]; NextToken?: string }>('list-operations', ['--service-arn', made.service]);
    assert.equal(listed.NextToken, undefined);
    const expected = [...made.operations].reverse();
    assert.deepEqual(listed.OperationSummaryList.map((o) => ({ id: o.Id, type: o.Type })), expected);
    for (const operation of listed.OperationSummaryList) {
      assert.equal(operation.Status, 'SUCCEEDED', `${operation.Type} ${operation.Id}`);
      assert.equal(operation.TargetArn, made.service);
      recent(operation.StartedAt, `${operation.Type} StartedAt`);
      recent(operation.EndedAt, `${operation.Type} EndedAt`);
      recent(operation.UpdatedAt, `${operation.Type} UpdatedAt`);
      assert.ok(Date.parse(operation.EndedAt ?? '') >= Date.parse(operation.StartedAt));
    }

    const first = await ok<{ OperationSummaryList: OperationSummary[]; NextToken?: string }>('list-operations', ['--service-arn', made.service, '--max-results', '2']);
    assert.deepEqual(first.OperationSummaryList.map((o) => o.Id), expected.slice(0, 2).map((o) => o.id));
    assert.equal(typeof first.NextToken, 'string');
    const second = await ok<{ OperationSummaryList: OperationSummary[]; NextToken?: string }>('list-operations', [
      '--service-arn', made.service, '--max-results', '2', '--next-token', first.NextToken ?? '',
    ]);
    assert.deepEqual(second.OperationSummaryList.map((o) => o.Id), expected.slice(2, 4).map((o) => o.id));

    // The CLI checks minimums only (§1.2), so 50 (model maximum 20) reaches the server.
    const line = await refused('list-operations', ['--service-arn', made.service, '--max-results', '50'], 'InvalidRequestException', 'ListOperations');
    assert.match(line, /50/);
    assert.match(line, /maxResults/);
  });

  it('custom domains: associate two, describe them page by page, disassociate one', async () => {
    type Associated = CustomDomainsOutput & { CustomDomain: CustomDomain };
    const apex = await ok<Associated>('associate-custom-domain', ['--service-arn', made.service, '--domain-name', 'tour.example.com']);
    assert.equal(apex.ServiceArn, made.service);
    assert.equal(apex.DNSTarget, made.serviceUrl, 'DNSTarget is the service URL host (§2.5)');
    assert.deepEqual(apex.VpcDNSTargets, []);
    assert.equal(apex.CustomDomain.DomainName, 'tour.example.com');
    assert.equal(apex.CustomDomain.EnableWWWSubdomain, true, 'EnableWWWSubdomain defaults to true (§2.5)');
    assert.ok(DOMAIN_STATUSES.includes(apex.CustomDomain.Status), apex.CustomDomain.Status);
    for (const record of apex.CustomDomain.CertificateValidationRecords ?? []) {
      assert.equal(record.Type, 'CNAME');
      assert.ok(['PENDING_VALIDATION', 'SUCCESS', 'FAILED'].includes(record.Status), record.Status);
    }

    const wildcard = await ok<Associated>('associate-custom-domain', [
      '--service-arn', made.service, '--domain-name', '*.apps.example.com', '--no-enable-www-subdomain',
    ]);
    assert.equal(wildcard.CustomDomain.DomainName, '*.apps.example.com');
    assert.equal(wildcard.CustomDomain.EnableWWWSubdomain, false);

    type Described = CustomDomainsOutput & { CustomDomains: CustomDomain[] };
    const described = await ok<Described>('describe-custom-domains', ['--service-arn', made.service]);
    assert.equal(described.DNSTarget, made.serviceUrl);
    assert.equal(described.ServiceArn, made.service);
    assert.deepEqual(described.VpcDNSTargets, []);
    assert.deepEqual(described.CustomDomains.map((d) => [d.DomainName, d.EnableWWWSubdomain]).sort(), [['*.apps.example.com', false], ['tour.example.com', true]]);

    const page1 = await ok<Described>('describe-custom-domains', ['--service-arn', made.service, '--max-results', '1']);
    assert.equal(page1.CustomDomains.length, 1);
    assert.equal(typeof page1.NextToken, 'string');
    const page2 = await ok<Described>('describe-custom-domains', ['--service-arn', made.service, '--max-results', '1', '--next-token', page1.NextToken ?? '']);
    assert.equal(page2.CustomDomains.length, 1);
    assert.equal(page2.NextToken, undefined);
    assert.deepEqual([page1.CustomDomains[0]?.DomainName, page2.CustomDomains[0]?.DomainName].sort(), ['*.apps.example.com', 'tour.example.com']);
    // DescribeCustomDomains takes at most 5 per page (§1.7).
    await refused('describe-custom-domains', ['--service-arn', made.service, '--max-results', '6'], 'InvalidRequestException', 'DescribeCustomDomains');

    const gone = await ok<Associated>('disassociate-custom-domain', ['--service-arn', made.service, '--domain-name', '*.apps.example.com']);
    assert.equal(gone.ServiceArn, made.service);
    assert.equal(gone.DNSTarget, made.serviceUrl);
    assert.equal(gone.CustomDomain.DomainName, '*.apps.example.com');
    assert.ok(['DELETING', 'DELETE_FAILED'].includes(gone.CustomDomain.Status), `a disassociated domain is DELETING, got ${gone.CustomDomain.Status}`);
    await refused('disassociate-custom-domain', ['--service-arn', made.service, '--domain-name', 'never.example.com'], /ResourceNotFoundException|InvalidRequestException/, 'DisassociateCustomDomain');
  });

  it('a VPC ingress connection: create, describe, list by service, update; it blocks the service delete', async () => {
    const describeIngress = async (): Promise<VpcIngressConnection> =>
      (await ok<{ VpcIngressConnection: VpcIngressConnection }>('describe-vpc-ingress-connection', ['--vpc-ingress-connection-arn', made.ingress])).VpcIngressConnection;
    const available = async (): Promise<VpcIngressConnection> => {
      let last: VpcIngressConnection | undefined;
      await waitFor(async () => (last = await describeIngress()).Status === 'AVAILABLE', 20_000, () => `the VPC ingress connection stayed ${last?.Status}`);
      return last as VpcIngressConnection;
    };

    const created = (await ok<{ VpcIngressConnection: VpcIngressConnection }>('create-vpc-ingress-connection', [
      '--service-arn', made.service, '--vpc-ingress-connection-name', 'tour-private',
      '--ingress-vpc-configuration', 'VpcId=vpc-0a1b2c3d,VpcEndpointId=vpce-0e4f5a6b',
    ])).VpcIngressConnection;
    assert.match(created.VpcIngressConnectionArn, arnOf(`vpcingressconnection/tour-private/${HEX32}`));
    assert.equal(created.VpcIngressConnectionName, 'tour-private');
    assert.equal(created.ServiceArn, made.service);
    assert.ok(['PENDING_CREATION', 'AVAILABLE'].includes(created.Status), created.Status);
    assert.equal(created.AccountId, ACCOUNT);
    assert.deepEqual(created.IngressVpcConfiguration, { VpcId: 'vpc-0a1b2c3d', VpcEndpointId: 'vpce-0e4f5a6b' });
    recent(created.CreatedAt, 'CreatedAt');
    made.ingress = created.VpcIngressConnectionArn;

    const ready = await available();
    assert.equal(typeof ready.DomainName, 'string');
    assert.ok(ready.DomainName.length > 0, 'DomainName is the service\'s private DNS name');

    const listed = await ok<{ VpcIngressConnectionSummaryList: Record<string, unknown>[] }>('list-vpc-ingress-connections', ['--filter', `ServiceArn=${made.service}`]);
    assert.deepEqual(listed.VpcIngressConnectionSummaryList, [{ VpcIngressConnectionArn: made.ingress, ServiceArn: made.service }]);
    const none = await ok<{ VpcIngressConnectionSummaryList: Record<string, unknown>[] }>('list-vpc-ingress-connections', ['--filter', 'VpcEndpointId=vpce-00000000']);
    assert.deepEqual(none.VpcIngressConnectionSummaryList, []);

    const updated = (await ok<{ VpcIngressConnection: VpcIngressConnection }>('update-vpc-ingress-connection', [
      '--vpc-ingress-connection-arn', made.ingress, '--ingress-vpc-configuration', 'VpcId=vpc-0a1b2c3d,VpcEndpointId=vpce-0c7d8e9f',
    ])).VpcIngressConnection;
    assert.ok(['PENDING_UPDATE', 'AVAILABLE'].includes(updated.Status), updated.Status);
    assert.deepEqual(updated.IngressVpcConfiguration, { VpcId: 'vpc-0a1b2c3d', VpcEndpointId: 'vpce-0c7d8e9f' });
    assert.deepEqual((await available()).IngressVpcConfiguration, { VpcId: 'vpc-0a1b2c3d', VpcEndpointId: 'vpce-0c7d8e9f' });

    // A service with an active VPC ingress connection cannot be deleted (§2.1).
    await refused('delete-service', ['--service-arn', made.service], 'InvalidStateException', 'DeleteService');
  });

  it('tags: tag, list, untag on the service; tags given at creation are there', async () => {
    type Tags = { Tags: Tag[] };
    const byKey = (tags: Tag[]): Tag[] => [...tags].sort((a, b) => a.Key.localeCompare(b.Key));
    assert.deepEqual(byKey((await ok<Tags>('list-tags-for-resource', ['--resource-arn', made.service])).Tags), [
      { Key: 'env', Value: 'tour' }, { Key: 'owner', Value: 'berth' },
    ]);
    // Upsert by key (§2.8): env changes, cost-center is added.
    const tagged = await ok('tag-resource', ['--resource-arn', made.service, '--tags', 'Key=env,Value=production', 'Key=cost-center,Value=42']);
    assert.deepEqual(tagged, {});
    assert.deepEqual(byKey((await ok<Tags>('list-tags-for-resource', ['--resource-arn', made.service])).Tags), [
      { Key: 'cost-center', Value: '42' }, { Key: 'env', Value: 'production' }, { Key: 'owner', Value: 'berth' },
    ]);
    const untagged = await ok('untag-resource', ['--resource-arn', made.service, '--tag-keys', 'owner', 'cost-center']);
    assert.deepEqual(untagged, {});
    assert.deepEqual((await ok<Tags>('list-tags-for-resource', ['--resource-arn', made.service])).Tags, [{ Key: 'env', Value: 'production' }]);

    // Tags given on create, on other resource types.
    assert.deepEqual((await ok<Tags>('list-tags-for-resource', ['--resource-arn', made.ascV1])).Tags, [{ Key: 'team', Value: 'tour' }]);
    assert.deepEqual((await ok<Tags>('list-tags-for-resource', ['--resource-arn', made.connection])).Tags, [{ Key: 'team', Value: 'tour' }]);
    await ok('tag-resource', ['--resource-arn', made.connector, '--tags', 'Key=network,Value=egress']);
    assert.deepEqual((await ok<Tags>('list-tags-for-resource', ['--resource-arn', made.connector])).Tags, [{ Key: 'network', Value: 'egress' }]);

    // The aws: prefix is reserved; the CLI does not check patterns, the server does.
    await refused('tag-resource', ['--resource-arn', made.service, '--tags', 'Key=aws:owner,Value=x'], 'InvalidRequestException', 'TagResource');
  });

  it('the deletes, in dependency order, leave nothing behind', async () => {
    const ingress = (await ok<{ VpcIngressConnection: VpcIngressConnection }>('delete-vpc-ingress-connection', ['--vpc-ingress-connection-arn', made.ingress])).VpcIngressConnection;
    assert.equal(ingress.VpcIngressConnectionArn, made.ingress);
    assert.ok(['PENDING_DELETION', 'DELETED'].includes(ingress.Status), ingress.Status);
    let ingressStatus = ingress.Status;
    await waitFor(async () => {
      const result = await cli.run('describe-vpc-ingress-connection', ['--vpc-ingress-connection-arn', made.ingress]);
      if (result.code === 254 && result.stderr.includes('ResourceNotFoundException')) return true;
      ingressStatus = (JSON.parse(result.stdout) as { VpcIngressConnection: VpcIngressConnection }).VpcIngressConnection.Status;
      return ingressStatus === 'DELETED';
    }, 20_000, () => `the VPC ingress connection stayed ${ingressStatus}`);

    await ok('disassociate-custom-domain', ['--service-arn', made.service, '--domain-name', 'tour.example.com']);

    const deleting = await ok<{ Service: Service; OperationId: string }>('delete-service', ['--service-arn', made.service]);
    assert.equal(deleting.Service.ServiceArn, made.service);
    assert.equal(deleting.Service.Status, 'OPERATION_IN_PROGRESS');
    assert.equal(typeof deleting.OperationId, 'string');
    await api.settle(20_000);
    const deleted = await cli.run('describe-service', ['--service-arn', made.service]);
    if (deleted.code === 0) {
      const service = (JSON.parse(deleted.stdout) as { Service: Service }).Service;
      assert.equal(service.Status, 'DELETED');
      recent(service.DeletedAt, 'DeletedAt');
    } else {
      assert.match(deleted.stderr, /ResourceNotFoundException/);
    }
    assert.deepEqual((await ok<{ ServiceSummaryList: unknown[] }>('list-services')).ServiceSummaryList, []);

    const connector = (await ok<{ VpcConnector: VpcConnector }>('delete-vpc-connector', ['--vpc-connector-arn', made.connector])).VpcConnector;
    assert.equal(connector.VpcConnectorArn, made.connector);
    assert.equal(connector.Status, 'INACTIVE');
    recent(connector.DeletedAt, 'DeletedAt');
    assert.deepEqual((await ok<{ VpcConnectors: unknown[] }>('list-vpc-connectors')).VpcConnectors, []);

    for (const arn of [made.ascV2, made.ascV1]) {
      const asc = (await ok<{ AutoScalingConfiguration: AutoScaling }>('delete-auto-scaling-configuration', ['--auto-scaling-configuration-arn', arn])).AutoScalingConfiguration;
      assert.equal(asc.AutoScalingConfigurationArn, arn);
      assert.equal(asc.Status, 'INACTIVE');
      assert.equal(asc.Latest, false);
      recent(asc.DeletedAt, 'DeletedAt');
    }
    const scaling = await ok<{ AutoScalingConfigurationSummaryList: { AutoScalingConfigurationName: string }[] }>('list-auto-scaling-configurations');
    assert.deepEqual(scaling.AutoScalingConfigurationSummaryList.map((s) => s.AutoScalingConfigurationName), ['DefaultConfiguration']);

    const observability = (await ok<{ ObservabilityConfiguration: Observability }>('delete-observability-configuration', ['--observability-configuration-arn', made.observability])).ObservabilityConfiguration;
    assert.equal(observability.ObservabilityConfigurationArn, made.observability);
    assert.equal(observability.Status, 'INACTIVE');
    recent(observability.DeletedAt, 'DeletedAt');
    const tracing = await ok<{ ObservabilityConfigurationSummaryList: { ObservabilityConfigurationName: string }[] }>('list-observability-configurations');
    assert.ok(!tracing.ObservabilityConfigurationSummaryList.some((s) => s.ObservabilityConfigurationName === 'tour-tracing'));

    const connection = (await ok<{ Connection: Connection }>('delete-connection', ['--connection-arn', made.connection])).Connection;
    assert.equal(connection.ConnectionArn, made.connection);
    assert.equal(connection.Status, 'DELETED');
    assert.deepEqual((await ok<{ ConnectionSummaryList: unknown[] }>('list-connections')).ConnectionSummaryList, []);

    // Gone means gone: a second delete names the missing resource.
    await refused('delete-connection', ['--connection-arn', made.connection], 'ResourceNotFoundException', 'DeleteConnection');
  });

  it('covered every command in the CLI\'s App Runner model', () => {
    const expected = cliModelOperations().map(cliCommandName);
    const missing = expected.filter((command) => !cli.commands.has(command));
    assert.deepEqual(missing, [], `the tour never ran: ${missing.join(', ')}`);
    const unknown = [...cli.commands].filter((command) => !expected.includes(command));
    assert.deepEqual(unknown, [], `the tour ran commands the model does not know: ${unknown.join(', ')}`);
  });
});

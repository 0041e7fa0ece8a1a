/**
 * Invalid requests to the nine VPC connector and VPC ingress connection operations
 * (app-runner-api.md §2.6, §2.7, §3.14, §3.15): every member constraint, the AWS id forms of
 * subnets, security groups, VPCs and endpoints, full-ARN-only lookups, resources that do not
 * exist, the ingress state rules, uniqueness, the ingress quota of 1, and what blocks deleting
 * a connector or a service.
 *
 * Setup makes one service, RUNNING and egressing through the connector `vpc-cases-conn`; a
 * second ACTIVE connector (so ListVpcConnectors pages) and an INACTIVE one; one ingress
 * connection DELETED and one AVAILABLE, which fills App Runner's quota of one.
 */
import type { ApiHarness } from '../../support/api-harness.ts';
import { waitFor } from '../../support/berth-process.ts';
import type { CaseFamily, Fixtures, InvalidCase } from './types.ts';

const ID = '0123456789abcdef0123456789abcdef';
const SUBNET = 'subnet-0a1b2c3d4e5f67890';
const SG = 'sg-0a1b2c3d4e5f67890';
const VPC = 'vpc-0a1b2c3d4e5f67890';
const VPCE = 'vpce-0a1b2c3d4e5f67890';
const NAMES = {
  service: 'vpc-cases-svc',
  connector: 'vpc-cases-conn',
  spare: 'vpc-cases-spare',
  inactive: 'vpc-cases-inactive',
  ingress: 'vpc-cases-ingress',
  deletedIngress: 'vpc-cases-ingress-gone',
};

type Body = Record<string, unknown>;

/** `arn:aws:apprunner:<region>:<account>:` of the resources the setup made. */
const prefix = (f: Fixtures): string => (f.vpcServiceArn ?? '').replace(/service\/.*$/, '');
const connectorArn = (f: Fixtures, rest: string): string => `${prefix(f)}vpcconnector/${rest}`;
const ingressArn = (f: Fixtures, rest: string): string => `${prefix(f)}vpcingressconnection/${rest}`;
const ingressVpc = (over: Body = {}): Body => ({ VpcId: VPC, VpcEndpointId: VPCE, ...over });
const createConnector = (over: Body): Body => ({ VpcConnectorName: 'vpc-cases-new', Subnets: [SUBNET], ...over });
const createIngress = (f: Fixtures, over: Body): Body => ({
  ServiceArn: f.vpcServiceArn,
  VpcIngressConnectionName: 'vpc-cases-new',
  IngressVpcConfiguration: ingressVpc(),
  ...over,
});
const updateIngress = (f: Fixtures, config: unknown): Body => ({ VpcIngressConnectionArn: f.vpcIngressArn, IngressVpcConfiguration: config });
const tags = (n: number): Body[] => Array.from({ length: n }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));

const IR = 'InvalidRequestException';
const RNF = 'ResourceNotFoundException';
const IS = 'InvalidStateException';

const createVpcConnector: InvalidCase[] = (
  [
    ['no VpcConnectorName', () => ({ Subnets: [SUBNET] }), /Value null at 'vpcConnectorName' failed to satisfy constraint: Member must not be null/],
    ['no Subnets', () => ({ VpcConnectorName: 'vpc-cases-new' }), /Value null at 'subnets' failed to satisfy constraint: Member must not be null/],
    ['a name of 3 characters', () => createConnector({ VpcConnectorName: 'abc' }), /'abc' at 'vpcConnectorName' failed to satisfy constraint: Member must have length greater than or equal to 4/],
    ['a name of 41 characters', () => createConnector({ VpcConnectorName: 'a'.repeat(41) }), /at 'vpcConnectorName' failed to satisfy constraint: Member must have length less than or equal to 40/],
    ['a name starting with a dash', () => createConnector({ VpcConnectorName: '-conn' }), /'-conn' at 'vpcConnectorName' failed to satisfy constraint: Member must satisfy regular expression pattern/],
    ['a name with a dot', () => createConnector({ VpcConnectorName: 'conn.a' }), /'conn.a' at 'vpcConnectorName'.*regular expression pattern/],
    ['a name that is a number', () => createConnector({ VpcConnectorName: 12345 }), /Value 12345 at 'vpcConnectorName' must be a string/],
    ['an empty Subnets list', () => createConnector({ Subnets: [] }), /at 'subnets' failed to satisfy constraint: Member must have length greater than or equal to 1/],
    ['Subnets as a string', () => createConnector({ Subnets: SUBNET }), /at 'subnets' must be a list/],
    ['a subnet without the subnet- prefix', () => createConnector({ Subnets: ['sub-0a1b2c3d'] }), /'sub-0a1b2c3d' at 'subnets.1.member' failed to satisfy constraint: Member must be a subnet ID: 'subnet-' followed by 8 or 17 lowercase hexadecimal digits/],
    ['a subnet in upper case', () => createConnector({ Subnets: ['subnet-0A1B2C3D'] }), /'subnet-0A1B2C3D' at 'subnets.1.member'.*subnet ID/],
    ['a subnet of 9 hex digits', () => createConnector({ Subnets: ['subnet-0a1b2c3d4'] }), /'subnet-0a1b2c3d4' at 'subnets.1.member'.*8 or 17/],
    ['a second subnet that is a VPC id', () => createConnector({ Subnets: [SUBNET, VPC] }), /'vpc-0a1b2c3d4e5f67890' at 'subnets.2.member'.*subnet ID/],
    ['a subnet listed twice', () => createConnector({ Subnets: [SUBNET, 'subnet-12345678', SUBNET] }), /'subnet-0a1b2c3d4e5f67890' at 'subnets.3.member' repeats 'subnets.1.member'/],
    ['a subnet that is a number', () => createConnector({ Subnets: [42] }), /Value 42 at 'subnets.1.member' must be a string/],
    ['a subnet that is null', () => createConnector({ Subnets: [SUBNET, null] }), /Value null at 'subnets.2.member' must be a string/],
    ['Subnets null', () => createConnector({ Subnets: null }), /Value null at 'subnets' failed to satisfy constraint: Member must not be null/],
    ['a malformed security group', () => createConnector({ SecurityGroups: ['sg-xyz'] }), /'sg-xyz' at 'securityGroups.1.member' failed to satisfy constraint: Member must be a security group ID: 'sg-'/],
    ['a subnet given as a security group', () => createConnector({ SecurityGroups: [SG, SUBNET] }), /'subnet-0a1b2c3d4e5f67890' at 'securityGroups.2.member'.*security group ID/],
    ['a security group listed twice', () => createConnector({ SecurityGroups: [SG, SG] }), /at 'securityGroups.2.member' repeats 'securityGroups.1.member'/],
    ['SecurityGroups as an object', () => createConnector({ SecurityGroups: { id: SG } }), /at 'securityGroups' must be a list/],
    ['bad subnets and security groups, all reported', () => createConnector({ Subnets: ['s1'], SecurityGroups: ['g1'] }), /^2 validation errors detected: .*'subnets.1.member'.*'securityGroups.1.member'/],
    ['an unknown member', () => createConnector({ VpcId: VPC }), /Unknown member 'vpcId'/],
    ['a tag key starting with aws:', () => createConnector({ Tags: [{ Key: 'aws:team', Value: 'x' }] }), /'aws:team' at 'tags.1.member.key'.*regular expression pattern/],
    ['a tag without a key', () => createConnector({ Tags: [{ Value: 'x' }] }), /Value null at 'tags.1.member.key' failed to satisfy constraint: Member must not be null/],
    ['51 tags', () => createConnector({ Tags: tags(51) }), /at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50/],
    ['the name of an ACTIVE connector', () => createConnector({ VpcConnectorName: NAMES.connector }), /A VPC connector named 'vpc-cases-conn' already exists/],
  ] as const
).map(([name, body, message]) => ({ name, operation: 'CreateVpcConnector', body, error: IR, message }));

/** ARN rules DescribeVpcConnector and DeleteVpcConnector share. */
const connectorArnCases = (operation: string): InvalidCase[] =>
  (
    [
      ['no VpcConnectorArn', () => ({}), IR, /Value null at 'vpcConnectorArn' failed to satisfy constraint: Member must not be null/],
      ['an empty ARN', () => ({ VpcConnectorArn: '' }), IR, /at 'vpcConnectorArn' failed to satisfy constraint: Member must have length greater than or equal to 1/],
      ['a name instead of an ARN', () => ({ VpcConnectorArn: NAMES.connector }), IR, /'vpc-cases-conn' at 'vpcConnectorArn'.*regular expression pattern/],
      ['a partial ARN with the name only', (f: Fixtures) => ({ VpcConnectorArn: connectorArn(f, NAMES.connector) }), IR, /at 'vpcConnectorArn' is a partial ARN; VPC connectors take a full VPC connector ARN/],
      ['a partial ARN with name and revision', (f: Fixtures) => ({ VpcConnectorArn: connectorArn(f, `${NAMES.connector}/1`) }), IR, /\/vpc-cases-conn\/1' at 'vpcConnectorArn' is a partial ARN/],
      ['a service ARN', (f: Fixtures) => ({ VpcConnectorArn: f.vpcServiceArn }), IR, /:service\/vpc-cases-svc\/[0-9a-f]{32}' at 'vpcConnectorArn' is not a full VPC connector ARN/],
      ['a revision that is not a number', (f: Fixtures) => ({ VpcConnectorArn: connectorArn(f, `${NAMES.connector}/latest/${ID}`) }), IR, /at 'vpcConnectorArn' is not a full VPC connector ARN/],
      ['an ARN with a trailing slash', (f: Fixtures) => ({ VpcConnectorArn: `${f.vpcConnectorArn}/` }), IR, /at 'vpcConnectorArn' is not a full VPC connector ARN/],
      ['a connector that does not exist', (f: Fixtures) => ({ VpcConnectorArn: connectorArn(f, `${NAMES.connector}/1/${ID}`) }), RNF, /No VPC connector with ARN '.*vpcconnector\/vpc-cases-conn\/1\/0123456789abcdef.*' exists in account [0-9]{12}, region us-east-1/],
      ['a connector in another region', (f: Fixtures) => ({ VpcConnectorArn: (f.vpcConnectorArn ?? '').replace(/^(arn:aws:apprunner:)[^:]+/, '$1eu-west-3') }), RNF, /region us-east-1/],
    ] as const
  ).map(([name, body, error, message]) => ({ name, operation, body, error, message }));

const deleteVpcConnector: InvalidCase[] = [
  ...connectorArnCases('DeleteVpcConnector'),
  { name: 'a connector already deleted', operation: 'DeleteVpcConnector', body: (f) => ({ VpcConnectorArn: f.vpcInactiveConnectorArn }), error: RNF, message: /VPC connector '.*vpc-cases-inactive.*' has been deleted/ },
  {
    name: 'a connector a service egresses through',
    operation: 'DeleteVpcConnector',
    body: (f) => ({ VpcConnectorArn: f.vpcConnectorArn }),
    error: IR,
    message: /VPC connector 'vpc-cases-conn' is used by the service 'vpc-cases-svc'; update them to another egress/,
  },
  { name: 'an unknown member', operation: 'DeleteVpcConnector', body: (f) => ({ VpcConnectorArn: f.vpcConnectorArn, Force: true }), error: IR, message: /Unknown member 'force'/ },
];

/** MaxResults and NextToken rules of the two listings. */
const listingCases = (operation: string, otherToken: (f: Fixtures) => string | undefined): InvalidCase[] =>
  (
    [
      ['MaxResults 0', () => ({ MaxResults: 0 }), /Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1/],
      ['MaxResults 101', () => ({ MaxResults: 101 }), /Value '101' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100/],
      ['MaxResults as a string', () => ({ MaxResults: '10' }), /Value "10" at 'maxResults' must be an integer/],
      ['an empty NextToken', () => ({ NextToken: '' }), /at 'nextToken' failed to satisfy constraint: Member must have length greater than or equal to 1/],
      ['a NextToken of 1025 characters', () => ({ NextToken: 'a'.repeat(1025) }), /at 'nextToken' failed to satisfy constraint: Member must have length less than or equal to 1024/],
      ['a NextToken that is no token', () => ({ NextToken: 'not-a-token' }), /The NextToken 'not-a-token' is invalid/],
      ['a NextToken of another listing', (f: Fixtures) => ({ MaxResults: 1, NextToken: otherToken(f) }), /does not belong to this listing/],
    ] as const
  ).map(([name, body, message]) => ({ name, operation, body, error: IR, message }));

const listVpcConnectors: InvalidCase[] = [
  ...listingCases('ListVpcConnectors', (f) => f.vpcOperationsToken),
  { name: 'a Filter (ListVpcConnectors has none)', operation: 'ListVpcConnectors', body: () => ({ Filter: { VpcEndpointId: VPCE } }), error: IR, message: /Unknown member 'filter'/ },
];

const createVpcIngressConnection: InvalidCase[] = (
  [
    ['no ServiceArn', (f: Fixtures) => createIngress(f, { ServiceArn: undefined }), IR, /Value null at 'serviceArn' failed to satisfy constraint: Member must not be null/],
    ['no VpcIngressConnectionName', (f: Fixtures) => createIngress(f, { VpcIngressConnectionName: undefined }), IR, /Value null at 'vpcIngressConnectionName'/],
    ['no IngressVpcConfiguration', (f: Fixtures) => createIngress(f, { IngressVpcConfiguration: undefined }), IR, /Value null at 'ingressVpcConfiguration' failed to satisfy constraint: Member must not be null/],
    ['an IngressVpcConfiguration without VpcId', (f: Fixtures) => createIngress(f, { IngressVpcConfiguration: { VpcEndpointId: VPCE } }), IR, /Value null at 'ingressVpcConfiguration.vpcId' failed to satisfy constraint: Member must not be null/],
    ['a VpcId sent as null', (f: Fixtures) => createIngress(f, { IngressVpcConfiguration: ingressVpc({ VpcId: null }) }), IR, /^1 validation error detected: Value null at 'ingressVpcConfiguration.vpcId' failed to satisfy constraint: Member must not be null$/],
    ['an empty IngressVpcConfiguration', (f: Fixtures) => createIngress(f, { IngressVpcConfiguration: {} }), IR, /^2 validation errors detected: .*'ingressVpcConfiguration.vpcId'.*'ingressVpcConfiguration.vpcEndpointId'/],
    ['a malformed VpcId', (f: Fixtures) => createIngress(f, { IngressVpcConfiguration: ingressVpc({ VpcId: 'vpc-XYZ' }) }), IR, /'vpc-XYZ' at 'ingressVpcConfiguration.vpcId' failed to satisfy constraint: Member must be a VPC ID: 'vpc-' followed by 8 or 17/],
    ['an endpoint id as the VpcId', (f: Fixtures) => createIngress(f, { IngressVpcConfiguration: ingressVpc({ VpcId: VPCE }) }), IR, /'vpce-0a1b2c3d4e5f67890' at 'ingressVpcConfiguration.vpcId'.*VPC ID/],
    ['a VpcEndpointId of 3 hex digits', (f: Fixtures) => createIngress(f, { IngressVpcConfiguration: ingressVpc({ VpcEndpointId: 'vpce-123' }) }), IR, /'vpce-123' at 'ingressVpcConfiguration.vpcEndpointId'.*VPC endpoint ID: 'vpce-'/],
    ['a VpcId that is a number', (f: Fixtures) => createIngress(f, { IngressVpcConfiguration: ingressVpc({ VpcId: 12345678 }) }), IR, /Value 12345678 at 'ingressVpcConfiguration.vpcId' must be a string/],
    ['an IngressVpcConfiguration that is a string', (f: Fixtures) => createIngress(f, { IngressVpcConfiguration: VPC }), IR, /at 'ingressVpcConfiguration' must be an object/],
    ['an unknown member of IngressVpcConfiguration', (f: Fixtures) => createIngress(f, { IngressVpcConfiguration: ingressVpc({ SubnetIds: [SUBNET] }) }), IR, /Unknown member 'ingressVpcConfiguration.subnetIds'/],
    ['a name with a space', (f: Fixtures) => createIngress(f, { VpcIngressConnectionName: 'my ingress' }), IR, /'my ingress' at 'vpcIngressConnectionName'.*regular expression pattern/],
    ['a name of 41 characters', (f: Fixtures) => createIngress(f, { VpcIngressConnectionName: 'i'.repeat(41) }), IR, /at 'vpcIngressConnectionName' failed to satisfy constraint: Member must have length less than or equal to 40/],
    ['a tag value of 257 characters', (f: Fixtures) => createIngress(f, { Tags: [{ Key: 'k', Value: 'v'.repeat(257) }] }), IR, /at 'tags.1.member.value' failed to satisfy constraint: Member must have length less than or equal to 256/],
    ['a VPC connector ARN as the ServiceArn', (f: Fixtures) => createIngress(f, { ServiceArn: f.vpcConnectorArn }), IR, /at 'serviceArn' is not a service ARN/],
    ['a service that does not exist', (f: Fixtures) => createIngress(f, { ServiceArn: `${prefix(f)}service/vpc-ghost/${ID}` }), RNF, /No service with ARN '.*service\/vpc-ghost\/0123456789abcdef0123456789abcdef' exists/],
    ['the name of a live connection', (f: Fixtures) => createIngress(f, { VpcIngressConnectionName: NAMES.ingress }), IR, /A VPC ingress connection named 'vpc-cases-ingress' already exists/],
    ['one more than the quota of 1', (f: Fixtures) => createIngress(f, {}), 'ServiceQuotaExceededException', /You have reached the quota of 1 VPC ingress connection; delete one/],
  ] as const
).map(([name, body, error, message]) => ({ name, operation: 'CreateVpcIngressConnection', body, error, message }));

/** ARN rules the three operations on one ingress connection share. */
const ingressArnCases = (operation: string, rest: Body): InvalidCase[] =>
  (
    [
      ['no VpcIngressConnectionArn', () => ({ ...rest }), IR, /Value null at 'vpcIngressConnectionArn' failed to satisfy constraint: Member must not be null/],
      ['a partial ARN with the name only', (f: Fixtures) => ({ VpcIngressConnectionArn: ingressArn(f, NAMES.ingress), ...rest }), IR, /at 'vpcIngressConnectionArn' is a partial ARN; VPC ingress connections take a full VPC ingress connection ARN/],
      ['a VPC connector ARN', (f: Fixtures) => ({ VpcIngressConnectionArn: f.vpcConnectorArn, ...rest }), IR, /vpcconnector\/vpc-cases-conn\/1\/[0-9a-f.]+' at 'vpcIngressConnectionArn' is not a full VPC ingress connection ARN/],
      ['an ARN with an extra part', (f: Fixtures) => ({ VpcIngressConnectionArn: `${f.vpcIngressArn}/1`, ...rest }), IR, /at 'vpcIngressConnectionArn' is not a full VPC ingress connection ARN/],
      ['a connection that does not exist', (f: Fixtures) => ({ VpcIngressConnectionArn: ingressArn(f, `${NAMES.ingress}/${ID}`), ...rest }), RNF, /No VPC ingress connection with ARN '.*vpc-cases-ingress\/0123456789abcdef.*' exists in account [0-9]{12}, region us-east-1/],
    ] as const
  ).map(([name, body, error, message]) => ({ name, operation, body, error, message }));

const describeVpcIngressConnection: InvalidCase[] = [
  ...ingressArnCases('DescribeVpcIngressConnection', {}),
  { name: 'an ARN that is a number', operation: 'DescribeVpcIngressConnection', body: () => ({ VpcIngressConnectionArn: 7 }), error: IR, message: /Value 7 at 'vpcIngressConnectionArn' must be a string/ },
];

const updateVpcIngressConnection: InvalidCase[] = [
  ...ingressArnCases('UpdateVpcIngressConnection', { IngressVpcConfiguration: ingressVpc() }),
  ...(
    [
      ['no IngressVpcConfiguration', (f: Fixtures) => ({ VpcIngressConnectionArn: f.vpcIngressArn }), IR, /Value null at 'ingressVpcConfiguration' failed to satisfy constraint: Member must not be null/],
      ['an IngressVpcConfiguration without VpcEndpointId', (f: Fixtures) => updateIngress(f, { VpcId: VPC }), IR, /Value null at 'ingressVpcConfiguration.vpcEndpointId' failed to satisfy constraint: Member must not be null/],
      ['a VpcEndpointId in upper case', (f: Fixtures) => updateIngress(f, ingressVpc({ VpcEndpointId: 'vpce-0A1B2C3D' })), IR, /'vpce-0A1B2C3D' at 'ingressVpcConfiguration.vpcEndpointId'.*VPC endpoint ID/],
      ['an unknown member', (f: Fixtures) => ({ ...updateIngress(f, ingressVpc()), ServiceArn: f.vpcServiceArn }), IR, /Unknown member 'serviceArn'/],
      ['a DELETED connection', (f: Fixtures) => ({ VpcIngressConnectionArn: f.vpcDeletedIngressArn, IngressVpcConfiguration: ingressVpc() }), IS, /Cannot UpdateVpcIngressConnection on VPC ingress connection 'vpc-cases-ingress-gone' while its status is DELETED: it is allowed only when the connection is AVAILABLE, FAILED_CREATION, FAILED_UPDATE/],
    ] as const
  ).map(([name, body, error, message]) => ({ name, operation: 'UpdateVpcIngressConnection', body, error, message })),
];

const deleteVpcIngressConnection: InvalidCase[] = [
  ...ingressArnCases('DeleteVpcIngressConnection', {}),
  {
    name: 'a DELETED connection',
    operation: 'DeleteVpcIngressConnection',
    body: (f) => ({ VpcIngressConnectionArn: f.vpcDeletedIngressArn }),
    error: IS,
    message: /Cannot DeleteVpcIngressConnection on VPC ingress connection 'vpc-cases-ingress-gone' while its status is DELETED: it is allowed only when the connection is AVAILABLE, FAILED_CREATION, FAILED_UPDATE, FAILED_DELETION/,
  },
  { name: 'a service ARN', operation: 'DeleteVpcIngressConnection', body: (f) => ({ VpcIngressConnectionArn: f.vpcServiceArn }), error: IR, message: /at 'vpcIngressConnectionArn' is not a full VPC ingress connection ARN/ },
];

const listVpcIngressConnections: InvalidCase[] = [
  ...listingCases('ListVpcIngressConnections', (f) => f.vpcConnectorToken),
  ...(
    [
      ['a Filter ServiceArn that names a connector', (f: Fixtures) => ({ Filter: { ServiceArn: f.vpcConnectorArn } }), /at 'filter.serviceArn' is not a service ARN/],
      ['a Filter ServiceArn that is no ARN', () => ({ Filter: { ServiceArn: 'vpc-cases-svc' } }), /'vpc-cases-svc' at 'filter.serviceArn'.*regular expression pattern/],
      ['a malformed Filter VpcEndpointId', () => ({ Filter: { VpcEndpointId: 'endpoint-1' } }), /'endpoint-1' at 'filter.vpcEndpointId' failed to satisfy constraint: Member must be a VPC endpoint ID/],
      ['an unknown member of Filter', () => ({ Filter: { VpcId: VPC } }), /Unknown member 'filter.vpcId'/],
      ['a Filter that is a list', () => ({ Filter: [VPCE] }), /at 'filter' must be an object/],
    ] as const
  ).map(([name, body, message]) => ({ name, operation: 'ListVpcIngressConnections', body, error: IR, message })),
];

const deleteService: InvalidCase = {
  name: 'a service with a live VPC ingress connection',
  operation: 'DeleteService',
  body: (f) => ({ ServiceArn: f.vpcServiceArn }),
  error: IS,
  message: /Service 'vpc-cases-svc' has the VPC ingress connection 'vpc-cases-ingress'; delete it \(DeleteVpcIngressConnection\) before the service/,
};

async function setup(api: ApiHarness): Promise<Record<string, string>> {
  const connector = async (name: string, subnet: string): Promise<string> =>
    ((await api.call('CreateVpcConnector', { VpcConnectorName: name, Subnets: [subnet], SecurityGroups: [SG] })).VpcConnector as { VpcConnectorArn: string }).VpcConnectorArn;
  const connectorArn = await connector(NAMES.connector, SUBNET);
  await connector(NAMES.spare, 'subnet-12345678');
  const inactive = await connector(NAMES.inactive, 'subnet-87654321');
  await api.call('DeleteVpcConnector', { VpcConnectorArn: inactive });

  const created = await api.call('CreateService', {
    ServiceName: NAMES.service,
    SourceConfiguration: { ImageRepository: { ImageIdentifier: 'registry.example.com/vpc/app:1', ImageRepositoryType: 'ECR' } },
    NetworkConfiguration: { EgressConfiguration: { EgressType: 'VPC', VpcConnectorArn: connectorArn } },
  });
  const serviceArn = (created.Service as { ServiceArn: string }).ServiceArn;
  await api.settle();

  const ingress = async (name: string): Promise<string> =>
    ((await api.call('CreateVpcIngressConnection', { ServiceArn: serviceArn, VpcIngressConnectionName: name, IngressVpcConfiguration: { VpcId: VPC, VpcEndpointId: VPCE } }))
      .VpcIngressConnection as { VpcIngressConnectionArn: string }).VpcIngressConnectionArn;
  const settled = async (arn: string, status: string): Promise<void> => {
    const statusOf = async (): Promise<string> =>
      ((await api.call('DescribeVpcIngressConnection', { VpcIngressConnectionArn: arn })).VpcIngressConnection as { Status: string }).Status;
    await waitFor(async () => (await statusOf()) === status, 5000, () => `fixture ${arn} did not become ${status}`);
  };
  // The quota is one live connection: the DELETED one must be gone before the AVAILABLE one is made.
  const deleted = await ingress(NAMES.deletedIngress);
  await settled(deleted, 'AVAILABLE');
  await api.call('DeleteVpcIngressConnection', { VpcIngressConnectionArn: deleted });
  await settled(deleted, 'DELETED');
  const available = await ingress(NAMES.ingress);
  await settled(available, 'AVAILABLE');

  // A token of each listing, to send to the other. The only live ingress connection fits one
  // page, so ListVpcConnectors gets a token of the service's operations (it has two).
  await api.call('StartDeployment', { ServiceArn: serviceArn });
  await api.settle();
  const connectors = await api.call('ListVpcConnectors', { MaxResults: 1 });
  const operations = await api.call('ListOperations', { ServiceArn: serviceArn, MaxResults: 1 });
  if (typeof connectors.NextToken !== 'string' || typeof operations.NextToken !== 'string') throw new Error('expected a NextToken from both listings');
  return {
    vpcServiceArn: serviceArn,
    vpcConnectorArn: connectorArn,
    vpcInactiveConnectorArn: inactive,
    vpcIngressArn: available,
    vpcDeletedIngressArn: deleted,
    vpcConnectorToken: connectors.NextToken,
    vpcOperationsToken: operations.NextToken,
  };
}

export const family: CaseFamily = {
  name: 'VPC connectors and VPC ingress connections',
  setup,
  cases: [
    createVpcConnector,
    connectorArnCases('DescribeVpcConnector'),
    deleteVpcConnector,
    listVpcConnectors,
    createVpcIngressConnection,
    describeVpcIngressConnection,
    updateVpcIngressConnection,
    deleteVpcIngressConnection,
    listVpcIngressConnections,
    deleteService,
  ],
};

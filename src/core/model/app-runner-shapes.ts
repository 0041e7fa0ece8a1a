/**
 * @module
 * App Runner's input shapes (API version 2020-05-15, newest model), as the server checks
 * them. Patterns are the model's, anchored (app-runner-api.md §3.1 notes the model's regexes
 * have no anchors; full matches are the safe reading).
 */
import { bool, int, list, map, str, struct, type Shape } from './shape.ts';
import { CPU_PATTERN_SOURCE, MEMORY_PATTERN_SOURCE } from '../instance-size.ts';

export const ARN = str({ min: 1, max: 1011, pattern: /^arn:aws(-[\w]+)*:[a-z0-9-.]{0,63}:[a-z0-9-.]{0,63}:[0-9]{12}:(\w|\/|-){1,1011}$/ });
export const SERVICE_NAME = str({ min: 4, max: 40, pattern: /^[A-Za-z0-9][A-Za-z0-9-_]{3,39}$/ });
const ROLE_ARN = str({
  min: 29,
  max: 1024,
  pattern: /^arn:(aws|aws-us-gov|aws-cn|aws-iso|aws-iso-b):iam::[0-9]{12}:(role|role\/service-role)\/[\w+=,.@\-/]{1,1000}$/,
});
const KMS_KEY_ARN = str({ min: 0, max: 256, pattern: /^arn:aws(-[\w]+)*:kms:[a-z-]+-[0-9]{1}:[0-9]{12}:key\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/ });
const GENERIC = str({ min: 0, max: 51200 });
const SINGLE_LINE = str({ pattern: /^[^\n\r]+$/ });
const ENV_VARS = map(str({ min: 1, max: 51200 }), str({ min: 0, max: 51200 }));
const ENV_SECRETS = map(str({ min: 1, max: 2048 }), str({ min: 1, max: 2048 }));
const PORT = str({ min: 0, max: 51200 });

export const RUNTIMES = [
  'PYTHON_3', 'NODEJS_12', 'NODEJS_14', 'CORRETTO_8', 'CORRETTO_11', 'NODEJS_16', 'GO_1', 'DOTNET_6',
  'PHP_81', 'RUBY_31', 'PYTHON_311', 'NODEJS_18', 'NODEJS_22',
] as const;

const TAG_KEY = str({ min: 1, max: 128, pattern: /^(?!aws:).+$/ });
const TAG = struct({ Key: TAG_KEY, Value: str({ min: 0, max: 256 }) }, ['Key']);
// At most 50 tags per resource (AWS's tagging limit), so no request may carry more.
export const TAGS = list(TAG, { max: 50 });

const SOURCE_CODE_VERSION = struct({ Type: str({ enum: ['BRANCH'] }), Value: str({ min: 1, max: 51200 }) }, ['Type', 'Value']);
const CODE_CONFIGURATION_VALUES = struct(
  {
    Runtime: str({ enum: RUNTIMES }),
    BuildCommand: SINGLE_LINE,
    StartCommand: SINGLE_LINE,
    Port: PORT,
    RuntimeEnvironmentVariables: ENV_VARS,
    RuntimeEnvironmentSecrets: ENV_SECRETS,
  },
  ['Runtime'],
);
const CODE_CONFIGURATION = struct(
  { ConfigurationSource: str({ enum: ['REPOSITORY', 'API'] }), CodeConfigurationValues: CODE_CONFIGURATION_VALUES },
  ['ConfigurationSource'],
);
const CODE_REPOSITORY = struct(
  {
    RepositoryUrl: GENERIC,
    SourceCodeVersion: SOURCE_CODE_VERSION,
    CodeConfiguration: CODE_CONFIGURATION,
    // The model's pattern for SourceDirectory: anything but NUL.
    // eslint-disable-next-line no-control-regex
    SourceDirectory: str({ min: 1, max: 4096, pattern: /^[^\x00]+$/ }),
  },
  ['RepositoryUrl', 'SourceCodeVersion'],
);
const IMAGE_CONFIGURATION = struct({
  RuntimeEnvironmentVariables: ENV_VARS,
  StartCommand: SINGLE_LINE,
  Port: PORT,
  RuntimeEnvironmentSecrets: ENV_SECRETS,
});
const IMAGE_REPOSITORY = struct(
  {
    // Any OCI reference (Berth relaxes the ECR-only pattern); the reference grammar is checked after.
    ImageIdentifier: str({ min: 1, max: 1024 }),
    ImageConfiguration: IMAGE_CONFIGURATION,
    ImageRepositoryType: str({ enum: ['ECR', 'ECR_PUBLIC'] }),
  },
  ['ImageIdentifier', 'ImageRepositoryType'],
);
export const SOURCE_CONFIGURATION = struct({
  CodeRepository: CODE_REPOSITORY,
  ImageRepository: IMAGE_REPOSITORY,
  AutoDeploymentsEnabled: bool,
  AuthenticationConfiguration: struct({ ConnectionArn: ARN, AccessRoleArn: ROLE_ARN }),
});
export const INSTANCE_CONFIGURATION = struct({
  Cpu: str({ min: 3, max: 9, pattern: new RegExp(CPU_PATTERN_SOURCE) }),
  Memory: str({ min: 3, max: 6, pattern: new RegExp(MEMORY_PATTERN_SOURCE) }),
  InstanceRoleArn: ROLE_ARN,
});
export const HEALTH_CHECK_CONFIGURATION = struct({
  Protocol: str({ enum: ['TCP', 'HTTP'] }),
  Path: str({ min: 1, max: 51200 }),
  Interval: int({ min: 1, max: 20 }),
  Timeout: int({ min: 1, max: 20 }),
  HealthyThreshold: int({ min: 1, max: 20 }),
  UnhealthyThreshold: int({ min: 1, max: 20 }),
});
export const NETWORK_CONFIGURATION = struct({
  EgressConfiguration: struct({ EgressType: str({ enum: ['DEFAULT', 'VPC'] }), VpcConnectorArn: ARN }),
  IngressConfiguration: struct({ IsPubliclyAccessible: bool }),
  IpAddressType: str({ enum: ['IPV4', 'DUAL_STACK'] }),
});
export const SERVICE_OBSERVABILITY_CONFIGURATION = struct(
  { ObservabilityEnabled: bool, ObservabilityConfigurationArn: ARN },
  ['ObservabilityEnabled'],
);

const CONFIGURATION_NAME = str({ min: 4, max: 32, pattern: /^[A-Za-z0-9][A-Za-z0-9\-_]{3,31}$/ });
const VPC_NAME = str({ min: 4, max: 40, pattern: /^[A-Za-z0-9][A-Za-z0-9\-_]{3,39}$/ });
const DOMAIN_NAME = str({ min: 1, max: 255, pattern: /^[A-Za-z0-9*.-]{1,255}$/ });
/** NextToken of ListServices, ListOperations and DescribeCustomDomains. */
const LONG_NEXT_TOKEN = str({ min: 0, max: 51200 });
/** NextToken of the six newer list operations. */
const NEXT_TOKEN = str({ min: 1, max: 1024 });
const MAX_RESULTS_100 = int({ min: 1, max: 100 });
const SERVICE_ARN_ONLY = struct({ ServiceArn: ARN }, ['ServiceArn']);
const INGRESS_VPC_CONFIGURATION = struct({ VpcId: GENERIC, VpcEndpointId: GENERIC });

/** The service members UpdateService may change (CreateService's, less name, tags and encryption). */
const SERVICE_UPDATE_MEMBERS = {
  SourceConfiguration: SOURCE_CONFIGURATION,
  InstanceConfiguration: INSTANCE_CONFIGURATION,
  AutoScalingConfigurationArn: ARN,
  HealthCheckConfiguration: HEALTH_CHECK_CONFIGURATION,
  NetworkConfiguration: NETWORK_CONFIGURATION,
  ObservabilityConfiguration: SERVICE_OBSERVABILITY_CONFIGURATION,
};

/** Input shapes of App Runner's 37 operations (app-runner-api.md §2). */
export const INPUT_SHAPES: Readonly<Record<string, Shape>> = {
  // Services (§2.1).
  CreateService: struct(
    {
      ServiceName: SERVICE_NAME,
      ...SERVICE_UPDATE_MEMBERS,
      Tags: TAGS,
      EncryptionConfiguration: struct({ KmsKey: KMS_KEY_ARN }, ['KmsKey']),
    },
    ['ServiceName', 'SourceConfiguration'],
  ),
  UpdateService: struct({ ServiceArn: ARN, ...SERVICE_UPDATE_MEMBERS }, ['ServiceArn']),
  DescribeService: SERVICE_ARN_ONLY,
  DeleteService: SERVICE_ARN_ONLY,
  PauseService: SERVICE_ARN_ONLY,
  ResumeService: SERVICE_ARN_ONLY,
  StartDeployment: SERVICE_ARN_ONLY,
  ListServices: struct({ NextToken: LONG_NEXT_TOKEN, MaxResults: int({ min: 1, max: 20 }) }),
  ListOperations: struct({ ServiceArn: ARN, NextToken: LONG_NEXT_TOKEN, MaxResults: int({ min: 1, max: 20 }) }, ['ServiceArn']),

  // Auto scaling configurations (§2.2). MaxSize has no maximum in the newest model. MinSize 0
  // is Berth's extension (scale to zero); App Runner's floor is 1, but its clients do not check
  // MinSize, so they send 0 as they are given it.
  CreateAutoScalingConfiguration: struct(
    {
      AutoScalingConfigurationName: CONFIGURATION_NAME,
      MaxConcurrency: int({ min: 1, max: 200 }),
      MinSize: int({ min: 0, max: 25 }),
      MaxSize: int({ min: 1 }),
      Tags: TAGS,
    },
    ['AutoScalingConfigurationName'],
  ),
  DescribeAutoScalingConfiguration: struct({ AutoScalingConfigurationArn: ARN }, ['AutoScalingConfigurationArn']),
  DeleteAutoScalingConfiguration: struct({ AutoScalingConfigurationArn: ARN, DeleteAllRevisions: bool }, ['AutoScalingConfigurationArn']),
  ListAutoScalingConfigurations: struct({ AutoScalingConfigurationName: CONFIGURATION_NAME, LatestOnly: bool, MaxResults: MAX_RESULTS_100, NextToken: NEXT_TOKEN }),
  ListServicesForAutoScalingConfiguration: struct(
    { AutoScalingConfigurationArn: ARN, MaxResults: MAX_RESULTS_100, NextToken: NEXT_TOKEN },
    ['AutoScalingConfigurationArn'],
  ),
  UpdateDefaultAutoScalingConfiguration: struct({ AutoScalingConfigurationArn: ARN }, ['AutoScalingConfigurationArn']),

  // Connections (§2.3).
  // ProviderType: App Runner's GITHUB and BITBUCKET, and Berth's own values for any other git host.
  CreateConnection: struct({ ConnectionName: CONFIGURATION_NAME, ProviderType: str({ enum: ['GITHUB', 'BITBUCKET', 'GITLAB', 'GITEA', 'GIT'] }), Tags: TAGS }, ['ConnectionName', 'ProviderType']),
  DeleteConnection: struct({ ConnectionArn: ARN }, ['ConnectionArn']),
  ListConnections: struct({ ConnectionName: CONFIGURATION_NAME, MaxResults: MAX_RESULTS_100, NextToken: NEXT_TOKEN }),

  // Observability configurations (§2.4).
  CreateObservabilityConfiguration: struct(
    { ObservabilityConfigurationName: CONFIGURATION_NAME, TraceConfiguration: struct({ Vendor: str({ enum: ['AWSXRAY'] }) }, ['Vendor']), Tags: TAGS },
    ['ObservabilityConfigurationName'],
  ),
  DescribeObservabilityConfiguration: struct({ ObservabilityConfigurationArn: ARN }, ['ObservabilityConfigurationArn']),
  DeleteObservabilityConfiguration: struct({ ObservabilityConfigurationArn: ARN }, ['ObservabilityConfigurationArn']),
  ListObservabilityConfigurations: struct({ ObservabilityConfigurationName: CONFIGURATION_NAME, LatestOnly: bool, MaxResults: MAX_RESULTS_100, NextToken: NEXT_TOKEN }),

  // Custom domains (§2.5).
  AssociateCustomDomain: struct({ ServiceArn: ARN, DomainName: DOMAIN_NAME, EnableWWWSubdomain: bool }, ['ServiceArn', 'DomainName']),
  DescribeCustomDomains: struct({ ServiceArn: ARN, NextToken: LONG_NEXT_TOKEN, MaxResults: int({ min: 1, max: 5 }) }, ['ServiceArn']),
  DisassociateCustomDomain: struct({ ServiceArn: ARN, DomainName: DOMAIN_NAME }, ['ServiceArn', 'DomainName']),

  // VPC connectors (§2.6).
  CreateVpcConnector: struct({ VpcConnectorName: VPC_NAME, Subnets: list(GENERIC), SecurityGroups: list(GENERIC), Tags: TAGS }, ['VpcConnectorName', 'Subnets']),
  DescribeVpcConnector: struct({ VpcConnectorArn: ARN }, ['VpcConnectorArn']),
  DeleteVpcConnector: struct({ VpcConnectorArn: ARN }, ['VpcConnectorArn']),
  ListVpcConnectors: struct({ MaxResults: MAX_RESULTS_100, NextToken: NEXT_TOKEN }),

  // VPC ingress connections (§2.7).
  CreateVpcIngressConnection: struct(
    { ServiceArn: ARN, VpcIngressConnectionName: VPC_NAME, IngressVpcConfiguration: INGRESS_VPC_CONFIGURATION, Tags: TAGS },
    ['ServiceArn', 'VpcIngressConnectionName', 'IngressVpcConfiguration'],
  ),
  DescribeVpcIngressConnection: struct({ VpcIngressConnectionArn: ARN }, ['VpcIngressConnectionArn']),
  UpdateVpcIngressConnection: struct({ VpcIngressConnectionArn: ARN, IngressVpcConfiguration: INGRESS_VPC_CONFIGURATION }, ['VpcIngressConnectionArn', 'IngressVpcConfiguration']),
  DeleteVpcIngressConnection: struct({ VpcIngressConnectionArn: ARN }, ['VpcIngressConnectionArn']),
  ListVpcIngressConnections: struct({
    Filter: struct({ ServiceArn: ARN, VpcEndpointId: GENERIC }),
    MaxResults: MAX_RESULTS_100,
    NextToken: NEXT_TOKEN,
  }),

  // Tags (§2.8).
  TagResource: struct({ ResourceArn: ARN, Tags: TAGS }, ['ResourceArn', 'Tags']),
  UntagResource: struct({ ResourceArn: ARN, TagKeys: list(TAG_KEY) }, ['ResourceArn', 'TagKeys']),
  ListTagsForResource: struct({ ResourceArn: ARN }, ['ResourceArn']),
};

/** App Runner's operation names, in the order of app-runner-api.md §2. */
export const APP_RUNNER_OPERATIONS: readonly string[] = Object.keys(INPUT_SHAPES);

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

const TAG = struct({ Key: str({ min: 1, max: 128, pattern: /^(?!aws:).+$/ }), Value: str({ min: 0, max: 256 }) }, ['Key']);
export const TAGS = list(TAG);

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

/** Input shapes by operation. */
export const INPUT_SHAPES: Readonly<Record<string, Shape>> = {
  CreateService: struct(
    {
      ServiceName: SERVICE_NAME,
      SourceConfiguration: SOURCE_CONFIGURATION,
      InstanceConfiguration: INSTANCE_CONFIGURATION,
      Tags: TAGS,
      EncryptionConfiguration: struct({ KmsKey: KMS_KEY_ARN }, ['KmsKey']),
      HealthCheckConfiguration: HEALTH_CHECK_CONFIGURATION,
      AutoScalingConfigurationArn: ARN,
      NetworkConfiguration: NETWORK_CONFIGURATION,
      ObservabilityConfiguration: SERVICE_OBSERVABILITY_CONFIGURATION,
    },
    ['ServiceName', 'SourceConfiguration'],
  ),
  DescribeService: struct({ ServiceArn: ARN }, ['ServiceArn']),
  DeleteService: struct({ ServiceArn: ARN }, ['ServiceArn']),
  ListServices: struct({ NextToken: str({ min: 0, max: 51200 }), MaxResults: int({ min: 1, max: 20 }) }),
  ListOperations: struct({ ServiceArn: ARN, NextToken: str({ min: 0, max: 51200 }), MaxResults: int({ min: 1, max: 20 }) }, ['ServiceArn']),
};

/**
 * @module
 * Services: the desired configuration Berth stores, how a CreateService request becomes one
 * (defaults filled in as the real service does, §3.2), and the App Runner output shapes.
 */
import { planBuild, type CodeConfiguration } from './build/build-plan.ts';
import { BerthError, invalidRequest, showValue } from './errors.ts';
import { checkBranchName, normalizeSourceDirectory, parseGitUrl } from './git-url.ts';
import { IMAGE_REFERENCE_FORM, parseImageReference } from './image-reference.ts';
import { describeCombinations, parseCpu, parseMemory, VALID_COMBINATIONS } from './instance-size.ts';
import type { ServiceSettings } from './service-settings.ts';
import { INPUT_SHAPES } from './model/app-runner-shapes.ts';
import { isPlainObject, validateShape, validationMessage } from './model/shape.ts';
import { epochSeconds } from './time.ts';

export type ServiceStatus = 'CREATE_FAILED' | 'RUNNING' | 'DELETED' | 'DELETE_FAILED' | 'PAUSED' | 'OPERATION_IN_PROGRESS';

export interface HealthCheckConfiguration {
  Protocol: 'TCP' | 'HTTP';
  Path: string;
  Interval: number;
  Timeout: number;
  HealthyThreshold: number;
  UnhealthyThreshold: number;
}

export interface ImageRepository {
  ImageIdentifier: string;
  ImageRepositoryType: 'ECR' | 'ECR_PUBLIC';
  ImageConfiguration: {
    Port: string;
    RuntimeEnvironmentVariables?: Record<string, string>;
    StartCommand?: string;
  };
}

/** A source-code repository in App Runner's output form (§3.4). */
export interface CodeRepository {
  RepositoryUrl: string;
  SourceCodeVersion: { Type: 'BRANCH'; Value: string };
  /** As given; absent means the repository root. */
  SourceDirectory?: string;
  CodeConfiguration: CodeConfiguration;
}

export interface Tag {
  Key: string;
  Value?: string;
}

/** The desired configuration of a service, in App Runner's output form with defaults filled in. */
export interface ServiceConfig {
  /** Exactly one of ImageRepository and CodeRepository. */
  SourceConfiguration: {
    ImageRepository?: ImageRepository;
    CodeRepository?: CodeRepository;
    AutoDeploymentsEnabled: boolean;
    AuthenticationConfiguration?: { AccessRoleArn?: string; ConnectionArn?: string };
  };
  InstanceConfiguration: { Cpu: string; Memory: string; InstanceRoleArn?: string };
  HealthCheckConfiguration: HealthCheckConfiguration;
  NetworkConfiguration: {
    EgressConfiguration: { EgressType: 'DEFAULT' | 'VPC'; VpcConnectorArn?: string };
    IngressConfiguration: { IsPubliclyAccessible: boolean };
    IpAddressType: 'IPV4' | 'DUAL_STACK';
  };
  ObservabilityConfiguration: { ObservabilityEnabled: boolean; ObservabilityConfigurationArn?: string };
  EncryptionConfiguration?: { KmsKey: string };
}

export interface ServiceRecord {
  id: string;
  name: string;
  arn: string;
  /** The host the router serves it on (ServiceUrl). */
  urlHost: string;
  status: ServiceStatus;
  config: ServiceConfig;
  /** The revision instances should run; a new one is made by every deployment. */
  revisionId: string;
  /**
   * The revision that last deployed successfully and so takes traffic while a newer one starts;
   * absent until the first deployment succeeds.
   */
  servingRevisionId?: string;
  /** The attached auto scaling configuration revision (full ARN). */
  autoScalingConfigurationArn: string;
  /** Instances kept running: the attached configuration's MinSize (revisions are immutable). */
  minSize: number;
  maxConcurrency: number;
  maxSize: number;
  /**
   * Instances the autoscaler wants for the revision that serves, within [minSize, maxSize];
   * minSize when absent (no decision yet).
   */
  desiredInstances?: number;
  /** Berth's per-service settings (service-settings.ts); unset members take the defaults. */
  settings?: Partial<ServiceSettings>;
  createdAt: number;
  updatedAt: number;
  deletedAt?: number;
}

/** Where a source-code revision's code comes from; its build fills in what instances run. */
export interface SourceSpec {
  repositoryUrl: string;
  branch: string;
  /** Normalized, relative to the repository root; '.' for the root. */
  sourceDirectory: string;
  connectionArn?: string;
  codeConfiguration: CodeConfiguration;
}

/** What instances of a revision run: derived from the service's configuration at deploy time. */
export interface RevisionSpec {
  /** The image to run; empty for a source-code revision, whose build provides it. */
  image: string;
  /** Set for source-code revisions. */
  source?: SourceSpec;
  port: number;
  env: Record<string, string>;
  startCommand?: string;
  cpuUnits: number;
  memoryMb: number;
  healthCheck: HealthCheckConfiguration;
}

export const DEFAULT_HEALTH_CHECK: HealthCheckConfiguration = {
  Protocol: 'TCP',
  Path: '/',
  Interval: 5,
  Timeout: 2,
  HealthyThreshold: 1,
  UnhealthyThreshold: 5,
};

/** Checks an operation's input against its shape; throws InvalidRequestException listing every violation. */
export function validateInput(operation: string, input: unknown): void {
  const shape = INPUT_SHAPES[operation];
  if (shape === undefined) throw new BerthError('UnknownOperationException', `Unknown operation ${showValue(operation)}`);
  const errors = validateShape(shape, input);
  if (errors.length > 0) throw invalidRequest(validationMessage(errors));
}

export interface CreateServiceInput {
  ServiceName: string;
  SourceConfiguration: Record<string, unknown>;
  [member: string]: unknown;
}

type ImageRepositoryInput = ImageRepository & { ImageConfiguration?: Record<string, unknown> };
type CodeRepositoryInput = Omit<CodeRepository, 'CodeConfiguration'> & { CodeConfiguration?: CodeConfiguration };
type NetworkInput = {
  EgressConfiguration?: { EgressType?: 'DEFAULT' | 'VPC'; VpcConnectorArn?: string };
  IngressConfiguration?: { IsPubliclyAccessible?: boolean };
  IpAddressType?: 'IPV4' | 'DUAL_STACK';
};

/**
 * Turns a shape-valid CreateService input (no `base`) or UpdateService input (`base`: the
 * current configuration; only the members given change) into the configuration to store,
 * checking the rules that span members and refusing, never ignoring, the features this Berth
 * does not have yet. References to other resources (VPC connector, observability
 * configuration) are checked by the caller, which has the store.
 */
export function configFromInput(given: Record<string, unknown>, base?: ServiceConfig): ServiceConfig {
  const input = withoutNulls(given) as Record<string, unknown>;
  const source = input.SourceConfiguration as
    | {
        CodeRepository?: unknown;
        ImageRepository?: ImageRepositoryInput;
        AutoDeploymentsEnabled?: boolean;
        AuthenticationConfiguration?: { AccessRoleArn?: string; ConnectionArn?: string };
      }
    | undefined;
  let sourceConfiguration: ServiceConfig['SourceConfiguration'];
  if (source === undefined) {
    if (base === undefined) throw new Error('unreachable: the shape check requires SourceConfiguration on create');
    sourceConfiguration = base.SourceConfiguration;
  } else {
    if ((source.CodeRepository === undefined) === (source.ImageRepository === undefined)) {
      throw invalidRequest("Exactly one of 'sourceConfiguration.imageRepository' and 'sourceConfiguration.codeRepository' must be provided");
    }
    if (base !== undefined && (source.CodeRepository === undefined) !== (base.SourceConfiguration.CodeRepository === undefined)) {
      throw invalidRequest(
        `A service deployed from ${base.SourceConfiguration.CodeRepository === undefined ? 'an image' : 'a code repository'} cannot switch to ${source.CodeRepository === undefined ? 'an image' : 'a code repository'}; create a new service for it`,
      );
    }
    sourceConfiguration = source.CodeRepository !== undefined
      ? codeSourceFrom(source.CodeRepository as CodeRepositoryInput, base?.SourceConfiguration.CodeRepository, source.AutoDeploymentsEnabled, source.AuthenticationConfiguration)
      : imageSourceFrom(source.ImageRepository as ImageRepositoryInput, source.AutoDeploymentsEnabled, source.AuthenticationConfiguration);
  }

  const instance = input.InstanceConfiguration as { Cpu?: string; Memory?: string; InstanceRoleArn?: string } | undefined;
  const instanceConfiguration = instance === undefined && base !== undefined ? base.InstanceConfiguration : instanceFrom(instance ?? {});

  const network = input.NetworkConfiguration as NetworkInput | undefined;
  const networkConfiguration = network === undefined && base !== undefined ? base.NetworkConfiguration : networkFrom(network ?? {});

  const observability = input.ObservabilityConfiguration as { ObservabilityEnabled: boolean; ObservabilityConfigurationArn?: string } | undefined;
  if (observability?.ObservabilityEnabled === true && observability.ObservabilityConfigurationArn === undefined) {
    throw invalidRequest("'observabilityConfiguration.observabilityConfigurationArn' is required when 'observabilityConfiguration.observabilityEnabled' is true");
  }
  if (observability?.ObservabilityEnabled === false && observability.ObservabilityConfigurationArn !== undefined) {
    throw invalidRequest("'observabilityConfiguration.observabilityConfigurationArn' is given but 'observabilityConfiguration.observabilityEnabled' is false; set it to true or leave the ARN out");
  }
  const observabilityConfiguration =
    observability === undefined ? (base?.ObservabilityConfiguration ?? { ObservabilityEnabled: false }) : { ...observability };

  const healthCheck = input.HealthCheckConfiguration as Partial<HealthCheckConfiguration> | undefined;
  const healthCheckConfiguration =
    healthCheck === undefined && base !== undefined ? base.HealthCheckConfiguration : { ...DEFAULT_HEALTH_CHECK, ...healthCheck };

  const encryption = base === undefined ? (input.EncryptionConfiguration as { KmsKey: string } | undefined) : base.EncryptionConfiguration;
  return {
    SourceConfiguration: sourceConfiguration,
    InstanceConfiguration: instanceConfiguration,
    HealthCheckConfiguration: healthCheckConfiguration,
    NetworkConfiguration: networkConfiguration,
    ObservabilityConfiguration: observabilityConfiguration,
    ...(encryption !== undefined && { EncryptionConfiguration: encryption }),
  };
}

/**
 * A member sent as JSON null counts as absent, as AWS treats it (the shape check skips nulls
 * too); a null left in place would read as a given value below.
 */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (!isPlainObject(value)) return value;
  return Object.fromEntries(Object.entries(value).flatMap(([k, v]) => (v === null ? [] : [[k, withoutNulls(v)]])));
}

function imageSourceFrom(
  image: ImageRepositoryInput,
  autoDeployments: boolean | undefined,
  authentication: { AccessRoleArn?: string; ConnectionArn?: string } | undefined,
): ServiceConfig['SourceConfiguration'] {
  if (parseImageReference(image.ImageIdentifier) === undefined) {
    throw invalidRequest(
      `Value ${showValue(image.ImageIdentifier)} at 'sourceConfiguration.imageRepository.imageIdentifier' is not a valid image reference; expected ${IMAGE_REFERENCE_FORM}, e.g. 'registry.example.com:5000/team/app:1.2'`,
    );
  }
  const imageConfig = image.ImageConfiguration ?? {};
  if (imageConfig.RuntimeEnvironmentSecrets !== undefined) {
    throw invalidRequest("'sourceConfiguration.imageRepository.imageConfiguration.runtimeEnvironmentSecrets' is not supported by this version of Berth yet; use runtimeEnvironmentVariables");
  }
  const port = parsePort(imageConfig.Port as string | undefined, 'sourceConfiguration.imageRepository.imageConfiguration.port');
  const env = imageConfig.RuntimeEnvironmentVariables as Record<string, string> | undefined;
  if (env !== undefined) checkEnvNames(env, 'sourceConfiguration.imageRepository.imageConfiguration.runtimeEnvironmentVariables');
  if (authentication?.ConnectionArn !== undefined) {
    throw invalidRequest("'sourceConfiguration.authenticationConfiguration.connectionArn' applies to source code repositories, not images; leave it out for an image");
  }
  return {
    ImageRepository: {
      ImageIdentifier: image.ImageIdentifier,
      ImageRepositoryType: image.ImageRepositoryType,
      ImageConfiguration: {
        Port: String(port),
        ...(env !== undefined && { RuntimeEnvironmentVariables: env }),
        ...(typeof imageConfig.StartCommand === 'string' && { StartCommand: imageConfig.StartCommand }),
      },
    },
    // App Runner's default (§3.4): a private (ECR) image follows its tag, a public one does not.
    AutoDeploymentsEnabled: autoDeployments ?? image.ImageRepositoryType === 'ECR',
    ...(authentication !== undefined && { AuthenticationConfiguration: authentication }),
  };
}

const CODE = 'sourceConfiguration.codeRepository';

/**
 * A code repository as stored. `CodeConfiguration` is required on create; an update that leaves
 * it out keeps the current one. API-mode values are checked now, by planning a build with them,
 * so a bad runtime or port is refused by the request instead of failing a deployment later.
 */
function codeSourceFrom(
  code: CodeRepositoryInput,
  current: CodeRepository | undefined,
  autoDeployments: boolean | undefined,
  authentication: { AccessRoleArn?: string; ConnectionArn?: string } | undefined,
): ServiceConfig['SourceConfiguration'] {
  const at = (member: string, error: unknown): never => {
    if (error instanceof BerthError) throw invalidRequest(`Invalid '${CODE}.${member}': ${error.message}`);
    throw error;
  };
  try {
    parseGitUrl(code.RepositoryUrl);
  } catch (error) {
    at('repositoryUrl', error);
  }
  if (code.SourceCodeVersion.Type !== 'BRANCH') throw new Error('unreachable: the shape check admits only BRANCH');
  try {
    checkBranchName(code.SourceCodeVersion.Value);
  } catch (error) {
    at('sourceCodeVersion.value', error);
  }
  try {
    normalizeSourceDirectory(code.SourceDirectory);
  } catch (error) {
    at('sourceDirectory', error);
  }
  const codeConfiguration = code.CodeConfiguration ?? current?.CodeConfiguration;
  if (codeConfiguration === undefined) {
    throw invalidRequest(`'${CODE}.codeConfiguration' is required when creating a service from a code repository: ConfigurationSource REPOSITORY reads apprunner.yaml (or a Dockerfile, or detects the project), API uses CodeConfigurationValues`);
  }
  const values = codeConfiguration.CodeConfigurationValues;
  if (values?.RuntimeEnvironmentSecrets !== undefined) {
    throw invalidRequest(`'${CODE}.codeConfiguration.codeConfigurationValues.runtimeEnvironmentSecrets' is not supported by this version of Berth yet; use runtimeEnvironmentVariables`);
  }
  if (values?.RuntimeEnvironmentVariables !== undefined) checkEnvNames(values.RuntimeEnvironmentVariables, `${CODE}.codeConfiguration.codeConfigurationValues.runtimeEnvironmentVariables`);
  if (codeConfiguration.ConfigurationSource === 'API') {
    try {
      planBuild({ files: [] }, codeConfiguration);
    } catch (error) {
      at('codeConfiguration.codeConfigurationValues', error);
    }
  }
  if (authentication?.AccessRoleArn !== undefined) {
    throw invalidRequest("'sourceConfiguration.authenticationConfiguration.accessRoleArn' applies to private image registries, not code repositories; give the repository's credentials through a connection (connectionArn)");
  }
  return {
    CodeRepository: {
      RepositoryUrl: code.RepositoryUrl,
      SourceCodeVersion: { Type: 'BRANCH', Value: code.SourceCodeVersion.Value },
      ...(code.SourceDirectory !== undefined && { SourceDirectory: code.SourceDirectory }),
      CodeConfiguration: codeConfiguration,
    },
    // App Runner deploys every push of a code repository unless told otherwise (§3.4).
    AutoDeploymentsEnabled: autoDeployments ?? true,
    ...(authentication !== undefined && { AuthenticationConfiguration: authentication }),
  };
}

function instanceFrom(instance: { Cpu?: string; Memory?: string; InstanceRoleArn?: string }): ServiceConfig['InstanceConfiguration'] {
  const cpu = instance.Cpu === undefined ? 1024 : parseCpu(instance.Cpu);
  const memory = instance.Memory === undefined ? 2048 : parseMemory(instance.Memory);
  if (cpu === undefined || memory === undefined) throw new Error('unreachable: the shape check admits only valid sizes');
  if (!VALID_COMBINATIONS.get(cpu)?.includes(memory)) {
    throw invalidRequest(
      `The combination of Cpu ${showValue(instance.Cpu ?? '1024')} and Memory ${showValue(instance.Memory ?? '2048')} at 'instanceConfiguration' is not supported; valid combinations: ${describeCombinations()}`,
    );
  }
  return { Cpu: String(cpu), Memory: String(memory), ...(instance.InstanceRoleArn !== undefined && { InstanceRoleArn: instance.InstanceRoleArn }) };
}

function networkFrom(network: NetworkInput): ServiceConfig['NetworkConfiguration'] {
  const egressType = network.EgressConfiguration?.EgressType ?? 'DEFAULT';
  const connector = network.EgressConfiguration?.VpcConnectorArn;
  if (egressType === 'VPC' && connector === undefined) {
    throw invalidRequest("'networkConfiguration.egressConfiguration.vpcConnectorArn' is required when 'egressType' is VPC");
  }
  if (egressType === 'DEFAULT' && connector !== undefined) {
    throw invalidRequest("'networkConfiguration.egressConfiguration.vpcConnectorArn' is given but 'egressType' is DEFAULT; set EgressType to VPC or leave the connector out");
  }
  if (network.IngressConfiguration?.IsPubliclyAccessible === false) {
    throw invalidRequest("Private services ('networkConfiguration.ingressConfiguration.isPubliclyAccessible': false) are not supported by this version of Berth yet");
  }
  return {
    EgressConfiguration: { EgressType: egressType, ...(connector !== undefined && { VpcConnectorArn: connector }) },
    IngressConfiguration: { IsPubliclyAccessible: true },
    IpAddressType: network.IpAddressType ?? 'IPV4',
  };
}

function parsePort(value: string | undefined, path: string): number {
  if (value === undefined || value === '') return 8080;
  const port = /^[0-9]{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw invalidRequest(`Value ${showValue(value)} at '${path}' is not a valid port; expected a whole number from 1 to 65535 as a string, e.g. '8080'`);
  }
  return port;
}

// POSIX portable names, plus what shells accept; AWS reserves the AWSAPPRUNNER prefix.
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

function checkEnvNames(env: Record<string, string>, path: string): void {
  for (const name of Object.keys(env)) {
    if (!ENV_NAME.test(name)) {
      throw invalidRequest(`Environment variable name ${showValue(name)} at '${path}' is invalid; names start with a letter or '_' and contain letters, digits, '_', '.', '-'`);
    }
    if (name.startsWith('AWSAPPRUNNER') || name === 'PORT') {
      throw invalidRequest(`Environment variable name ${showValue(name)} at '${path}' is reserved; names starting with AWSAPPRUNNER and PORT are set by the platform`);
    }
  }
}

/** The runtime view of a configuration: what each instance of the revision runs. */
export function revisionSpecOf(config: ServiceConfig): RevisionSpec {
  const image = config.SourceConfiguration.ImageRepository;
  const code = config.SourceConfiguration.CodeRepository;
  if (code !== undefined) {
    const connectionArn = config.SourceConfiguration.AuthenticationConfiguration?.ConnectionArn;
    const port = code.CodeConfiguration.CodeConfigurationValues?.Port;
    return {
      image: '',
      source: {
        repositoryUrl: code.RepositoryUrl,
        branch: code.SourceCodeVersion.Value,
        sourceDirectory: normalizeSourceDirectory(code.SourceDirectory),
        ...(connectionArn !== undefined && { connectionArn }),
        codeConfiguration: code.CodeConfiguration,
      },
      // The build decides the port and environment; these hold until it has.
      port: port === undefined ? 8080 : Number(port),
      env: {},
      cpuUnits: Number(config.InstanceConfiguration.Cpu),
      memoryMb: Number(config.InstanceConfiguration.Memory),
      healthCheck: config.HealthCheckConfiguration,
    };
  }
  if (image === undefined) throw new Error('unreachable: a service has an image or a code repository');
  return {
    image: image.ImageIdentifier,
    port: Number(image.ImageConfiguration.Port),
    env: { ...image.ImageConfiguration.RuntimeEnvironmentVariables },
    ...(image.ImageConfiguration.StartCommand !== undefined && { startCommand: image.ImageConfiguration.StartCommand }),
    cpuUnits: Number(config.InstanceConfiguration.Cpu),
    memoryMb: Number(config.InstanceConfiguration.Memory),
    healthCheck: config.HealthCheckConfiguration,
  };
}

/** The `Service` output shape; `autoScalingSummary` is its configuration's summary (§3.8). */
export function serviceOutput(service: ServiceRecord, autoScalingSummary: Record<string, unknown>): Record<string, unknown> {
  return {
    ServiceName: service.name,
    ServiceId: service.id,
    ServiceArn: service.arn,
    ServiceUrl: service.urlHost,
    CreatedAt: epochSeconds(service.createdAt),
    UpdatedAt: epochSeconds(service.updatedAt),
    ...(service.deletedAt !== undefined && { DeletedAt: epochSeconds(service.deletedAt) }),
    Status: service.status,
    ...service.config,
    AutoScalingConfigurationSummary: autoScalingSummary,
  };
}

/** The `ServiceSummary` shape of ListServices: whole seconds, as the real service sends. */
export function serviceSummary(service: ServiceRecord): Record<string, unknown> {
  return {
    ServiceName: service.name,
    ServiceId: service.id,
    ServiceArn: service.arn,
    ServiceUrl: service.urlHost,
    CreatedAt: Math.floor(service.createdAt / 1000),
    UpdatedAt: Math.floor(service.updatedAt / 1000),
    Status: service.status,
  };
}

/**
 * @module
 * Services: the desired configuration Berth stores, how a CreateService request becomes one
 * (defaults filled in as the real service does, §3.2), and the App Runner output shapes.
 */
import { BerthError, invalidRequest, showValue } from './errors.ts';
import { DEFAULT_ASC_ID, DEFAULT_ASC_NAME, autoScalingConfigurationArn, type ArnContext } from './ids.ts';
import { IMAGE_REFERENCE_FORM, parseImageReference } from './image-reference.ts';
import { describeCombinations, parseCpu, parseMemory, VALID_COMBINATIONS } from './instance-size.ts';
import { INPUT_SHAPES } from './model/app-runner-shapes.ts';
import { validateShape, validationMessage } from './model/shape.ts';

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

export interface Tag {
  Key: string;
  Value?: string;
}

/** The desired configuration of a service, in App Runner's output form with defaults filled in. */
export interface ServiceConfig {
  SourceConfiguration: {
    ImageRepository: ImageRepository;
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
  /** Instances kept running (the attached auto scaling configuration's MinSize). */
  minSize: number;
  maxConcurrency: number;
  maxSize: number;
  tags: Tag[];
  createdAt: number;
  updatedAt: number;
  deletedAt?: number;
}

/** What instances of a revision run: derived from the service's configuration at deploy time. */
export interface RevisionSpec {
  image: string;
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

/** The account's default auto scaling configuration, which App Runner provides (§3.8). */
export const DEFAULT_AUTO_SCALING = { name: DEFAULT_ASC_NAME, revision: 1, maxConcurrency: 100, minSize: 1, maxSize: 25 } as const;

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

/**
 * Turns a shape-valid CreateService input into the configuration to store, checking the rules
 * that span members and the features this Berth does not have yet (refused, never ignored).
 */
export function configFromCreateInput(input: CreateServiceInput, ctx: ArnContext): ServiceConfig {
  const source = input.SourceConfiguration as {
    CodeRepository?: unknown;
    ImageRepository?: ImageRepository & { ImageConfiguration?: Record<string, unknown> };
    AutoDeploymentsEnabled?: boolean;
    AuthenticationConfiguration?: { AccessRoleArn?: string; ConnectionArn?: string };
  };
  if ((source.CodeRepository === undefined) === (source.ImageRepository === undefined)) {
    throw invalidRequest(
      "Exactly one of 'sourceConfiguration.imageRepository' and 'sourceConfiguration.codeRepository' must be provided",
    );
  }
  if (source.CodeRepository !== undefined) {
    throw invalidRequest("'sourceConfiguration.codeRepository' is not supported by this version of Berth yet; deploy an image with 'sourceConfiguration.imageRepository'");
  }
  const image = source.ImageRepository as ImageRepository & { ImageConfiguration?: Record<string, unknown> };
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

  const instance = (input.InstanceConfiguration ?? {}) as { Cpu?: string; Memory?: string; InstanceRoleArn?: string };
  const cpu = instance.Cpu === undefined ? 1024 : parseCpu(instance.Cpu);
  const memory = instance.Memory === undefined ? 2048 : parseMemory(instance.Memory);
  if (cpu === undefined || memory === undefined) throw new Error('unreachable: the shape check admits only valid sizes');
  if (!VALID_COMBINATIONS.get(cpu)?.includes(memory)) {
    throw invalidRequest(
      `The combination of Cpu ${showValue(instance.Cpu ?? '1024')} and Memory ${showValue(instance.Memory ?? '2048')} at 'instanceConfiguration' is not supported; valid combinations: ${describeCombinations()}`,
    );
  }

  const network = (input.NetworkConfiguration ?? {}) as {
    EgressConfiguration?: { EgressType?: 'DEFAULT' | 'VPC'; VpcConnectorArn?: string };
    IngressConfiguration?: { IsPubliclyAccessible?: boolean };
    IpAddressType?: 'IPV4' | 'DUAL_STACK';
  };
  if (network.EgressConfiguration?.EgressType === 'VPC' || network.EgressConfiguration?.VpcConnectorArn !== undefined) {
    throw invalidRequest("'networkConfiguration.egressConfiguration' of type VPC is not supported by this version of Berth yet; use EgressType DEFAULT");
  }
  if (network.IngressConfiguration?.IsPubliclyAccessible === false) {
    throw invalidRequest("Private services ('networkConfiguration.ingressConfiguration.isPubliclyAccessible': false) are not supported by this version of Berth yet");
  }
  const observability = input.ObservabilityConfiguration as { ObservabilityEnabled: boolean; ObservabilityConfigurationArn?: string } | undefined;
  if (observability?.ObservabilityEnabled === true) {
    throw new BerthError(
      'ResourceNotFoundException',
      `Observability configuration ${showValue(observability.ObservabilityConfigurationArn ?? '(none given)')} at 'observabilityConfiguration.observabilityConfigurationArn' does not exist`,
    );
  }
  const ascArn = input.AutoScalingConfigurationArn as string | undefined;
  const defaultAscArn = autoScalingConfigurationArn(ctx, DEFAULT_ASC_NAME, 1, DEFAULT_ASC_ID);
  if (ascArn !== undefined && ascArn !== defaultAscArn && !defaultAscArn.startsWith(`${ascArn}/`)) {
    throw new BerthError('ResourceNotFoundException', `Auto scaling configuration ${showValue(ascArn)} at 'autoScalingConfigurationArn' does not exist; the only one is ${showValue(defaultAscArn)}`);
  }

  return {
    SourceConfiguration: {
      ImageRepository: {
        ImageIdentifier: image.ImageIdentifier,
        ImageRepositoryType: image.ImageRepositoryType,
        ImageConfiguration: {
          Port: String(port),
          ...(env !== undefined && { RuntimeEnvironmentVariables: env }),
          ...(typeof imageConfig.StartCommand === 'string' && { StartCommand: imageConfig.StartCommand }),
        },
      },
      // Berth does not watch image tags yet, so nothing is deployed automatically unless asked.
      AutoDeploymentsEnabled: source.AutoDeploymentsEnabled ?? false,
      ...(source.AuthenticationConfiguration !== undefined && { AuthenticationConfiguration: source.AuthenticationConfiguration }),
    },
    InstanceConfiguration: {
      Cpu: String(cpu),
      Memory: String(memory),
      ...(instance.InstanceRoleArn !== undefined && { InstanceRoleArn: instance.InstanceRoleArn }),
    },
    HealthCheckConfiguration: { ...DEFAULT_HEALTH_CHECK, ...(input.HealthCheckConfiguration as Partial<HealthCheckConfiguration> | undefined) },
    NetworkConfiguration: {
      EgressConfiguration: { EgressType: 'DEFAULT' },
      IngressConfiguration: { IsPubliclyAccessible: true },
      IpAddressType: network.IpAddressType ?? 'IPV4',
    },
    ObservabilityConfiguration: { ObservabilityEnabled: false },
    ...(input.EncryptionConfiguration !== undefined && { EncryptionConfiguration: input.EncryptionConfiguration as { KmsKey: string } }),
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

/** Epoch milliseconds to App Runner's wire form: epoch seconds, fractional (§1.3). */
export const epochSeconds = (ms: number): number => ms / 1000;

/** The `Service` output shape. */
export function serviceOutput(service: ServiceRecord, ctx: ArnContext): Record<string, unknown> {
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
    AutoScalingConfigurationSummary: {
      AutoScalingConfigurationArn: autoScalingConfigurationArn(ctx, DEFAULT_ASC_NAME, 1, DEFAULT_ASC_ID),
      AutoScalingConfigurationName: DEFAULT_AUTO_SCALING.name,
      AutoScalingConfigurationRevision: DEFAULT_AUTO_SCALING.revision,
      Status: 'ACTIVE',
      CreatedAt: 0,
      HasAssociatedService: true,
      IsDefault: true,
    },
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

/**
 * Invalid requests to the nine service operations (app-runner-api.md §2.1, §3.1–§3.9, §5.3):
 * every constraint of every CreateService/UpdateService member, the cross-member rules
 * `configFromInput` checks, references to resources that do not exist, the state rules, and
 * the ARN, MaxResults and NextToken rules of the read operations; and of Berth's extensions
 * on services (DescribeOperation, UpdateServiceSettings, DescribeServiceSettings,
 * ListServiceEvents).
 *
 * Setup makes four services: one RUNNING, one PAUSED, one CREATE_FAILED (its image cannot be
 * pulled) and one DELETED, plus a NextToken of each listing to send where it does not belong.
 */
import type { ApiHarness } from '../../support/api-harness.ts';
import type { CaseFamily, Fixtures, InvalidCase } from './types.ts';

const IMAGE = 'registry.example.com/svc/app:1';
const MISSING_IMAGE = 'registry.example.com/svc/missing:1';
const NAMES = { running: 'svc-cases-running', paused: 'svc-cases-paused', failed: 'svc-cases-failed', deleted: 'svc-cases-deleted' };
const ID = '0123456789abcdef0123456789abcdef';

type Body = Record<string, unknown>;

const imageRepository = (over: Body = {}): Body => ({ ImageIdentifier: IMAGE, ImageRepositoryType: 'ECR', ...over });
const withImage = (over: Body): Body => ({ SourceConfiguration: { ImageRepository: imageRepository(over) } });
const withImageConfig = (config: unknown): Body => withImage({ ImageConfiguration: config });
const codeRepository = { RepositoryUrl: 'https://git.example.com/team/app', SourceCodeVersion: { Type: 'BRANCH', Value: 'main' } };

/** `arn:aws:apprunner:<region>:<account>:` of the services the setup made. */
const prefix = (f: Fixtures): string => (f.svcRunningArn ?? '').replace(/service\/.*$/, '');
const inRegion = (f: Fixtures, region: string): string => prefix(f).replace(/^(arn:aws:apprunner:)[^:]+/, `$1${region}`);
const inAccount = (f: Fixtures, account: string): string => prefix(f).replace(/:[0-9]{12}:$/, `:${account}:`);
const ghostService = (f: Fixtures): string => `${prefix(f)}service/svc-ghost/${ID}`;
const connectionArn = (f: Fixtures): string => `${prefix(f)}connection/svc-conn/${ID}`;
const vpcConnectorArn = (f: Fixtures): string => `${prefix(f)}vpcconnector/svc-vpc/1/${ID}`;
const observabilityArn = (f: Fixtures): string => `${prefix(f)}observabilityconfiguration/svc-obs/1/${ID}`;
const ascArn = (p: string): string => `${p}autoscalingconfiguration/svc-asc/1/${ID}`;
const ROLE = 'arn:aws:iam::123456789012:role/svc-role';
const KMS = 'arn:aws:kms:us-east-1:123456789012:key/01234567-89ab-cdef-0123-456789abcdef';

const API_CODE = { ConfigurationSource: 'API', CodeConfigurationValues: { Runtime: 'NODEJS_22', StartCommand: 'node server.js' } };
const code = (over: Body = {}, rest: Body = {}): Body => ({ CodeRepository: { ...codeRepository, CodeConfiguration: API_CODE, ...over }, ...rest });
const apiValues = (values: Body): Body => code({ CodeConfiguration: { ConfigurationSource: 'API', CodeConfigurationValues: { Runtime: 'NODEJS_22', StartCommand: 'node server.js', ...values } } });

/** A code repository that CreateService must refuse beyond its shape. */
const codeCases: { name: string; source: (f: Fixtures) => Body; error?: string; message: RegExp }[] = [
  { name: 'a CodeRepository without CodeConfiguration', source: () => ({ CodeRepository: codeRepository }), message: /'sourceConfiguration.codeRepository.codeConfiguration' is required when creating a service from a code repository/ },
  { name: 'a SourceDirectory leading out of the repository', source: () => code({ SourceDirectory: 'services/../../etc' }), message: /Invalid 'sourceConfiguration.codeRepository.sourceDirectory': SourceDirectory 'services\/..\/..\/etc' leads outside the repository/ },
  { name: 'a SourceDirectory with a control character', source: () => code({ SourceDirectory: 'services/\tapi' }), message: /'sourceConfiguration.codeRepository.sourceDirectory'.*contains a control character/ },
  { name: 'a RepositoryUrl with a token in it', source: () => code({ RepositoryUrl: 'https://x-access-token:ghp_secret@github.com/team/app.git' }), message: /'sourceConfiguration.codeRepository.repositoryUrl'.*contains credentials; remove them and put the token in a connection/ },
  { name: 'a RepositoryUrl that is a relative path', source: () => code({ RepositoryUrl: 'team/app' }), message: /'sourceConfiguration.codeRepository.repositoryUrl'.*a relative local path is ambiguous/ },
  { name: 'an ssh RepositoryUrl with a host starting with -', source: () => code({ RepositoryUrl: 'ssh://-oProxyCommand=x/app.git' }), message: /'sourceConfiguration.codeRepository.repositoryUrl'.*starting with "-"/ },
  { name: 'a branch name with ..', source: () => code({ SourceCodeVersion: { Type: 'BRANCH', Value: 'main..dev' } }), message: /'sourceConfiguration.codeRepository.sourceCodeVersion.value': Branch 'main..dev' is not a valid git branch name/ },
  { name: 'a branch name starting with -', source: () => code({ SourceCodeVersion: { Type: 'BRANCH', Value: '-main' } }), message: /Branch '-main' is not a valid git branch name/ },
  { name: 'API values without StartCommand', source: () => code({ CodeConfiguration: { ConfigurationSource: 'API', CodeConfigurationValues: { Runtime: 'PYTHON_311' } } }), message: /StartCommand is required to run a source-code service/ },
  { name: 'ConfigurationSource API without CodeConfigurationValues', source: () => code({ CodeConfiguration: { ConfigurationSource: 'API' } }), message: /ConfigurationSource API needs CodeConfigurationValues/ },
  { name: 'API values with Port 0', source: () => apiValues({ Port: '0' }), message: /Port '0' must be a whole number from 1 to 65535/ },
  { name: 'API values with a reserved variable', source: () => apiValues({ RuntimeEnvironmentVariables: { PORT: '80' } }), message: /'PORT' at 'sourceConfiguration.codeRepository.codeConfiguration.codeConfigurationValues.runtimeEnvironmentVariables' is reserved/ },
  { name: 'API values with RuntimeEnvironmentSecrets (not supported yet)', source: () => apiValues({ RuntimeEnvironmentSecrets: { DB: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf' } }), message: /codeConfigurationValues.runtimeEnvironmentSecrets' is not supported by this version of Berth yet/ },
  { name: 'an AccessRoleArn with a code repository', source: () => code({}, { AuthenticationConfiguration: { AccessRoleArn: ROLE } }), message: /'sourceConfiguration.authenticationConfiguration.accessRoleArn' applies to private image registries, not code repositories/ },
  { name: 'a connection that does not exist', source: (f) => code({}, { AuthenticationConfiguration: { ConnectionArn: connectionArn(f) } }), error: 'ResourceNotFoundException', message: /No connection with ARN '.*connection\/svc-conn\/0123456789abcdef0123456789abcdef'/ },
];

/** A constraint on a member CreateService and UpdateService share: tested through both. */
interface SharedCase {
  name: string;
  members: (f: Fixtures) => Body;
  error?: string;
  message: RegExp;
}

const shared: SharedCase[] = [
  // SourceConfiguration: exactly one source, and only images for now.
  { name: 'a SourceConfiguration with no repository', members: () => ({ SourceConfiguration: {} }), message: /Exactly one of 'sourceConfiguration.imageRepository' and 'sourceConfiguration.codeRepository'/ },
  { name: 'a SourceConfiguration with both repositories', members: () => ({ SourceConfiguration: { ImageRepository: imageRepository(), CodeRepository: codeRepository } }), message: /Exactly one of 'sourceConfiguration.imageRepository'/ },
  { name: 'a SourceConfiguration with only AutoDeploymentsEnabled', members: () => ({ SourceConfiguration: { AutoDeploymentsEnabled: false } }), message: /Exactly one of/ },
  { name: 'a null ImageRepository counts as none', members: () => ({ SourceConfiguration: { ImageRepository: null } }), message: /Exactly one of 'sourceConfiguration.imageRepository'/ },
  { name: 'a CodeRepository without RepositoryUrl', members: () => ({ SourceConfiguration: { CodeRepository: { SourceCodeVersion: codeRepository.SourceCodeVersion } } }), message: /'sourceConfiguration.codeRepository.repositoryUrl' failed to satisfy constraint: Member must not be null/ },
  { name: 'a SourceCodeVersion type other than BRANCH', members: () => ({ SourceConfiguration: { CodeRepository: { ...codeRepository, SourceCodeVersion: { Type: 'TAG', Value: 'v1' } } } }), message: /'TAG' at 'sourceConfiguration.codeRepository.sourceCodeVersion.type'.*enum value set: \[BRANCH\]/ },
  { name: 'a SourceConfiguration that is a list', members: () => ({ SourceConfiguration: [imageRepository()] }), message: /at 'sourceConfiguration' must be an object/ },
  { name: 'AutoDeploymentsEnabled as a string', members: () => ({ SourceConfiguration: { ImageRepository: imageRepository(), AutoDeploymentsEnabled: 'yes' } }), message: /Value "yes" at 'sourceConfiguration.autoDeploymentsEnabled' must be a boolean/ },
  { name: 'AutoDeploymentsEnabled as a number', members: () => ({ SourceConfiguration: { ImageRepository: imageRepository(), AutoDeploymentsEnabled: 1 } }), message: /'sourceConfiguration.autoDeploymentsEnabled' must be a boolean/ },
  { name: 'an unknown member of SourceConfiguration', members: () => ({ SourceConfiguration: { ImageRepository: imageRepository(), Branch: 'main' } }), message: /Unknown member 'sourceConfiguration.branch'/ },

  // ImageRepository.
  { name: 'no ImageIdentifier', members: () => ({ SourceConfiguration: { ImageRepository: { ImageRepositoryType: 'ECR' } } }), message: /Value null at 'sourceConfiguration.imageRepository.imageIdentifier' failed to satisfy constraint: Member must not be null/ },
  { name: 'an empty ImageIdentifier', members: () => withImage({ ImageIdentifier: '' }), message: /'sourceConfiguration.imageRepository.imageIdentifier' failed to satisfy constraint: Member must have length greater than or equal to 1/ },
  { name: 'an ImageIdentifier of 1025 characters', members: () => withImage({ ImageIdentifier: `registry.example.com/${'a'.repeat(1004)}` }), message: /'sourceConfiguration.imageRepository.imageIdentifier' failed to satisfy constraint: Member must have length less than or equal to 1024/ },
  { name: 'an ImageIdentifier with upper case in the repository', members: () => withImage({ ImageIdentifier: 'registry.example.com/Team/App:1' }), message: /'registry.example.com\/Team\/App:1' at 'sourceConfiguration.imageRepository.imageIdentifier' is not a valid image reference/ },
  { name: 'an ImageIdentifier with two colons', members: () => withImage({ ImageIdentifier: 'app::1' }), message: /'app::1' at 'sourceConfiguration.imageRepository.imageIdentifier' is not a valid image reference/ },
  { name: 'an ImageIdentifier with an empty tag', members: () => withImage({ ImageIdentifier: 'app:' }), message: /'app:' at 'sourceConfiguration.imageRepository.imageIdentifier' is not a valid image reference/ },
  { name: 'an ImageIdentifier with a space', members: () => withImage({ ImageIdentifier: 'team/my app:1' }), message: /'team\/my app:1' at 'sourceConfiguration.imageRepository.imageIdentifier'/ },
  { name: 'an ImageIdentifier starting with a slash', members: () => withImage({ ImageIdentifier: '/app:1' }), message: /'\/app:1' at 'sourceConfiguration.imageRepository.imageIdentifier' is not a valid image reference/ },
  { name: 'an ImageIdentifier with a tag of 129 characters', members: () => withImage({ ImageIdentifier: `app:${'t'.repeat(129)}` }), message: /at 'sourceConfiguration.imageRepository.imageIdentifier' is not a valid image reference/ },
  { name: 'an ImageIdentifier with a malformed digest', members: () => withImage({ ImageIdentifier: 'app@sha256:xyz' }), message: /'app@sha256:xyz' at 'sourceConfiguration.imageRepository.imageIdentifier' is not a valid image reference/ },
  { name: 'an ImageIdentifier that is a number', members: () => withImage({ ImageIdentifier: 42 }), message: /Value 42 at 'sourceConfiguration.imageRepository.imageIdentifier' must be a string/ },
  { name: 'no ImageRepositoryType', members: () => ({ SourceConfiguration: { ImageRepository: { ImageIdentifier: IMAGE } } }), message: /Value null at 'sourceConfiguration.imageRepository.imageRepositoryType' failed to satisfy constraint: Member must not be null/ },
  { name: 'an ImageRepositoryType outside the enum', members: () => withImage({ ImageRepositoryType: 'DOCKERHUB' }), message: /'DOCKERHUB' at 'sourceConfiguration.imageRepository.imageRepositoryType'.*enum value set: \[ECR, ECR_PUBLIC\]/ },
  { name: 'an ImageRepositoryType in lower case', members: () => withImage({ ImageRepositoryType: 'ecr' }), message: /'ecr' at 'sourceConfiguration.imageRepository.imageRepositoryType'/ },
  { name: 'an unknown member of ImageRepository', members: () => withImage({ Tag: 'latest' }), message: /Unknown member 'sourceConfiguration.imageRepository.tag'/ },
  { name: 'an ImageConfiguration that is a string', members: () => withImageConfig('port=8080'), message: /at 'sourceConfiguration.imageRepository.imageConfiguration' must be an object/ },
  { name: 'an unknown member of ImageConfiguration', members: () => withImageConfig({ Cmd: ['node'] }), message: /Unknown member 'sourceConfiguration.imageRepository.imageConfiguration.cmd'/ },

  // Port: a string holding 1-65535.
  { name: 'a Port that is not a number', members: () => withImageConfig({ Port: 'http' }), message: /'http' at 'sourceConfiguration.imageRepository.imageConfiguration.port' is not a valid port/ },
  { name: 'Port 0', members: () => withImageConfig({ Port: '0' }), message: /'0' at 'sourceConfiguration.imageRepository.imageConfiguration.port' is not a valid port.*1 to 65535/ },
  { name: 'Port 65536', members: () => withImageConfig({ Port: '65536' }), message: /'65536' at 'sourceConfiguration.imageRepository.imageConfiguration.port' is not a valid port/ },
  { name: 'a negative Port', members: () => withImageConfig({ Port: '-1' }), message: /'-1' at 'sourceConfiguration.imageRepository.imageConfiguration.port'/ },
  { name: 'a fractional Port', members: () => withImageConfig({ Port: '80.5' }), message: /'80.5' at 'sourceConfiguration.imageRepository.imageConfiguration.port'/ },
  { name: 'a Port sent as a JSON number', members: () => withImageConfig({ Port: 8080 }), message: /Value 8080 at 'sourceConfiguration.imageRepository.imageConfiguration.port' must be a string/ },

  // StartCommand: one line.
  { name: 'a StartCommand with a newline', members: () => withImageConfig({ StartCommand: 'node server.js\nrm -rf /' }), message: /at 'sourceConfiguration.imageRepository.imageConfiguration.startCommand' failed to satisfy constraint: Member must satisfy regular expression pattern/ },
  { name: 'a StartCommand with a carriage return', members: () => withImageConfig({ StartCommand: 'node\rserver.js' }), message: /at 'sourceConfiguration.imageRepository.imageConfiguration.startCommand' failed to satisfy constraint/ },
  { name: 'an empty StartCommand', members: () => withImageConfig({ StartCommand: '' }), message: /at 'sourceConfiguration.imageRepository.imageConfiguration.startCommand' failed to satisfy constraint: Member must satisfy regular expression pattern/ },
  { name: 'a StartCommand that is a list', members: () => withImageConfig({ StartCommand: ['node', 'server.js'] }), message: /at 'sourceConfiguration.imageRepository.imageConfiguration.startCommand' must be a string/ },

  // Environment variables.
  { name: 'an environment variable name with a space', members: () => withImageConfig({ RuntimeEnvironmentVariables: { 'MY VAR': '1' } }), message: /'MY VAR' at 'sourceConfiguration.imageRepository.imageConfiguration.runtimeEnvironmentVariables' is invalid/ },
  { name: 'an environment variable name starting with a digit', members: () => withImageConfig({ RuntimeEnvironmentVariables: { '1ABC': '1' } }), message: /'1ABC' at 'sourceConfiguration.imageRepository.imageConfiguration.runtimeEnvironmentVariables' is invalid/ },
  { name: 'an environment variable name with =', members: () => withImageConfig({ RuntimeEnvironmentVariables: { 'A=B': '1' } }), message: /'A=B' at 'sourceConfiguration.imageRepository.imageConfiguration.runtimeEnvironmentVariables' is invalid/ },
  { name: 'an empty environment variable name', members: () => withImageConfig({ RuntimeEnvironmentVariables: { '': '1' } }), message: /at 'sourceConfiguration.imageRepository.imageConfiguration.runtimeEnvironmentVariables.key' failed to satisfy constraint: Member must have length greater than or equal to 1/ },
  { name: 'the reserved environment variable PORT', members: () => withImageConfig({ RuntimeEnvironmentVariables: { PORT: '9000' } }), message: /'PORT' at 'sourceConfiguration.imageRepository.imageConfiguration.runtimeEnvironmentVariables' is reserved/ },
  { name: 'an environment variable named AWSAPPRUNNER_…', members: () => withImageConfig({ RuntimeEnvironmentVariables: { AWSAPPRUNNER_REGION: 'x' } }), message: /'AWSAPPRUNNER_REGION' at 'sourceConfiguration.imageRepository.imageConfiguration.runtimeEnvironmentVariables' is reserved/ },
  { name: 'an environment variable named AWSAPPRUNNER', members: () => withImageConfig({ RuntimeEnvironmentVariables: { AWSAPPRUNNER: 'x' } }), message: /'AWSAPPRUNNER' at .*runtimeEnvironmentVariables' is reserved/ },
  { name: 'an environment variable value that is a number', members: () => withImageConfig({ RuntimeEnvironmentVariables: { LEVEL: 3 } }), message: /Value 3 at 'sourceConfiguration.imageRepository.imageConfiguration.runtimeEnvironmentVariables.LEVEL' must be a string/ },
  { name: 'environment variables as a list', members: () => withImageConfig({ RuntimeEnvironmentVariables: [{ Name: 'A', Value: '1' }] }), message: /at 'sourceConfiguration.imageRepository.imageConfiguration.runtimeEnvironmentVariables' must be an object/ },
  { name: 'RuntimeEnvironmentSecrets (not supported yet)', members: () => withImageConfig({ RuntimeEnvironmentSecrets: { DB_PASSWORD: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf' } }), message: /'sourceConfiguration.imageRepository.imageConfiguration.runtimeEnvironmentSecrets' is not supported/ },
  { name: 'a RuntimeEnvironmentSecrets value that is empty', members: () => withImageConfig({ RuntimeEnvironmentSecrets: { DB_PASSWORD: '' } }), message: /at 'sourceConfiguration.imageRepository.imageConfiguration.runtimeEnvironmentSecrets.DB_PASSWORD' failed to satisfy constraint: Member must have length greater than or equal to 1/ },

  // AuthenticationConfiguration.
  { name: 'an AccessRoleArn shorter than 29 characters', members: () => ({ SourceConfiguration: { ImageRepository: imageRepository(), AuthenticationConfiguration: { AccessRoleArn: 'arn:aws:iam::1:role/x' } } }), message: /at 'sourceConfiguration.authenticationConfiguration.accessRoleArn' failed to satisfy constraint: Member must have length greater than or equal to 29/ },
  { name: 'an AccessRoleArn longer than 1024 characters', members: () => ({ SourceConfiguration: { ImageRepository: imageRepository(), AuthenticationConfiguration: { AccessRoleArn: `${ROLE}${'x'.repeat(1000)}` } } }), message: /at 'sourceConfiguration.authenticationConfiguration.accessRoleArn' failed to satisfy constraint: Member must have length less than or equal to 1024/ },
  { name: 'an AccessRoleArn naming a user', members: () => ({ SourceConfiguration: { ImageRepository: imageRepository(), AuthenticationConfiguration: { AccessRoleArn: 'arn:aws:iam::123456789012:user/deployer' } } }), message: /'arn:aws:iam::123456789012:user\/deployer' at 'sourceConfiguration.authenticationConfiguration.accessRoleArn'.*regular expression pattern/ },
  { name: 'an AccessRoleArn of another partition', members: () => ({ SourceConfiguration: { ImageRepository: imageRepository(), AuthenticationConfiguration: { AccessRoleArn: 'arn:gcp:iam::123456789012:role/deployer' } } }), message: /at 'sourceConfiguration.authenticationConfiguration.accessRoleArn'.*regular expression pattern/ },
  { name: 'a ConnectionArn with an image', members: (f) => ({ SourceConfiguration: { ImageRepository: imageRepository(), AuthenticationConfiguration: { ConnectionArn: connectionArn(f) } } }), message: /'sourceConfiguration.authenticationConfiguration.connectionArn' applies to source code repositories, not images/ },
  { name: 'a malformed ConnectionArn', members: () => ({ SourceConfiguration: { ImageRepository: imageRepository(), AuthenticationConfiguration: { ConnectionArn: 'github:team' } } }), message: /'github:team' at 'sourceConfiguration.authenticationConfiguration.connectionArn'.*regular expression pattern/ },
  { name: 'an unknown member of AuthenticationConfiguration', members: () => ({ SourceConfiguration: { ImageRepository: imageRepository(), AuthenticationConfiguration: { Password: 'hunter2' } } }), message: /Unknown member 'sourceConfiguration.authenticationConfiguration.password'/ },

  // InstanceConfiguration.
  { name: 'a Cpu size App Runner lacks', members: () => ({ InstanceConfiguration: { Cpu: '3 vCPU' } }), message: /'3 vCPU' at 'instanceConfiguration.cpu' failed to satisfy constraint: Member must satisfy regular expression pattern/ },
  { name: 'a Cpu of 2 characters', members: () => ({ InstanceConfiguration: { Cpu: '12' } }), message: /'12' at 'instanceConfiguration.cpu' failed to satisfy constraint: Member must have length greater than or equal to 3/ },
  { name: 'a Cpu of 10 characters', members: () => ({ InstanceConfiguration: { Cpu: '0.25 vCPUs' } }), message: /'0.25 vCPUs' at 'instanceConfiguration.cpu' failed to satisfy constraint: Member must have length less than or equal to 9/ },
  { name: 'a Cpu unit in the wrong case', members: () => ({ InstanceConfiguration: { Cpu: '1 VCPU' } }), message: /'1 VCPU' at 'instanceConfiguration.cpu'/ },
  { name: 'a Cpu sent as a JSON number', members: () => ({ InstanceConfiguration: { Cpu: 1024 } }), message: /Value 1024 at 'instanceConfiguration.cpu' must be a string/ },
  { name: 'a Memory size App Runner lacks', members: () => ({ InstanceConfiguration: { Memory: '5 GB' } }), message: /'5 GB' at 'instanceConfiguration.memory' failed to satisfy constraint: Member must satisfy regular expression pattern/ },
  { name: 'a Memory of 1 character', members: () => ({ InstanceConfiguration: { Memory: '2' } }), message: /'2' at 'instanceConfiguration.memory' failed to satisfy constraint: Member must have length greater than or equal to 3/ },
  { name: 'a Memory of 8 characters', members: () => ({ InstanceConfiguration: { Memory: '12288 MB' } }), message: /'12288 MB' at 'instanceConfiguration.memory' failed to satisfy constraint: Member must have length less than or equal to 6/ },
  { name: 'a Memory without a space before GB', members: () => ({ InstanceConfiguration: { Memory: '2GB' } }), message: /'2GB' at 'instanceConfiguration.memory'.*regular expression pattern/ },
  { name: 'Cpu 4 vCPU with Memory 2 GB', members: () => ({ InstanceConfiguration: { Cpu: '4 vCPU', Memory: '2 GB' } }), message: /Cpu '4 vCPU' and Memory '2 GB' at 'instanceConfiguration' is not supported; valid combinations: .*4 vCPU with 8 GB or 10 GB or 12 GB/ },
  { name: 'Cpu 256 with Memory 2048', members: () => ({ InstanceConfiguration: { Cpu: '256', Memory: '2048' } }), message: /Cpu '256' and Memory '2048' at 'instanceConfiguration' is not supported/ },
  { name: 'Cpu 0.5 vCPU with Memory 0.5 GB', members: () => ({ InstanceConfiguration: { Cpu: '0.5 vCPU', Memory: '0.5 GB' } }), message: /Cpu '0.5 vCPU' and Memory '0.5 GB' at 'instanceConfiguration' is not supported/ },
  { name: 'Cpu 4 vCPU alone (with the default 2 GB)', members: () => ({ InstanceConfiguration: { Cpu: '4 vCPU' } }), message: /Cpu '4 vCPU' and Memory '2048' at 'instanceConfiguration' is not supported/ },
  { name: 'Memory 12 GB alone (with the default 1 vCPU)', members: () => ({ InstanceConfiguration: { Memory: '12 GB' } }), message: /Cpu '1024' and Memory '12 GB' at 'instanceConfiguration' is not supported/ },
  { name: 'a null Cpu counts as the default', members: () => ({ InstanceConfiguration: { Cpu: null, Memory: '8 GB' } }), message: /Cpu '1024' and Memory '8 GB' at 'instanceConfiguration' is not supported/ },
  { name: 'an InstanceRoleArn naming a user', members: () => ({ InstanceConfiguration: { InstanceRoleArn: 'arn:aws:iam::123456789012:user/app' } }), message: /'arn:aws:iam::123456789012:user\/app' at 'instanceConfiguration.instanceRoleArn'.*regular expression pattern/ },
  { name: 'an InstanceRoleArn shorter than 29 characters', members: () => ({ InstanceConfiguration: { InstanceRoleArn: 'arn:aws:iam::role/x' } }), message: /at 'instanceConfiguration.instanceRoleArn' failed to satisfy constraint: Member must have length greater than or equal to 29/ },
  { name: 'an InstanceConfiguration that is a list', members: () => ({ InstanceConfiguration: [{ Cpu: '1 vCPU' }] }), message: /at 'instanceConfiguration' must be an object/ },
  { name: 'the member CPU (upper case) in InstanceConfiguration', members: () => ({ InstanceConfiguration: { CPU: '1 vCPU' } }), message: /Unknown member 'instanceConfiguration.cPU'; expected one of: Cpu, Memory, InstanceRoleArn/ },

  // HealthCheckConfiguration.
  { name: 'a health check Protocol outside the enum', members: () => ({ HealthCheckConfiguration: { Protocol: 'UDP' } }), message: /'UDP' at 'healthCheckConfiguration.protocol'.*enum value set: \[TCP, HTTP\]/ },
  { name: 'a health check Protocol in lower case', members: () => ({ HealthCheckConfiguration: { Protocol: 'http' } }), message: /'http' at 'healthCheckConfiguration.protocol'/ },
  { name: 'an empty health check Path', members: () => ({ HealthCheckConfiguration: { Protocol: 'HTTP', Path: '' } }), message: /at 'healthCheckConfiguration.path' failed to satisfy constraint: Member must have length greater than or equal to 1/ },
  ...(['Interval', 'Timeout', 'HealthyThreshold', 'UnhealthyThreshold'] as const).flatMap((member): SharedCase[] => {
    const path = `healthCheckConfiguration.${member.charAt(0).toLowerCase()}${member.slice(1)}`;
    return [
      { name: `health check ${member} 0`, members: () => ({ HealthCheckConfiguration: { [member]: 0 } }), message: new RegExp(`Value '0' at '${path}' failed to satisfy constraint: Member must have value greater than or equal to 1`) },
      { name: `health check ${member} 21`, members: () => ({ HealthCheckConfiguration: { [member]: 21 } }), message: new RegExp(`Value '21' at '${path}' failed to satisfy constraint: Member must have value less than or equal to 20`) },
    ];
  }),
  { name: 'a health check Interval sent as a string', members: () => ({ HealthCheckConfiguration: { Interval: '5' } }), message: /Value "5" at 'healthCheckConfiguration.interval' must be an integer/ },
  { name: 'a fractional health check Timeout', members: () => ({ HealthCheckConfiguration: { Timeout: 2.5 } }), message: /Value 2.5 at 'healthCheckConfiguration.timeout' must be an integer/ },
  { name: 'a HealthCheckConfiguration that is a string', members: () => ({ HealthCheckConfiguration: 'TCP' }), message: /at 'healthCheckConfiguration' must be an object/ },
  { name: 'an unknown member of HealthCheckConfiguration', members: () => ({ HealthCheckConfiguration: { Port: '8080' } }), message: /Unknown member 'healthCheckConfiguration.port'/ },

  // NetworkConfiguration.
  { name: 'an EgressType outside the enum', members: () => ({ NetworkConfiguration: { EgressConfiguration: { EgressType: 'NAT' } } }), message: /'NAT' at 'networkConfiguration.egressConfiguration.egressType'.*enum value set: \[DEFAULT, VPC\]/ },
  { name: 'an IpAddressType outside the enum', members: () => ({ NetworkConfiguration: { IpAddressType: 'IPV6' } }), message: /'IPV6' at 'networkConfiguration.ipAddressType'.*enum value set: \[IPV4, DUAL_STACK\]/ },
  { name: 'VPC egress without a connector', members: () => ({ NetworkConfiguration: { EgressConfiguration: { EgressType: 'VPC' } } }), message: /'networkConfiguration.egressConfiguration.vpcConnectorArn' is required when 'egressType' is VPC/ },
  { name: 'VPC egress with a null connector', members: () => ({ NetworkConfiguration: { EgressConfiguration: { EgressType: 'VPC', VpcConnectorArn: null } } }), message: /'networkConfiguration.egressConfiguration.vpcConnectorArn' is required when 'egressType' is VPC/ },
  { name: 'a connector with DEFAULT egress', members: (f) => ({ NetworkConfiguration: { EgressConfiguration: { EgressType: 'DEFAULT', VpcConnectorArn: vpcConnectorArn(f) } } }), message: /'networkConfiguration.egressConfiguration.vpcConnectorArn' is given but 'egressType' is DEFAULT/ },
  { name: 'a connector without EgressType (DEFAULT)', members: (f) => ({ NetworkConfiguration: { EgressConfiguration: { VpcConnectorArn: vpcConnectorArn(f) } } }), message: /'networkConfiguration.egressConfiguration.vpcConnectorArn' is given but 'egressType' is DEFAULT/ },
  { name: 'a VPC connector that does not exist', members: (f) => ({ NetworkConfiguration: { EgressConfiguration: { EgressType: 'VPC', VpcConnectorArn: vpcConnectorArn(f) } } }), error: 'ResourceNotFoundException', message: /VPC connector '.*vpcconnector\/svc-vpc\/1\/0123456789abcdef0123456789abcdef' at 'networkConfiguration.egressConfiguration.vpcConnectorArn' does not exist/ },
  { name: 'a VpcConnectorArn of another kind of resource', members: (f) => ({ NetworkConfiguration: { EgressConfiguration: { EgressType: 'VPC', VpcConnectorArn: `${prefix(f)}connection/svc-conn/${ID}` } } }), message: /at 'networkConfiguration.egressConfiguration.vpcConnectorArn' is not a VPC connector ARN/ },
  { name: 'a malformed VpcConnectorArn', members: () => ({ NetworkConfiguration: { EgressConfiguration: { EgressType: 'VPC', VpcConnectorArn: 'vpc-123' } } }), message: /'vpc-123' at 'networkConfiguration.egressConfiguration.vpcConnectorArn'.*regular expression pattern/ },
  { name: 'private ingress (not supported yet)', members: () => ({ NetworkConfiguration: { IngressConfiguration: { IsPubliclyAccessible: false } } }), message: /'networkConfiguration.ingressConfiguration.isPubliclyAccessible': false\) are not supported/ },
  { name: 'IsPubliclyAccessible as a string', members: () => ({ NetworkConfiguration: { IngressConfiguration: { IsPubliclyAccessible: 'true' } } }), message: /Value "true" at 'networkConfiguration.ingressConfiguration.isPubliclyAccessible' must be a boolean/ },
  { name: 'an unknown member of EgressConfiguration', members: () => ({ NetworkConfiguration: { EgressConfiguration: { EgressType: 'DEFAULT', SubnetIds: ['subnet-1'] } } }), message: /Unknown member 'networkConfiguration.egressConfiguration.subnetIds'/ },
  { name: 'a NetworkConfiguration that is a number', members: () => ({ NetworkConfiguration: 1 }), message: /Value 1 at 'networkConfiguration' must be an object/ },

  // ObservabilityConfiguration.
  { name: 'observability without ObservabilityEnabled', members: (f) => ({ ObservabilityConfiguration: { ObservabilityConfigurationArn: observabilityArn(f) } }), message: /Value null at 'observabilityConfiguration.observabilityEnabled' failed to satisfy constraint: Member must not be null/ },
  { name: 'observability enabled without an ARN', members: () => ({ ObservabilityConfiguration: { ObservabilityEnabled: true } }), message: /'observabilityConfiguration.observabilityConfigurationArn' is required when 'observabilityConfiguration.observabilityEnabled' is true/ },
  { name: 'observability disabled with an ARN', members: (f) => ({ ObservabilityConfiguration: { ObservabilityEnabled: false, ObservabilityConfigurationArn: observabilityArn(f) } }), message: /'observabilityConfiguration.observabilityConfigurationArn' is given but 'observabilityConfiguration.observabilityEnabled' is false/ },
  { name: 'an observability configuration that does not exist', members: (f) => ({ ObservabilityConfiguration: { ObservabilityEnabled: true, ObservabilityConfigurationArn: observabilityArn(f) } }), error: 'ResourceNotFoundException', message: /No observability configuration '.*:observabilityconfiguration\/svc-obs\/1\/0123456789/ },
  { name: 'an ObservabilityConfigurationArn of another kind', members: (f) => ({ ObservabilityConfiguration: { ObservabilityEnabled: true, ObservabilityConfigurationArn: connectionArn(f) } }), message: /at 'observabilityConfiguration.observabilityConfigurationArn' is not an observability configuration ARN/ },
  { name: 'ObservabilityEnabled as a string', members: () => ({ ObservabilityConfiguration: { ObservabilityEnabled: 'false' } }), message: /Value "false" at 'observabilityConfiguration.observabilityEnabled' must be a boolean/ },

  // AutoScalingConfigurationArn.
  { name: 'a malformed AutoScalingConfigurationArn', members: () => ({ AutoScalingConfigurationArn: 'DefaultConfiguration' }), message: /'DefaultConfiguration' at 'autoScalingConfigurationArn' failed to satisfy constraint: Member must satisfy regular expression pattern/ },
  { name: 'an AutoScalingConfigurationArn of another kind', members: (f) => ({ AutoScalingConfigurationArn: connectionArn(f) }), message: /at 'autoScalingConfigurationArn' is not an auto scaling configuration ARN/ },
  { name: 'an AutoScalingConfigurationArn with revision 0', members: (f) => ({ AutoScalingConfigurationArn: `${prefix(f)}autoscalingconfiguration/DefaultConfiguration/0` }), message: /at 'autoScalingConfigurationArn' is not an auto scaling configuration ARN/ },
  { name: 'an auto scaling configuration that does not exist', members: (f) => ({ AutoScalingConfigurationArn: ascArn(prefix(f)) }), error: 'ResourceNotFoundException', message: /No auto scaling configuration '.*:autoscalingconfiguration\/svc-asc\/1\/0123456789/ },
  { name: 'an auto scaling configuration of another region', members: (f) => ({ AutoScalingConfigurationArn: `${inRegion(f, 'eu-west-3')}autoscalingconfiguration/DefaultConfiguration/1/00000000000000000000000000000001` }), error: 'ResourceNotFoundException', message: /arn:aws:apprunner:eu-west-3:.*autoscalingconfiguration\/DefaultConfiguration/ },
  { name: 'an auto scaling configuration of another account', members: (f) => ({ AutoScalingConfigurationArn: `${inAccount(f, '111122223333')}autoscalingconfiguration/DefaultConfiguration/1/00000000000000000000000000000001` }), error: 'ResourceNotFoundException', message: /:111122223333:autoscalingconfiguration\/DefaultConfiguration/ },
  { name: 'an AutoScalingConfigurationArn that is a list', members: (f) => ({ AutoScalingConfigurationArn: [ascArn(prefix(f))] }), message: /at 'autoScalingConfigurationArn' must be a string/ },
];

const serviceArnCases = (operation: string): InvalidCase[] => [
  { name: 'no ServiceArn', operation, body: () => ({}), error: 'InvalidRequestException', message: /Value null at 'serviceArn' failed to satisfy constraint: Member must not be null/ },
  { name: 'an empty ServiceArn', operation, body: () => ({ ServiceArn: '' }), error: 'InvalidRequestException', message: /at 'serviceArn' failed to satisfy constraint: Member must have length greater than or equal to 1/ },
  { name: 'a malformed ServiceArn', operation, body: () => ({ ServiceArn: 'svc-cases-running' }), error: 'InvalidRequestException', message: /'svc-cases-running' at 'serviceArn' failed to satisfy constraint: Member must satisfy regular expression pattern/ },
  { name: 'a ServiceArn naming a connection', operation, body: (f) => ({ ServiceArn: connectionArn(f) }), error: 'InvalidRequestException', message: /at 'serviceArn' is not a service ARN/ },
  { name: 'a service that does not exist', operation, body: (f) => ({ ServiceArn: ghostService(f) }), error: 'ResourceNotFoundException', message: /No service with ARN '.*service\/svc-ghost\/0123456789abcdef0123456789abcdef'/ },
  { name: 'a ServiceArn with an unknown member', operation, body: (f) => ({ ServiceArn: f.svcRunningArn, Force: true }), error: 'InvalidRequestException', message: /Unknown member 'force'/ },
];

const stateCase = (operation: string, fixture: string, state: string, body: (f: Fixtures) => Body = (f) => ({ ServiceArn: f[fixture] })): InvalidCase => ({
  name: `a ${state} service`,
  operation,
  body,
  error: 'InvalidStateException',
  message: new RegExp(`Cannot ${operation} on service '[a-z-]+' while its status is ${state}`),
});

const deletedCase = (operation: string, body: (f: Fixtures) => Body = (f) => ({ ServiceArn: f.svcDeletedArn })): InvalidCase => ({
  name: 'a DELETED service',
  operation,
  body,
  error: 'ResourceNotFoundException',
  message: new RegExp(`Service '.*service/${NAMES.deleted}/[0-9a-f]{32}' has been deleted`),
});

const listCases = (operation: string, withArn: (f: Fixtures) => Body): InvalidCase[] => [
  { name: 'MaxResults 0', operation, body: (f) => ({ ...withArn(f), MaxResults: 0 }), error: 'InvalidRequestException', message: /Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1/ },
  { name: 'MaxResults 21', operation, body: (f) => ({ ...withArn(f), MaxResults: 21 }), error: 'InvalidRequestException', message: /Value '21' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 20/ },
  { name: 'MaxResults as a string', operation, body: (f) => ({ ...withArn(f), MaxResults: '5' }), error: 'InvalidRequestException', message: /Value "5" at 'maxResults' must be an integer/ },
  { name: 'a NextToken of 51201 characters', operation, body: (f) => ({ ...withArn(f), NextToken: 'A'.repeat(51_201) }), error: 'InvalidRequestException', message: /at 'nextToken' failed to satisfy constraint: Member must have length less than or equal to 51200/ },
  { name: 'a NextToken that is no token', operation, body: (f) => ({ ...withArn(f), NextToken: 'not-a-token' }), error: 'InvalidRequestException', message: /The NextToken 'not-a-token' is invalid/ },
  { name: 'a NextToken that is a number', operation, body: (f) => ({ ...withArn(f), NextToken: 2 }), error: 'InvalidRequestException', message: /Value 2 at 'nextToken' must be a string/ },
];

/** Berth.UpdateServiceSettings: the ServiceArn rules (with a setting, so the lookup is reached) and each setting's limits. */
const settingsCases = (): InvalidCase[] => {
  const operation = 'Berth.UpdateServiceSettings';
  const withArn = (members: Body) => (f: Fixtures): Body => ({ ServiceArn: f.svcRunningArn, ...members });
  const setting = (name: string, members: Body, message: RegExp): InvalidCase => ({ name, operation, body: withArn(members), error: 'InvalidRequestException', message });
  return [
    { name: 'no ServiceArn', operation, body: () => ({ RequestTimeoutSeconds: 60 }), error: 'InvalidRequestException', message: /Value null at 'serviceArn' failed to satisfy constraint: Member must not be null/ },
    { name: 'a malformed ServiceArn', operation, body: () => ({ ServiceArn: 'svc-cases-running', RequestTimeoutSeconds: 60 }), error: 'InvalidRequestException', message: /'svc-cases-running' at 'serviceArn' failed to satisfy constraint: Member must satisfy regular expression pattern/ },
    { name: 'a ServiceArn naming a connection', operation, body: (f) => ({ ServiceArn: connectionArn(f), RequestTimeoutSeconds: 60 }), error: 'InvalidRequestException', message: /at 'serviceArn' is not a service ARN/ },
    { name: 'a service that does not exist', operation, body: (f) => ({ ServiceArn: ghostService(f), RequestTimeoutSeconds: 60 }), error: 'ResourceNotFoundException', message: /No service with ARN '.*service\/svc-ghost\/0123456789abcdef0123456789abcdef'/ },
    setting('no setting', {}, /No setting to change: give at least one of RequestTimeoutSeconds, IdleTimeoutSeconds, StartupTimeoutSeconds, EphemeralStorageMb, ScaleToZeroIdleSeconds/),
    setting('RequestTimeoutSeconds 0', { RequestTimeoutSeconds: 0 }, /Value '0' at 'requestTimeoutSeconds' failed to satisfy constraint: Member must have value greater than or equal to 1/),
    setting('RequestTimeoutSeconds 3601', { RequestTimeoutSeconds: 3601 }, /Value '3601' at 'requestTimeoutSeconds' failed to satisfy constraint: Member must have value less than or equal to 3600/),
    setting('IdleTimeoutSeconds 0', { IdleTimeoutSeconds: 0 }, /Value '0' at 'idleTimeoutSeconds' failed to satisfy constraint: Member must have value greater than or equal to 1/),
    setting('IdleTimeoutSeconds 3601', { IdleTimeoutSeconds: 3601 }, /Value '3601' at 'idleTimeoutSeconds' failed to satisfy constraint: Member must have value less than or equal to 3600/),
    setting('StartupTimeoutSeconds 9', { StartupTimeoutSeconds: 9 }, /Value '9' at 'startupTimeoutSeconds' failed to satisfy constraint: Member must have value greater than or equal to 10/),
    setting('StartupTimeoutSeconds 3601', { StartupTimeoutSeconds: 3601 }, /Value '3601' at 'startupTimeoutSeconds' failed to satisfy constraint: Member must have value less than or equal to 3600/),
    setting('EphemeralStorageMb 63', { EphemeralStorageMb: 63 }, /Value '63' at 'ephemeralStorageMb' failed to satisfy constraint: Member must have value greater than or equal to 64/),
    setting('EphemeralStorageMb 102401', { EphemeralStorageMb: 102_401 }, /Value '102401' at 'ephemeralStorageMb' failed to satisfy constraint: Member must have value less than or equal to 102400/),
    setting('ScaleToZeroIdleSeconds 0', { ScaleToZeroIdleSeconds: 0 }, /Value '0' at 'scaleToZeroIdleSeconds' failed to satisfy constraint: Member must have value greater than or equal to 1/),
    setting('ScaleToZeroIdleSeconds 86401', { ScaleToZeroIdleSeconds: 86_401 }, /Value '86401' at 'scaleToZeroIdleSeconds' failed to satisfy constraint: Member must have value less than or equal to 86400/),
    setting('a fractional ScaleToZeroIdleSeconds', { ScaleToZeroIdleSeconds: 0.5 }, /Value 0.5 at 'scaleToZeroIdleSeconds' must be an integer/),
    setting('a negative RequestTimeoutSeconds', { RequestTimeoutSeconds: -5 }, /Value '-5' at 'requestTimeoutSeconds'/),
    setting('a fractional IdleTimeoutSeconds', { IdleTimeoutSeconds: 2.5 }, /Value 2.5 at 'idleTimeoutSeconds' must be an integer/),
    setting('StartupTimeoutSeconds as a string', { StartupTimeoutSeconds: '60' }, /Value "60" at 'startupTimeoutSeconds' must be an integer/),
    setting('EphemeralStorageMb as a boolean', { EphemeralStorageMb: true }, /Value true at 'ephemeralStorageMb' must be an integer/),
    setting('two settings out of range at once', { RequestTimeoutSeconds: 0, EphemeralStorageMb: 1 }, /^2 validation errors detected: .*'requestTimeoutSeconds'.*; .*'ephemeralStorageMb'/),
    setting('a good setting beside a bad one', { RequestTimeoutSeconds: 60, IdleTimeoutSeconds: 0 }, /^1 validation error detected: Value '0' at 'idleTimeoutSeconds'/),
    setting('an unknown member', { RequestTimeoutSeconds: 60, MemoryMb: 512 }, /Unknown member 'memoryMb'; expected one of: ServiceArn, RequestTimeoutSeconds, IdleTimeoutSeconds, StartupTimeoutSeconds, EphemeralStorageMb, ScaleToZeroIdleSeconds/),
    { name: 'a body that is a JSON list', operation, body: (f) => JSON.stringify([f.svcRunningArn]), error: 'SerializationException', message: /must be a JSON object/ },
  ];
};

const cases: (InvalidCase | InvalidCase[])[] = [
  // CreateService: its own members.
  { name: 'no ServiceName', operation: 'CreateService', body: () => ({ SourceConfiguration: { ImageRepository: imageRepository() } }), error: 'InvalidRequestException', message: /Value null at 'serviceName' failed to satisfy constraint: Member must not be null/ },
  { name: 'no SourceConfiguration', operation: 'CreateService', body: () => ({ ServiceName: 'svc-cases-new' }), error: 'InvalidRequestException', message: /Value null at 'sourceConfiguration' failed to satisfy constraint: Member must not be null/ },
  { name: 'a null SourceConfiguration', operation: 'CreateService', body: () => ({ ServiceName: 'svc-cases-new', SourceConfiguration: null }), error: 'InvalidRequestException', message: /Value null at 'sourceConfiguration' failed to satisfy constraint: Member must not be null/ },
  { name: 'a ServiceName of 3 characters', operation: 'CreateService', body: () => create({ ServiceName: 'svc' }), error: 'InvalidRequestException', message: /Value 'svc' at 'serviceName' failed to satisfy constraint: Member must have length greater than or equal to 4/ },
  { name: 'a ServiceName of 41 characters', operation: 'CreateService', body: () => create({ ServiceName: `svc-${'a'.repeat(37)}` }), error: 'InvalidRequestException', message: /at 'serviceName' failed to satisfy constraint: Member must have length less than or equal to 40/ },
  { name: 'a ServiceName starting with a hyphen', operation: 'CreateService', body: () => create({ ServiceName: '-svc-name' }), error: 'InvalidRequestException', message: /'-svc-name' at 'serviceName' failed to satisfy constraint: Member must satisfy regular expression pattern/ },
  { name: 'a ServiceName starting with an underscore', operation: 'CreateService', body: () => create({ ServiceName: '_svc-name' }), error: 'InvalidRequestException', message: /'_svc-name' at 'serviceName'.*regular expression pattern/ },
  { name: 'a ServiceName with a dot', operation: 'CreateService', body: () => create({ ServiceName: 'svc.name' }), error: 'InvalidRequestException', message: /'svc.name' at 'serviceName'.*regular expression pattern/ },
  { name: 'a ServiceName with a space', operation: 'CreateService', body: () => create({ ServiceName: 'svc name' }), error: 'InvalidRequestException', message: /'svc name' at 'serviceName'.*regular expression pattern/ },
  { name: 'a ServiceName with a non-ASCII letter', operation: 'CreateService', body: () => create({ ServiceName: 'svc-café' }), error: 'InvalidRequestException', message: /'svc-café' at 'serviceName'.*regular expression pattern/ },
  { name: 'a ServiceName that is a number', operation: 'CreateService', body: () => create({ ServiceName: 12345 }), error: 'InvalidRequestException', message: /Value 12345 at 'serviceName' must be a string/ },
  { name: 'the name of a RUNNING service', operation: 'CreateService', body: () => create({ ServiceName: NAMES.running }), error: 'InvalidRequestException', message: /A service named 'svc-cases-running' already exists/ },
  { name: 'the name of a PAUSED service', operation: 'CreateService', body: () => create({ ServiceName: NAMES.paused }), error: 'InvalidRequestException', message: /A service named 'svc-cases-paused' already exists/ },
  { name: 'the name of a CREATE_FAILED service', operation: 'CreateService', body: () => create({ ServiceName: NAMES.failed }), error: 'InvalidRequestException', message: /A service named 'svc-cases-failed' already exists/ },
  { name: 'a KmsKey that is not a KMS key ARN', operation: 'CreateService', body: () => create({ EncryptionConfiguration: { KmsKey: 'alias/berth' } }), error: 'InvalidRequestException', message: /'alias\/berth' at 'encryptionConfiguration.kmsKey' failed to satisfy constraint: Member must satisfy regular expression pattern/ },
  { name: 'a KmsKey with an upper-case key id', operation: 'CreateService', body: () => create({ EncryptionConfiguration: { KmsKey: 'arn:aws:kms:us-east-1:123456789012:key/01234567-89AB-CDEF-0123-456789ABCDEF' } }), error: 'InvalidRequestException', message: /at 'encryptionConfiguration.kmsKey'.*regular expression pattern/ },
  { name: 'a KmsKey longer than 256 characters', operation: 'CreateService', body: () => create({ EncryptionConfiguration: { KmsKey: `${KMS}${'0'.repeat(200)}` } }), error: 'InvalidRequestException', message: /at 'encryptionConfiguration.kmsKey' failed to satisfy constraint: Member must have length less than or equal to 256/ },
  { name: 'an EncryptionConfiguration without KmsKey', operation: 'CreateService', body: () => create({ EncryptionConfiguration: {} }), error: 'InvalidRequestException', message: /Value null at 'encryptionConfiguration.kmsKey' failed to satisfy constraint: Member must not be null/ },
  { name: 'a tag without a Key', operation: 'CreateService', body: () => create({ Tags: [{ Value: 'berth' }] }), error: 'InvalidRequestException', message: /Value null at 'tags.1.member.key' failed to satisfy constraint: Member must not be null/ },
  { name: 'an empty tag key', operation: 'CreateService', body: () => create({ Tags: [{ Key: '', Value: 'x' }] }), error: 'InvalidRequestException', message: /at 'tags.1.member.key' failed to satisfy constraint: Member must have length greater than or equal to 1/ },
  { name: 'a tag key of 129 characters', operation: 'CreateService', body: () => create({ Tags: [{ Key: 'k'.repeat(129), Value: 'x' }] }), error: 'InvalidRequestException', message: /at 'tags.1.member.key' failed to satisfy constraint: Member must have length less than or equal to 128/ },
  { name: 'a tag value of 257 characters', operation: 'CreateService', body: () => create({ Tags: [{ Key: 'team', Value: 'v'.repeat(257) }] }), error: 'InvalidRequestException', message: /at 'tags.1.member.value' failed to satisfy constraint: Member must have length less than or equal to 256/ },
  { name: 'a tag key in the aws: namespace', operation: 'CreateService', body: () => create({ Tags: [{ Key: 'team', Value: 'a' }, { Key: 'aws:createdBy', Value: 'me' }] }), error: 'InvalidRequestException', message: /'aws:createdBy' at 'tags.2.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern/ },
  { name: 'Tags as an object', operation: 'CreateService', body: () => create({ Tags: { team: 'berth' } }), error: 'InvalidRequestException', message: /at 'tags' must be a list/ },
  { name: 'a tag that is a string', operation: 'CreateService', body: () => create({ Tags: ['team=berth'] }), error: 'InvalidRequestException', message: /Value "team=berth" at 'tags.1.member' must be an object/ },
  { name: '51 tags', operation: 'CreateService', body: () => create({ Tags: Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: 'v' })) }), error: 'InvalidRequestException', message: /at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50/ },
  { name: 'an unknown top-level member', operation: 'CreateService', body: () => create({ Description: 'my service' }), error: 'InvalidRequestException', message: /Unknown member 'description'/ },
  { name: 'a member named constructor', operation: 'CreateService', body: () => '{"ServiceName":"svc-cases-new","SourceConfiguration":{"ImageRepository":{"ImageIdentifier":"app:1","ImageRepositoryType":"ECR"}},"constructor":{}}', error: 'InvalidRequestException', message: /Unknown member 'constructor'/ },
  { name: 'a member named __proto__', operation: 'CreateService', body: () => '{"ServiceName":"svc-cases-new","SourceConfiguration":{"ImageRepository":{"ImageIdentifier":"app:1","ImageRepositoryType":"ECR","__proto__":{"x":1}}}}', error: 'InvalidRequestException', message: /Unknown member 'sourceConfiguration.imageRepository.__proto__'/ },
  { name: 'every violation listed at once', operation: 'CreateService', body: () => create({ ServiceName: 'x', HealthCheckConfiguration: { Timeout: 99 } }), error: 'InvalidRequestException', message: /^3 validation errors detected: Value 'x' at 'serviceName'.*length.*; Value 'x' at 'serviceName'.*pattern.*; Value '99' at 'healthCheckConfiguration.timeout'/ },
  { name: 'a body that is not JSON', operation: 'CreateService', body: () => '{"ServiceName": "svc-cases-new",', error: 'SerializationException', message: /The request body is not valid JSON/ },
  { name: 'a body that is a JSON list', operation: 'CreateService', body: () => JSON.stringify([create({})]), error: 'SerializationException', message: /The request body must be a JSON object/ },
  { name: 'a body that is a JSON string', operation: 'CreateService', body: () => '"svc-cases-new"', error: 'SerializationException', message: /The request body must be a JSON object/ },
  { name: 'a body that is null', operation: 'CreateService', body: () => 'null', error: 'SerializationException', message: /The request body must be a JSON object/ },
  { name: 'a body in YAML', operation: 'CreateService', body: () => 'ServiceName: svc-cases-new\n', error: 'SerializationException', message: /The request body is not valid JSON/ },

  // CreateService from a code repository: the rules beyond the shapes.
  ...codeCases.map((c): InvalidCase => ({ name: c.name, operation: 'CreateService', body: (f) => create({ SourceConfiguration: c.source(f) }), error: c.error ?? 'InvalidRequestException', message: c.message })),

  // CreateService and UpdateService: the members they share.
  shared.map((c): InvalidCase => ({ name: c.name, operation: 'CreateService', body: (f) => create(c.members(f)), error: c.error ?? 'InvalidRequestException', message: c.message })),
  shared.map((c): InvalidCase => ({ name: c.name, operation: 'UpdateService', body: (f) => ({ ServiceArn: f.svcRunningArn, ...c.members(f) }), error: c.error ?? 'InvalidRequestException', message: c.message })),

  // UpdateService: what it cannot change, and the service it names.
  serviceArnCases('UpdateService'),
  { name: 'a CodeRepository for a service deployed from an image', operation: 'UpdateService', body: (f) => ({ ServiceArn: f.svcRunningArn, SourceConfiguration: { CodeRepository: { ...codeRepository, CodeConfiguration: API_CODE } } }), error: 'InvalidRequestException', message: /A service deployed from an image cannot switch to a code repository; create a new service for it/ },
  { name: 'a ServiceName (names cannot change)', operation: 'UpdateService', body: (f) => ({ ServiceArn: f.svcRunningArn, ServiceName: 'svc-cases-renamed' }), error: 'InvalidRequestException', message: /Unknown member 'serviceName'/ },
  { name: 'Tags (use TagResource)', operation: 'UpdateService', body: (f) => ({ ServiceArn: f.svcRunningArn, Tags: [{ Key: 'team', Value: 'x' }] }), error: 'InvalidRequestException', message: /Unknown member 'tags'/ },
  { name: 'an EncryptionConfiguration (set only at creation)', operation: 'UpdateService', body: (f) => ({ ServiceArn: f.svcRunningArn, EncryptionConfiguration: { KmsKey: KMS } }), error: 'InvalidRequestException', message: /Unknown member 'encryptionConfiguration'/ },
  stateCase('UpdateService', 'svcPausedArn', 'PAUSED', (f) => ({ ServiceArn: f.svcPausedArn, InstanceConfiguration: { Cpu: '2 vCPU', Memory: '4 GB' } })),
  deletedCase('UpdateService', (f) => ({ ServiceArn: f.svcDeletedArn, InstanceConfiguration: { Cpu: '2 vCPU', Memory: '4 GB' } })),
  { name: 'a body that is not JSON', operation: 'UpdateService', body: () => '{"ServiceArn"', error: 'SerializationException', message: /The request body is not valid JSON/ },

  // DescribeService.
  serviceArnCases('DescribeService'),
  { name: 'a ServiceArn with the right id and another name', operation: 'DescribeService', body: (f) => ({ ServiceArn: (f.svcRunningArn ?? '').replace(NAMES.running, 'svc-cases-other') }), error: 'ResourceNotFoundException', message: /No service with ARN '.*service\/svc-cases-other\/[0-9a-f]{32}'/ },
  { name: 'a ServiceArn of another region', operation: 'DescribeService', body: (f) => ({ ServiceArn: (f.svcRunningArn ?? '').replace(prefix(f), inRegion(f, 'ap-south-1')) }), error: 'ResourceNotFoundException', message: /No service with ARN 'arn:aws:apprunner:ap-south-1:/ },
  { name: 'a ServiceArn of another account', operation: 'DescribeService', body: (f) => ({ ServiceArn: (f.svcRunningArn ?? '').replace(prefix(f), inAccount(f, '999988887777')) }), error: 'ResourceNotFoundException', message: /No service with ARN 'arn:aws:apprunner:[a-z0-9-]+:999988887777:service/ },
  { name: 'a ServiceArn with an extra path part', operation: 'DescribeService', body: (f) => ({ ServiceArn: `${f.svcRunningArn}/extra` }), error: 'InvalidRequestException', message: /at 'serviceArn' is not a service ARN/ },
  { name: 'a ServiceArn of another AWS service', operation: 'DescribeService', body: (f) => ({ ServiceArn: `${prefix(f).replace(':apprunner:', ':ecs:')}service/${NAMES.running}/${ID}` }), error: 'InvalidRequestException', message: /at 'serviceArn' is not a service ARN/ },
  { name: 'a ServiceArn of 1012 characters', operation: 'DescribeService', body: (f) => ({ ServiceArn: `${prefix(f)}service/svc/${'a'.repeat(1012 - prefix(f).length - 12)}` }), error: 'InvalidRequestException', message: /at 'serviceArn' failed to satisfy constraint: Member must have length less than or equal to 1011/ },
  { name: 'a ServiceArn that is a number', operation: 'DescribeService', body: () => ({ ServiceArn: 7 }), error: 'InvalidRequestException', message: /Value 7 at 'serviceArn' must be a string/ },
  { name: 'a body that is a JSON list', operation: 'DescribeService', body: (f) => JSON.stringify([f.svcRunningArn]), error: 'SerializationException', message: /must be a JSON object/ },

  // DeleteService.
  serviceArnCases('DeleteService'),
  deletedCase('DeleteService'),

  // PauseService.
  serviceArnCases('PauseService'),
  stateCase('PauseService', 'svcPausedArn', 'PAUSED'),
  stateCase('PauseService', 'svcFailedArn', 'CREATE_FAILED'),
  deletedCase('PauseService'),

  // ResumeService.
  serviceArnCases('ResumeService'),
  stateCase('ResumeService', 'svcRunningArn', 'RUNNING'),
  stateCase('ResumeService', 'svcFailedArn', 'CREATE_FAILED'),
  deletedCase('ResumeService'),

  // StartDeployment.
  serviceArnCases('StartDeployment'),
  stateCase('StartDeployment', 'svcPausedArn', 'PAUSED'),
  stateCase('StartDeployment', 'svcFailedArn', 'CREATE_FAILED'),
  deletedCase('StartDeployment'),

  // Berth.DescribeOperation (an extension: an operation with its builds).
  { name: 'no OperationId', operation: 'Berth.DescribeOperation', body: (f) => ({ ServiceArn: f.svcRunningArn }), error: 'InvalidRequestException', message: /Value null at 'operationId' failed to satisfy constraint: Member must not be null/ },
  { name: 'no ServiceArn', operation: 'Berth.DescribeOperation', body: () => ({ OperationId: ID }), error: 'InvalidRequestException', message: /Value null at 'serviceArn' failed to satisfy constraint: Member must not be null/ },
  { name: 'an OperationId that is not 32 hex digits', operation: 'Berth.DescribeOperation', body: (f) => ({ ServiceArn: f.svcRunningArn, OperationId: 'latest' }), error: 'InvalidRequestException', message: /'latest' at 'operationId' failed to satisfy constraint: Member must satisfy regular expression pattern/ },
  { name: 'an operation the service does not have', operation: 'Berth.DescribeOperation', body: (f) => ({ ServiceArn: f.svcRunningArn, OperationId: ID }), error: 'ResourceNotFoundException', message: /Service 'svc-cases-running' has no operation '0123456789abcdef0123456789abcdef'/ },
  { name: 'a service that does not exist', operation: 'Berth.DescribeOperation', body: (f) => ({ ServiceArn: ghostService(f), OperationId: ID }), error: 'ResourceNotFoundException', message: /No service with ARN '.*service\/svc-ghost/ },
  { name: 'an unknown member', operation: 'Berth.DescribeOperation', body: (f) => ({ ServiceArn: f.svcRunningArn, OperationId: ID, Follow: true }), error: 'InvalidRequestException', message: /Unknown member 'follow'/ },

  // Berth.UpdateServiceSettings (an extension: timeouts and storage per service).
  settingsCases(),
  deletedCase('Berth.UpdateServiceSettings', (f) => ({ ServiceArn: f.svcDeletedArn, RequestTimeoutSeconds: 60 })),

  // Berth.DescribeServiceSettings.
  serviceArnCases('Berth.DescribeServiceSettings'),

  // Berth.ListServiceEvents (an extension: the service's event log).
  serviceArnCases('Berth.ListServiceEvents'),
  { name: 'MaxResults 0', operation: 'Berth.ListServiceEvents', body: (f) => ({ ServiceArn: f.svcRunningArn, MaxResults: 0 }), error: 'InvalidRequestException', message: /Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1/ },
  { name: 'MaxResults 101', operation: 'Berth.ListServiceEvents', body: (f) => ({ ServiceArn: f.svcRunningArn, MaxResults: 101 }), error: 'InvalidRequestException', message: /Value '101' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100/ },
  { name: 'MaxResults as a string', operation: 'Berth.ListServiceEvents', body: (f) => ({ ServiceArn: f.svcRunningArn, MaxResults: '5' }), error: 'InvalidRequestException', message: /Value "5" at 'maxResults' must be an integer/ },
  { name: 'an empty NextToken', operation: 'Berth.ListServiceEvents', body: (f) => ({ ServiceArn: f.svcRunningArn, NextToken: '' }), error: 'InvalidRequestException', message: /at 'nextToken' failed to satisfy constraint: Member must have length greater than or equal to 1/ },
  { name: 'a NextToken of 1025 characters', operation: 'Berth.ListServiceEvents', body: (f) => ({ ServiceArn: f.svcRunningArn, NextToken: 'A'.repeat(1025) }), error: 'InvalidRequestException', message: /at 'nextToken' failed to satisfy constraint: Member must have length less than or equal to 1024/ },
  { name: 'a NextToken that is no token', operation: 'Berth.ListServiceEvents', body: (f) => ({ ServiceArn: f.svcRunningArn, NextToken: 'not-a-token' }), error: 'InvalidRequestException', message: /The NextToken 'not-a-token' is invalid/ },
  { name: 'a NextToken of ListOperations', operation: 'Berth.ListServiceEvents', body: (f) => ({ ServiceArn: f.svcPausedArn, NextToken: f.svcOperationsToken }), error: 'InvalidRequestException', message: /The NextToken '.*' is invalid/ },
  { name: "a NextToken of another service's events", operation: 'Berth.ListServiceEvents', body: (f) => ({ ServiceArn: f.svcRunningArn, NextToken: f.svcEventsToken }), error: 'InvalidRequestException', message: /does not belong to this listing/ },
  { name: 'a NextToken that is a number', operation: 'Berth.ListServiceEvents', body: (f) => ({ ServiceArn: f.svcRunningArn, NextToken: 2 }), error: 'InvalidRequestException', message: /Value 2 at 'nextToken' must be a string/ },

  // ListServices.
  listCases('ListServices', () => ({})),
  { name: 'a NextToken of ListOperations', operation: 'ListServices', body: (f) => ({ NextToken: f.svcOperationsToken }), error: 'InvalidRequestException', message: /does not belong to this listing/ },
  { name: 'an unknown member', operation: 'ListServices', body: () => ({ Status: 'RUNNING' }), error: 'InvalidRequestException', message: /Unknown member 'status'; expected one of: NextToken, MaxResults/ },
  { name: 'a body that is a number', operation: 'ListServices', body: () => '20', error: 'SerializationException', message: /must be a JSON object/ },

  // ListOperations.
  serviceArnCases('ListOperations'),
  listCases('ListOperations', (f) => ({ ServiceArn: f.svcRunningArn })),
  { name: 'a NextToken of ListServices', operation: 'ListOperations', body: (f) => ({ ServiceArn: f.svcPausedArn, NextToken: f.svcServicesToken }), error: 'InvalidRequestException', message: /does not belong to this listing/ },
  { name: "a NextToken of another service's operations", operation: 'ListOperations', body: (f) => ({ ServiceArn: f.svcRunningArn, NextToken: f.svcOperationsToken }), error: 'InvalidRequestException', message: /does not belong to this listing/ },
  { name: 'a ServiceArn of another region', operation: 'ListOperations', body: (f) => ({ ServiceArn: (f.svcRunningArn ?? '').replace(prefix(f), inRegion(f, 'eu-central-1')) }), error: 'ResourceNotFoundException', message: /No service with ARN 'arn:aws:apprunner:eu-central-1:/ },
];

function create(over: Body): Body {
  return { ServiceName: 'svc-cases-new', SourceConfiguration: { ImageRepository: imageRepository() }, ...over };
}

async function setup(api: ApiHarness): Promise<Record<string, string>> {
  api.runtime.missingImages.add(MISSING_IMAGE);
  const arnOf = async (name: string, image: string): Promise<string> => {
    const out = await api.call('CreateService', { ServiceName: name, SourceConfiguration: { ImageRepository: imageRepository({ ImageIdentifier: image }) } });
    return (out.Service as { ServiceArn: string }).ServiceArn;
  };
  const running = await arnOf(NAMES.running, IMAGE);
  const paused = await arnOf(NAMES.paused, IMAGE);
  const failed = await arnOf(NAMES.failed, MISSING_IMAGE);
  const deleted = await arnOf(NAMES.deleted, IMAGE);
  await api.settle();
  await api.call('PauseService', { ServiceArn: paused });
  await api.call('DeleteService', { ServiceArn: deleted });
  await api.settle();
  const expect = { [running]: 'RUNNING', [paused]: 'PAUSED', [failed]: 'CREATE_FAILED', [deleted]: 'DELETED' };
  for (const [arn, status] of Object.entries(expect)) {
    const actual = ((await api.call('DescribeService', { ServiceArn: arn })).Service as { Status: string }).Status;
    if (actual !== status) throw new Error(`fixture ${arn} is ${actual}, not ${status}`);
  }
  // A token of each listing, to send to the other (the paused service has two operations).
  const services = await api.call('ListServices', { MaxResults: 1 });
  const operations = await api.call('ListOperations', { ServiceArn: paused, MaxResults: 1 });
  // Two events of the paused service's log, written as the reconciler writes them, for a token.
  for (const message of ['first', 'second']) api.cp.store.appendServiceEvent({ serviceId: paused.split('/').at(-1) as string, at: Date.now(), type: 'paused', message });
  const events = await api.call('Berth.ListServiceEvents', { ServiceArn: paused, MaxResults: 1 });
  if (typeof services.NextToken !== 'string' || typeof operations.NextToken !== 'string' || typeof events.NextToken !== 'string') throw new Error('expected a NextToken from every listing');
  return {
    svcRunningArn: running,
    svcPausedArn: paused,
    svcFailedArn: failed,
    svcDeletedArn: deleted,
    svcServicesToken: services.NextToken,
    svcOperationsToken: operations.NextToken,
    svcEventsToken: events.NextToken,
  };
}

export const family: CaseFamily = { name: 'services', setup, cases };

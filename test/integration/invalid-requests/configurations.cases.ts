/**
 * Invalid requests to the auto scaling and observability configuration operations
 * (app-runner-api.md §2.2, §2.4, §3.1, §3.8, §3.10, §3.18): shapes, ARN forms, revision rules,
 * the account default, revisions in use, deleted revisions, quotas and page tokens.
 */
import type { ApiHarness } from '../../support/api-harness.ts';
import type { CaseFamily, Fixtures, InvalidCase } from './types.ts';

const PREFIX = 'arn:aws:apprunner:us-east-1:000000000000:';
const ASC = `${PREFIX}autoscalingconfiguration`;
const OBS = `${PREFIX}observabilityconfiguration`;
const PROVIDED_DEFAULT = `${ASC}/DefaultConfiguration/1/00000000000000000000000000000001`;
const NO_ID = '0123456789abcdef0123456789abcdef';

async function setup(api: ApiHarness): Promise<Record<string, string>> {
  const asc = async (name: string) =>
    ((await api.call('CreateAutoScalingConfiguration', { AutoScalingConfigurationName: name })).AutoScalingConfiguration as { AutoScalingConfigurationArn: string })
      .AutoScalingConfigurationArn;
  const obs = async (name: string) =>
    ((await api.call('CreateObservabilityConfiguration', { ObservabilityConfigurationName: name, TraceConfiguration: { Vendor: 'AWSXRAY' } })).ObservabilityConfiguration as {
      ObservabilityConfigurationArn: string;
    }).ObservabilityConfigurationArn;

  const cfgAsc1 = await asc('cfg-scaling');
  const cfgAsc2 = await asc('cfg-scaling');
  const cfgAscDeleted = await asc('cfg-gone');
  await api.call('DeleteAutoScalingConfiguration', { AutoScalingConfigurationArn: cfgAscDeleted });
  // App Runner allows 5 revisions per name (§5.1): the sixth is over the quota.
  for (let i = 0; i < 5; i += 1) await asc('cfg-full');

  const cfgObs1 = await obs('cfg-tracing');
  const cfgObs2 = await obs('cfg-tracing');
  const cfgObsDeleted = await obs('cfg-obs-gone');
  await api.call('DeleteObservabilityConfiguration', { ObservabilityConfigurationArn: cfgObsDeleted });
  // And 10 revisions per observability configuration name.
  for (let i = 0; i < 10; i += 1) await obs('cfg-obs-full');

  const created = await api.call('CreateService', {
    ServiceName: 'cfg-service',
    SourceConfiguration: { ImageRepository: { ImageIdentifier: 'registry.example.com/app:1', ImageRepositoryType: 'ECR' } },
    AutoScalingConfigurationArn: cfgAsc2,
    ObservabilityConfiguration: { ObservabilityEnabled: true, ObservabilityConfigurationArn: cfgObs1 },
  });
  const cfgService = (created.Service as { ServiceArn: string }).ServiceArn;

  // Tokens of real listings, to send to another listing.
  const cfgAscToken = String((await api.call('ListAutoScalingConfigurations', { LatestOnly: false, MaxResults: 1 })).NextToken);
  const cfgObsToken = String((await api.call('ListObservabilityConfigurations', { LatestOnly: false, MaxResults: 1 })).NextToken);
  return { cfgAsc1, cfgAsc2, cfgAscDeleted, cfgObs1, cfgObs2, cfgObsDeleted, cfgService, cfgAscToken, cfgObsToken };
}

const IR = 'InvalidRequestException';
const RNF = 'ResourceNotFoundException';
const SQE = 'ServiceQuotaExceededException';

/** The ARN checks every operation that takes one configuration ARN makes. */
function arnCases(operation: string, member: string, kind: 'asc' | 'obs'): InvalidCase[] {
  const path = member.charAt(0).toLowerCase() + member.slice(1);
  const base = kind === 'asc' ? ASC : OBS;
  const label = kind === 'asc' ? 'an auto scaling configuration ARN' : 'an observability configuration ARN';
  const other = (f: Fixtures): string => (kind === 'asc' ? f.cfgObs1! : f.cfgAsc1!);
  const name = kind === 'asc' ? 'cfg-scaling' : 'cfg-tracing';
  return [
    { name: 'the ARN missing', operation, body: () => ({}), error: IR, message: new RegExp(`Value null at '${path}' failed to satisfy constraint: Member must not be null`) },
    { name: 'the ARN empty', operation, body: () => ({ [member]: '' }), error: IR, message: new RegExp(`at '${path}' failed to satisfy constraint: Member must have length greater than or equal to 1`) },
    { name: 'the ARN not a string', operation, body: () => ({ [member]: 42 }), error: IR, message: new RegExp(`Value 42 at '${path}' must be a string`) },
    { name: 'the ARN malformed', operation, body: () => ({ [member]: `${name}/1` }), error: IR, message: new RegExp(`'${name}/1' at '${path}' failed to satisfy constraint: Member must satisfy regular expression pattern`) },
    { name: 'the ARN of another kind of configuration', operation, body: (f) => ({ [member]: other(f) }), error: IR, message: new RegExp(`at '${path}' is not ${label}`) },
    { name: 'the ARN of a service', operation, body: (f) => ({ [member]: f.cfgService }), error: IR, message: new RegExp(`service/cfg-service/.*at '${path}' is not ${label}`) },
    { name: 'the ARN of another region', operation, body: () => ({ [member]: `${base.replace('us-east-1', 'eu-west-1')}/${name}` }), error: RNF, message: /eu-west-1.*exists in account 000000000000, region us-east-1/ },
    { name: 'the ARN of another account', operation, body: () => ({ [member]: `${base.replace('000000000000', '111111111111')}/${name}` }), error: RNF, message: /111111111111.*exists in account 000000000000/ },
    { name: 'a revision that is not a number', operation, body: () => ({ [member]: `${base}/${name}/latest` }), error: IR, message: new RegExp(`${name}/latest' at '${path}' is not ${label}`) },
    { name: 'revision 0', operation, body: () => ({ [member]: `${base}/${name}/0` }), error: IR, message: new RegExp(`${name}/0' at '${path}' is not ${label}`) },
    { name: 'the ARN with parts after the id', operation, body: () => ({ [member]: `${base}/${name}/1/${NO_ID}/extra` }), error: IR, message: new RegExp(`at '${path}' is not ${label}: .*<name>\\[/<revision>\\[/<id>\\]\\]`) },
    { name: 'a name that does not exist', operation, body: () => ({ [member]: `${base}/cfg-nobody` }), error: RNF, message: /No .* configuration '.*\/cfg-nobody' exists/ },
    { name: 'a revision that does not exist', operation, body: () => ({ [member]: `${base}/${name}/99` }), error: RNF, message: new RegExp(`'.*/${name}/99' exists`) },
    { name: 'a full ARN whose id is not the revision\'s', operation, body: () => ({ [member]: `${base}/${name}/1/${NO_ID}` }), error: RNF, message: new RegExp(`/${name}/1/${NO_ID}' exists`) },
    { name: 'an unknown member', operation, body: (f) => ({ [member]: kind === 'asc' ? f.cfgAsc1 : f.cfgObs1, Force: true }), error: IR, message: /Unknown member 'force'/ },
  ];
}

/** The checks of a List operation's paging and filter members. */
function listCases(operation: string, nameMember: string | undefined, otherToken: (f: Fixtures) => string, base: Record<string, unknown> | ((f: Fixtures) => Record<string, unknown>) = {}): InvalidCase[] {
  const b = (f: Fixtures): Record<string, unknown> => (typeof base === 'function' ? base(f) : base);
  const cases: InvalidCase[] = [
    { name: 'MaxResults 0', operation, body: (f) => ({ ...b(f), MaxResults: 0 }), error: IR, message: /Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1/ },
    { name: 'MaxResults 101', operation, body: (f) => ({ ...b(f), MaxResults: 101 }), error: IR, message: /Value '101' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100/ },
    { name: 'MaxResults a string', operation, body: (f) => ({ ...b(f), MaxResults: '10' }), error: IR, message: /Value "10" at 'maxResults' must be an integer/ },
    { name: 'NextToken empty', operation, body: (f) => ({ ...b(f), NextToken: '' }), error: IR, message: /at 'nextToken' failed to satisfy constraint: Member must have length greater than or equal to 1/ },
    { name: 'NextToken longer than 1024', operation, body: (f) => ({ ...b(f), NextToken: 'a'.repeat(1025) }), error: IR, message: /at 'nextToken' failed to satisfy constraint: Member must have length less than or equal to 1024/ },
    { name: 'NextToken not a token', operation, body: (f) => ({ ...b(f), NextToken: 'not-a-token' }), error: IR, message: /The NextToken 'not-a-token' is invalid; pass the NextToken of the previous page unchanged/ },
    { name: 'NextToken of another listing', operation, body: (f) => ({ ...b(f), NextToken: otherToken(f) }), error: IR, message: /NextToken .* does not belong to this listing/ },
  ];
  if (nameMember !== undefined) {
    const path = nameMember.charAt(0).toLowerCase() + nameMember.slice(1);
    cases.push(
      { name: 'LatestOnly a string', operation, body: () => ({ LatestOnly: 'true' }), error: IR, message: /Value "true" at 'latestOnly' must be a boolean/ },
      { name: 'the name filter too short', operation, body: () => ({ [nameMember]: 'cfg' }), error: IR, message: new RegExp(`'cfg' at '${path}' failed to satisfy constraint: Member must have length greater than or equal to 4`) },
      { name: 'the name filter with a bad character', operation, body: () => ({ [nameMember]: 'cfg.scaling' }), error: IR, message: new RegExp(`'cfg.scaling' at '${path}' failed to satisfy constraint: Member must satisfy regular expression pattern`) },
    );
  }
  return cases;
}

/** The checks of a Create operation's name and tags. */
function createCases(operation: string, nameMember: string): InvalidCase[] {
  const path = nameMember.charAt(0).toLowerCase() + nameMember.slice(1);
  const named = (extra: Record<string, unknown>) => () => ({ [nameMember]: 'cfg-fresh', ...extra });
  return [
    { name: 'the name missing', operation, body: () => ({}), error: IR, message: new RegExp(`Value null at '${path}' failed to satisfy constraint: Member must not be null`) },
    { name: 'the name too short', operation, body: () => ({ [nameMember]: 'abc' }), error: IR, message: new RegExp(`Value 'abc' at '${path}' failed to satisfy constraint: Member must have length greater than or equal to 4`) },
    { name: 'the name too long', operation, body: () => ({ [nameMember]: 'a'.repeat(33) }), error: IR, message: new RegExp(`at '${path}' failed to satisfy constraint: Member must have length less than or equal to 32`) },
    { name: 'the name starting with a hyphen', operation, body: () => ({ [nameMember]: '-cfg-name' }), error: IR, message: new RegExp(`'-cfg-name' at '${path}' failed to satisfy constraint: Member must satisfy regular expression pattern`) },
    { name: 'the name with a dot', operation, body: () => ({ [nameMember]: 'cfg.name' }), error: IR, message: new RegExp(`'cfg.name' at '${path}'.*regular expression pattern`) },
    { name: 'the name not a string', operation, body: () => ({ [nameMember]: ['cfg-name'] }), error: IR, message: new RegExp(`at '${path}' must be a string`) },
    { name: 'Tags not a list', operation, body: named({ Tags: { team: 'web' } }), error: IR, message: /at 'tags' must be a list/ },
    { name: 'a tag key starting with aws:', operation, body: named({ Tags: [{ Key: 'aws:owner', Value: 'x' }] }), error: IR, message: /'aws:owner' at 'tags.1.member.key'.*regular expression pattern/ },
    { name: 'a tag without a key', operation, body: named({ Tags: [{ Value: 'x' }] }), error: IR, message: /Value null at 'tags.1.member.key' failed to satisfy constraint: Member must not be null/ },
    { name: 'a tag value longer than 256', operation, body: named({ Tags: [{ Key: 'k', Value: 'v'.repeat(257) }] }), error: IR, message: /at 'tags.1.member.value' failed to satisfy constraint: Member must have length less than or equal to 256/ },
    {
      name: 'more than 50 tags',
      operation,
      body: named({ Tags: Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: 'v' })) }),
      error: IR,
      message: /Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50/,
    },
    { name: 'a body that is not JSON', operation, body: () => '{"name": ', error: 'SerializationException', message: /The request body is not valid JSON/ },
  ];
}

export const family: CaseFamily = {
  name: 'auto scaling and observability configurations',
  setup,
  cases: [
    // CreateAutoScalingConfiguration
    createCases('CreateAutoScalingConfiguration', 'AutoScalingConfigurationName'),
    [
      ['MaxConcurrency 0', { MaxConcurrency: 0 }, /Value '0' at 'maxConcurrency' failed to satisfy constraint: Member must have value greater than or equal to 1/],
      ['MaxConcurrency 201', { MaxConcurrency: 201 }, /Value '201' at 'maxConcurrency' failed to satisfy constraint: Member must have value less than or equal to 200/],
      ['MaxConcurrency a string', { MaxConcurrency: '100' }, /Value "100" at 'maxConcurrency' must be an integer/],
      // MinSize 0 is Berth's extension (scale to zero): the floor is 0, not App Runner's 1.
      ['MinSize -1', { MinSize: -1 }, /Value '-1' at 'minSize' failed to satisfy constraint: Member must have value greater than or equal to 0/],
      ['MinSize 26', { MinSize: 26 }, /Value '26' at 'minSize' failed to satisfy constraint: Member must have value less than or equal to 25/],
      ['MinSize not whole', { MinSize: 1.5 }, /Value 1.5 at 'minSize' must be an integer/],
      ['MaxSize 0', { MaxSize: 0 }, /Value '0' at 'maxSize' failed to satisfy constraint: Member must have value greater than or equal to 1/],
      ['MaxSize 0 with MinSize 0', { MinSize: 0, MaxSize: 0 }, /^1 validation error detected: Value '0' at 'maxSize' failed to satisfy constraint: Member must have value greater than or equal to 1/],
      ['MaxSize negative', { MaxSize: -3 }, /Value '-3' at 'maxSize' failed to satisfy constraint/],
      ['MinSize greater than MaxSize', { MinSize: 5, MaxSize: 3 }, /Value '5' at 'minSize' is greater than MaxSize 3 at 'maxSize'; MinSize must be less than or equal to MaxSize/],
      ['MinSize greater than MaxSize by one', { MinSize: 2, MaxSize: 1 }, /Value '2' at 'minSize' is greater than MaxSize 1/],
      ['an unknown member', { MaxInstances: 4 }, /Unknown member 'maxInstances'; expected one of: AutoScalingConfigurationName, MaxConcurrency, MinSize, MaxSize, Tags/],
    ].map(([name, extra, message]): InvalidCase => ({
      name: name as string,
      operation: 'CreateAutoScalingConfiguration',
      body: () => ({ AutoScalingConfigurationName: 'cfg-fresh', ...(extra as object) }),
      error: IR,
      message: message as RegExp,
    })),
    {
      name: 'a sixth revision of a name',
      operation: 'CreateAutoScalingConfiguration',
      body: () => ({ AutoScalingConfigurationName: 'cfg-full' }),
      error: SQE,
      message: /auto scaling configuration 'cfg-full' has reached the quota of 5 active revisions/,
    },

    // DescribeAutoScalingConfiguration
    arnCases('DescribeAutoScalingConfiguration', 'AutoScalingConfigurationArn', 'asc'),

    // DeleteAutoScalingConfiguration
    arnCases('DeleteAutoScalingConfiguration', 'AutoScalingConfigurationArn', 'asc').filter((c) => c.name !== 'an unknown member'),
    [
      { name: 'DeleteAllRevisions not a boolean', body: (f: Fixtures) => ({ AutoScalingConfigurationArn: f.cfgAsc1, DeleteAllRevisions: 'yes' }), error: IR, message: /Value "yes" at 'deleteAllRevisions' must be a boolean/ },
      {
        name: 'DeleteAllRevisions with the .../<name>/<revision> form',
        body: () => ({ AutoScalingConfigurationArn: `${ASC}/cfg-scaling/1`, DeleteAllRevisions: true }),
        error: IR,
        message: /'deleteAllRevisions' is true but '.*cfg-scaling\/1' at 'autoScalingConfigurationArn' names one revision; .*name-only form/,
      },
      { name: 'DeleteAllRevisions with a full ARN', body: (f: Fixtures) => ({ AutoScalingConfigurationArn: f.cfgAsc1, DeleteAllRevisions: true }), error: IR, message: /'deleteAllRevisions' is true but .* names one revision/ },
      { name: 'the account default', body: () => ({ AutoScalingConfigurationArn: PROVIDED_DEFAULT }), error: IR, message: /DefaultConfiguration\/1\/0{31}1' is the account's default for new services; .*UpdateDefaultAutoScalingConfiguration/ },
      { name: 'the account default by name', body: () => ({ AutoScalingConfigurationArn: `${ASC}/DefaultConfiguration`, DeleteAllRevisions: true }), error: IR, message: /is the account's default/ },
      { name: 'a revision a service uses', body: (f: Fixtures) => ({ AutoScalingConfigurationArn: f.cfgAsc2 }), error: IR, message: /cfg-scaling\/2\/[0-9a-f]{32}' is in use by service 'cfg-service'/ },
      { name: 'the latest revision, which a service uses, by name', body: () => ({ AutoScalingConfigurationArn: `${ASC}/cfg-scaling` }), error: IR, message: /is in use by service 'cfg-service'/ },
      { name: 'every revision, one of which a service uses', body: () => ({ AutoScalingConfigurationArn: `${ASC}/cfg-scaling`, DeleteAllRevisions: true }), error: IR, message: /cfg-scaling\/2\/.* is in use by service 'cfg-service'/ },
      { name: 'a revision already deleted', body: (f: Fixtures) => ({ AutoScalingConfigurationArn: f.cfgAscDeleted }), error: RNF, message: /cfg-gone\/1\/[0-9a-f]{32}' has already been deleted/ },
      { name: 'a name whose every revision is deleted', body: () => ({ AutoScalingConfigurationArn: `${ASC}/cfg-gone` }), error: RNF, message: /cfg-gone' exists/ },
      { name: 'an unknown member', body: (f: Fixtures) => ({ AutoScalingConfigurationArn: f.cfgAsc1, DeleteRevisions: true }), error: IR, message: /Unknown member 'deleteRevisions'/ },
    ].map((c): InvalidCase => ({ ...c, operation: 'DeleteAutoScalingConfiguration' })),

    // ListAutoScalingConfigurations
    listCases('ListAutoScalingConfigurations', 'AutoScalingConfigurationName', (f) => f.cfgObsToken!),
    { name: 'an unknown member', operation: 'ListAutoScalingConfigurations', body: () => ({ Name: 'cfg-scaling' }), error: IR, message: /Unknown member 'name'/ },
    { name: 'a body that is a JSON list', operation: 'ListAutoScalingConfigurations', body: () => '[]', error: 'SerializationException', message: /must be a JSON object/ },

    // ListServicesForAutoScalingConfiguration
    arnCases('ListServicesForAutoScalingConfiguration', 'AutoScalingConfigurationArn', 'asc'),
    listCases('ListServicesForAutoScalingConfiguration', undefined, (f) => f.cfgAscToken!, (f) => ({ AutoScalingConfigurationArn: f.cfgAsc2 })),

    // UpdateDefaultAutoScalingConfiguration
    arnCases('UpdateDefaultAutoScalingConfiguration', 'AutoScalingConfigurationArn', 'asc'),
    {
      name: 'a deleted revision',
      operation: 'UpdateDefaultAutoScalingConfiguration',
      body: (f) => ({ AutoScalingConfigurationArn: f.cfgAscDeleted }),
      error: IR,
      message: /cfg-gone\/1\/[0-9a-f]{32}' at 'autoScalingConfigurationArn' has been deleted; only an active revision can be the default/,
    },
    {
      name: 'a deleted revision by .../<name>/<revision>',
      operation: 'UpdateDefaultAutoScalingConfiguration',
      body: () => ({ AutoScalingConfigurationArn: `${ASC}/cfg-gone/1` }),
      error: IR,
      message: /has been deleted/,
    },

    // CreateObservabilityConfiguration
    createCases('CreateObservabilityConfiguration', 'ObservabilityConfigurationName'),
    [
      ['the reserved name DefaultConfiguration', { ObservabilityConfigurationName: 'DefaultConfiguration' }, /Value 'DefaultConfiguration' at 'observabilityConfigurationName' is reserved/],
      ['the reserved name with tracing', { ObservabilityConfigurationName: 'DefaultConfiguration', TraceConfiguration: { Vendor: 'AWSXRAY' } }, /'DefaultConfiguration' .* is reserved .*choose another name/],
      ['an unknown tracing vendor', { TraceConfiguration: { Vendor: 'DATADOG' } }, /Value 'DATADOG' at 'traceConfiguration.vendor' failed to satisfy constraint: Member must satisfy enum value set: \[AWSXRAY\]/],
      ['a lower-case tracing vendor', { TraceConfiguration: { Vendor: 'awsxray' } }, /'awsxray' at 'traceConfiguration.vendor'.*enum value set/],
      ['TraceConfiguration without Vendor', { TraceConfiguration: {} }, /Value null at 'traceConfiguration.vendor' failed to satisfy constraint: Member must not be null/],
      ['TraceConfiguration not an object', { TraceConfiguration: 'AWSXRAY' }, /Value "AWSXRAY" at 'traceConfiguration' must be an object/],
      ['an unknown member in TraceConfiguration', { TraceConfiguration: { Vendor: 'AWSXRAY', SamplingRate: 5 } }, /Unknown member 'traceConfiguration.samplingRate'/],
      ['an unknown member', { LogConfiguration: {} }, /Unknown member 'logConfiguration'; expected one of: ObservabilityConfigurationName, TraceConfiguration, Tags/],
    ].map(([name, extra, message]): InvalidCase => ({
      name: name as string,
      operation: 'CreateObservabilityConfiguration',
      body: () => ({ ObservabilityConfigurationName: 'cfg-fresh', ...(extra as object) }),
      error: IR,
      message: message as RegExp,
    })),
    {
      name: 'an eleventh revision of a name',
      operation: 'CreateObservabilityConfiguration',
      body: () => ({ ObservabilityConfigurationName: 'cfg-obs-full' }),
      error: SQE,
      message: /observability configuration 'cfg-obs-full' has reached the quota of 10 active revisions/,
    },

    // DescribeObservabilityConfiguration
    arnCases('DescribeObservabilityConfiguration', 'ObservabilityConfigurationArn', 'obs'),

    // DeleteObservabilityConfiguration
    arnCases('DeleteObservabilityConfiguration', 'ObservabilityConfigurationArn', 'obs').filter((c) => c.name !== 'an unknown member'),
    [
      { name: 'a revision a service uses', body: (f: Fixtures) => ({ ObservabilityConfigurationArn: f.cfgObs1 }), error: IR, message: /cfg-tracing\/1\/[0-9a-f]{32}' is in use by service 'cfg-service'/ },
      { name: 'a revision a service uses, by .../<name>/<revision>', body: () => ({ ObservabilityConfigurationArn: `${OBS}/cfg-tracing/1` }), error: IR, message: /is in use by service 'cfg-service'/ },
      { name: 'a revision already deleted', body: (f: Fixtures) => ({ ObservabilityConfigurationArn: f.cfgObsDeleted }), error: RNF, message: /cfg-obs-gone\/1\/[0-9a-f]{32}' has already been deleted/ },
      { name: 'a name whose every revision is deleted', body: () => ({ ObservabilityConfigurationArn: `${OBS}/cfg-obs-gone` }), error: RNF, message: /cfg-obs-gone' exists/ },
      // DeleteAllRevisions is an auto scaling configuration member only.
      { name: 'DeleteAllRevisions', body: () => ({ ObservabilityConfigurationArn: `${OBS}/cfg-tracing`, DeleteAllRevisions: true }), error: IR, message: /Unknown member 'deleteAllRevisions'; expected one of: ObservabilityConfigurationArn/ },
    ].map((c): InvalidCase => ({ ...c, operation: 'DeleteObservabilityConfiguration' })),

    // ListObservabilityConfigurations
    listCases('ListObservabilityConfigurations', 'ObservabilityConfigurationName', (f) => f.cfgAscToken!),
    { name: 'an unknown member', operation: 'ListObservabilityConfigurations', body: () => ({ ObservabilityConfigurationNames: ['cfg-tracing'] }), error: IR, message: /Unknown member 'observabilityConfigurationNames'/ },
  ],
};

/**
 * Invalid requests to the tag operations (app-runner-api.md §2.8, §3.17): missing members,
 * keys and values outside their constraints, the reserved `aws:` prefix, ARNs that are
 * malformed, not taggable or name nothing, deleted services, and the 50-tag limit.
 *
 * The services family (which sorts first) made the services; setup gives the PAUSED one 45
 * tags (tagging is allowed on paused services), so six more would pass the limit.
 */
import type { ApiHarness } from '../../support/api-harness.ts';
import type { CaseFamily, Fixtures, InvalidCase } from './types.ts';

const ID = '0123456789abcdef0123456789abcdef';
const EXISTING_TAGS = 45;

/** `arn:aws:apprunner:<region>:<account>:`. */
const prefix = (f: Fixtures): string => (f.svcRunningArn ?? '').replace(/service\/.*$/, '');
const ghostService = (f: Fixtures): string => `${prefix(f)}service/svc-ghost/${ID}`;
const defaultAsc = (f: Fixtures): string => `${prefix(f)}autoscalingconfiguration/DefaultConfiguration/1/00000000000000000000000000000001`;
const tags = (n: number, from = 0): { Key: string; Value: string }[] => Array.from({ length: n }, (_, i) => ({ Key: `svc-tag-${from + i}`, Value: 'v' }));

const IR = 'InvalidRequestException';
const RNF = 'ResourceNotFoundException';

/** The ARN cases every tag operation shares; `extra` completes a valid body. */
const arnCases = (operation: string, extra: Record<string, unknown>): InvalidCase[] => [
  { name: 'no ResourceArn', operation, body: () => ({ ...extra }), error: IR, message: /Value null at 'resourceArn' failed to satisfy constraint: Member must not be null/ },
  { name: 'a malformed ResourceArn', operation, body: () => ({ ResourceArn: 'svc-cases-running', ...extra }), error: IR, message: /'svc-cases-running' at 'resourceArn' failed to satisfy constraint: Member must satisfy regular expression pattern/ },
  { name: 'a ResourceArn that is a number', operation, body: () => ({ ResourceArn: 12, ...extra }), error: IR, message: /Value 12 at 'resourceArn' must be a string/ },
  { name: 'the ARN of a custom domain (not taggable)', operation, body: (f) => ({ ResourceArn: `${prefix(f)}customdomain/svc-cases-running/example-com`, ...extra }), error: IR, message: /at 'resourceArn' is not the ARN of a taggable App Runner resource/ },
  { name: 'the ARN of another AWS service', operation, body: (f) => ({ ResourceArn: `${prefix(f).replace(':apprunner:', ':s3:')}bucket/svc-bucket`, ...extra }), error: IR, message: /at 'resourceArn' is not the ARN of a taggable App Runner resource/ },
  { name: 'a service that does not exist', operation, body: (f) => ({ ResourceArn: ghostService(f), ...extra }), error: RNF, message: /No service with ARN '.*service\/svc-ghost\/0123456789abcdef0123456789abcdef'/ },
  { name: 'a service of another account', operation, body: (f) => ({ ResourceArn: (f.svcRunningArn ?? '').replace(/:[0-9]{12}:/, ':444455556666:'), ...extra }), error: RNF, message: /No service with ARN 'arn:aws:apprunner:[a-z0-9-]+:444455556666:service/ },
  { name: 'a DELETED service', operation, body: (f) => ({ ResourceArn: f.svcDeletedArn, ...extra }), error: RNF, message: /Service '.*service\/svc-cases-deleted\/[0-9a-f]{32}' has been deleted/ },
  { name: 'a connection that does not exist', operation, body: (f) => ({ ResourceArn: `${prefix(f)}connection/svc-conn/${ID}`, ...extra }), error: RNF, message: /No connection with ARN '.*connection\/svc-conn\/0123456789abcdef0123456789abcdef'.*take the full ARN/ },
];

const cases: (InvalidCase | InvalidCase[])[] = [
  // TagResource.
  arnCases('TagResource', { Tags: [{ Key: 'team', Value: 'berth' }] }),
  { name: 'no Tags', operation: 'TagResource', body: (f) => ({ ResourceArn: f.svcRunningArn }), error: IR, message: /Value null at 'tags' failed to satisfy constraint: Member must not be null/ },
  { name: 'Tags as an object', operation: 'TagResource', body: (f) => ({ ResourceArn: f.svcRunningArn, Tags: { team: 'berth' } }), error: IR, message: /Value \{"team":"berth"\} at 'tags' must be a list/ },
  { name: 'a tag without a Key', operation: 'TagResource', body: (f) => ({ ResourceArn: f.svcRunningArn, Tags: [{ Value: 'berth' }] }), error: IR, message: /Value null at 'tags.1.member.key' failed to satisfy constraint: Member must not be null/ },
  { name: 'an empty tag key', operation: 'TagResource', body: (f) => ({ ResourceArn: f.svcRunningArn, Tags: [{ Key: '', Value: 'x' }] }), error: IR, message: /at 'tags.1.member.key' failed to satisfy constraint: Member must have length greater than or equal to 1/ },
  { name: 'a tag key of 129 characters', operation: 'TagResource', body: (f) => ({ ResourceArn: f.svcRunningArn, Tags: [{ Key: 'k'.repeat(129), Value: 'x' }] }), error: IR, message: /at 'tags.1.member.key' failed to satisfy constraint: Member must have length less than or equal to 128/ },
  { name: 'a tag value of 257 characters', operation: 'TagResource', body: (f) => ({ ResourceArn: f.svcRunningArn, Tags: [{ Key: 'team', Value: 'v'.repeat(257) }] }), error: IR, message: /at 'tags.1.member.value' failed to satisfy constraint: Member must have length less than or equal to 256/ },
  { name: 'a tag key in the aws: namespace', operation: 'TagResource', body: (f) => ({ ResourceArn: f.svcRunningArn, Tags: [{ Key: 'team', Value: 'a' }, { Key: 'aws:cloudformation:stack-name', Value: 'x' }] }), error: IR, message: /'aws:cloudformation:stack-name' at 'tags.2.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern/ },
  { name: 'a tag key in the aws: namespace on an auto scaling configuration', operation: 'TagResource', body: (f) => ({ ResourceArn: defaultAsc(f), Tags: [{ Key: 'aws:owner', Value: 'x' }] }), error: IR, message: /'aws:owner' at 'tags.1.member.key'/ },
  { name: 'a tag key that is a number', operation: 'TagResource', body: (f) => ({ ResourceArn: f.svcRunningArn, Tags: [{ Key: 7, Value: 'x' }] }), error: IR, message: /Value 7 at 'tags.1.member.key' must be a string/ },
  { name: 'a tag value that is a boolean', operation: 'TagResource', body: (f) => ({ ResourceArn: f.svcRunningArn, Tags: [{ Key: 'public', Value: true }] }), error: IR, message: /Value true at 'tags.1.member.value' must be a string/ },
  { name: 'an unknown member of a tag', operation: 'TagResource', body: (f) => ({ ResourceArn: f.svcRunningArn, Tags: [{ Key: 'team', Value: 'a', Owner: 'me' }] }), error: IR, message: /Unknown member 'tags.1.member.owner'; expected one of: Key, Value/ },
  { name: '51 tags in one request', operation: 'TagResource', body: (f) => ({ ResourceArn: f.svcRunningArn, Tags: tags(51) }), error: IR, message: /at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50/ },
  { name: `six new tags on a service with ${EXISTING_TAGS}`, operation: 'TagResource', body: (f) => ({ ResourceArn: f.svcPausedArn, Tags: tags(6, 100) }), error: IR, message: /'.*service\/svc-cases-paused\/[0-9a-f]{32}' would have 51 tags; at most 50 are allowed per resource/ },
  { name: 'a partial auto scaling configuration ARN', operation: 'TagResource', body: (f) => ({ ResourceArn: `${prefix(f)}autoscalingconfiguration/DefaultConfiguration`, Tags: [{ Key: 'team', Value: 'a' }] }), error: RNF, message: /No autoscalingconfiguration with ARN '.*autoscalingconfiguration\/DefaultConfiguration'.*take the full ARN/ },
  { name: 'TagKeys instead of Tags', operation: 'TagResource', body: (f) => ({ ResourceArn: f.svcRunningArn, Tags: [], TagKeys: ['team'] }), error: IR, message: /Unknown member 'tagKeys'; expected one of: ResourceArn, Tags/ },

  // UntagResource.
  arnCases('UntagResource', { TagKeys: ['team'] }),
  { name: 'no TagKeys', operation: 'UntagResource', body: (f) => ({ ResourceArn: f.svcRunningArn }), error: IR, message: /Value null at 'tagKeys' failed to satisfy constraint: Member must not be null/ },
  { name: 'TagKeys as a string', operation: 'UntagResource', body: (f) => ({ ResourceArn: f.svcRunningArn, TagKeys: 'team' }), error: IR, message: /Value "team" at 'tagKeys' must be a list/ },
  { name: 'a tag key in the aws: namespace', operation: 'UntagResource', body: (f) => ({ ResourceArn: f.svcRunningArn, TagKeys: ['aws:createdBy'] }), error: IR, message: /'aws:createdBy' at 'tagKeys.1.member' failed to satisfy constraint: Member must satisfy regular expression pattern/ },
  { name: 'an empty tag key', operation: 'UntagResource', body: (f) => ({ ResourceArn: f.svcRunningArn, TagKeys: ['team', ''] }), error: IR, message: /at 'tagKeys.2.member' failed to satisfy constraint: Member must have length greater than or equal to 1/ },
  { name: 'a tag key of 129 characters', operation: 'UntagResource', body: (f) => ({ ResourceArn: f.svcRunningArn, TagKeys: ['k'.repeat(129)] }), error: IR, message: /at 'tagKeys.1.member' failed to satisfy constraint: Member must have length less than or equal to 128/ },
  { name: 'a tag key that is a Tag object', operation: 'UntagResource', body: (f) => ({ ResourceArn: f.svcRunningArn, TagKeys: [{ Key: 'team' }] }), error: IR, message: /Value \{"Key":"team"\} at 'tagKeys.1.member' must be a string/ },
  { name: 'Tags instead of TagKeys', operation: 'UntagResource', body: (f) => ({ ResourceArn: f.svcRunningArn, TagKeys: ['team'], Tags: [{ Key: 'team' }] }), error: IR, message: /Unknown member 'tags'; expected one of: ResourceArn, TagKeys/ },

  // ListTagsForResource.
  arnCases('ListTagsForResource', {}),
  { name: 'an empty ResourceArn', operation: 'ListTagsForResource', body: () => ({ ResourceArn: '' }), error: IR, message: /at 'resourceArn' failed to satisfy constraint: Member must have length greater than or equal to 1/ },
  { name: 'a ResourceArn of 1012 characters', operation: 'ListTagsForResource', body: (f) => ({ ResourceArn: `${prefix(f)}service/svc/${'a'.repeat(1012 - prefix(f).length - 12)}` }), error: IR, message: /at 'resourceArn' failed to satisfy constraint: Member must have length less than or equal to 1011/ },
  { name: 'a service ARN with the right id and another name', operation: 'ListTagsForResource', body: (f) => ({ ResourceArn: (f.svcRunningArn ?? '').replace('svc-cases-running', 'svc-cases-other') }), error: RNF, message: /No service with ARN '.*service\/svc-cases-other\/[0-9a-f]{32}'/ },
  { name: 'an auto scaling configuration that does not exist', operation: 'ListTagsForResource', body: (f) => ({ ResourceArn: `${prefix(f)}autoscalingconfiguration/svc-asc/1/${ID}` }), error: RNF, message: /No autoscalingconfiguration with ARN '.*:autoscalingconfiguration\/svc-asc\/1\/0123456789.*take the full ARN/ },
  { name: 'an unknown member', operation: 'ListTagsForResource', body: (f) => ({ ResourceArn: f.svcRunningArn, MaxResults: 10 }), error: IR, message: /Unknown member 'maxResults'; expected one of: ResourceArn/ },
  { name: 'a body that is not JSON', operation: 'ListTagsForResource', body: (f) => `ResourceArn=${f.svcRunningArn}`, error: 'SerializationException', message: /The request body is not valid JSON/ },
];

async function setup(api: ApiHarness, fixtures: Fixtures): Promise<Record<string, string>> {
  const paused = fixtures.svcPausedArn;
  if (paused === undefined || fixtures.svcRunningArn === undefined || fixtures.svcDeletedArn === undefined) {
    throw new Error('the tags family needs the services family fixtures (svcRunningArn, svcPausedArn, svcDeletedArn)');
  }
  await api.call('TagResource', { ResourceArn: paused, Tags: tags(EXISTING_TAGS) });
  const listed = (await api.call('ListTagsForResource', { ResourceArn: paused })).Tags as unknown[];
  if (listed.length !== EXISTING_TAGS) throw new Error(`expected ${EXISTING_TAGS} tags on ${paused}, found ${listed.length}`);
  return {};
}

export const family: CaseFamily = { name: 'tags', setup, cases };

/**
 * @module
 * Tags on every taggable resource (app-runner-api.md §2.8): services, connections, auto scaling
 * and observability configuration revisions, VPC connectors and VPC ingress connections. A tag
 * is upserted by key; tags are stored by the resource's full ARN.
 */
import { invalidRequest, invalidState, notFound, showValue } from '../core/errors.ts';
import { parseArn } from '../core/ids.ts';
import type { ResourceKind } from '../core/resources.ts';
import { validateInput, type Tag } from '../core/service.ts';
import { serviceByArn } from '../core/service-lookup.ts';
import { assertServiceAllows } from '../core/service-states.ts';
import type { ApiContext, ApiInput, ApiOutput, OperationHandlers } from './api-context.ts';
import { mergeTags } from './service-api.ts';

const TAGGABLE: readonly string[] = ['service', 'connection', 'autoscalingconfiguration', 'observabilityconfiguration', 'vpcconnector', 'vpcingressconnection'];

/** App Runner allows 50 tags per resource (AWS's general tagging limit). */
export const MAX_TAGS_PER_RESOURCE = 50;

export class TagApi {
  readonly #ctx: ApiContext;

  constructor(ctx: ApiContext) {
    this.#ctx = ctx;
  }

  handlers(): OperationHandlers {
    return {
      TagResource: (i) => this.tagResource(i),
      UntagResource: (i) => this.untagResource(i),
      ListTagsForResource: (i) => this.listTagsForResource(i),
    };
  }

  tagResource(input: ApiInput): ApiOutput {
    validateInput('TagResource', input);
    const added = input.Tags as Tag[];
    this.#ctx.store.transaction(() => {
      const arn = this.#taggable(input.ResourceArn as string, 'TagResource');
      const merged = mergeTags(this.#ctx.store.getTags(arn), added);
      if (merged.length > MAX_TAGS_PER_RESOURCE) {
        throw invalidRequest(`Resource ${showValue(arn)} would have ${merged.length} tags; at most ${MAX_TAGS_PER_RESOURCE} are allowed per resource`);
      }
      this.#ctx.store.setTags(arn, merged);
    });
    return {};
  }

  untagResource(input: ApiInput): ApiOutput {
    validateInput('UntagResource', input);
    const removed = new Set(input.TagKeys as string[]);
    this.#ctx.store.transaction(() => {
      const arn = this.#taggable(input.ResourceArn as string, 'UntagResource');
      this.#ctx.store.setTags(arn, this.#ctx.store.getTags(arn).filter((t) => !removed.has(t.Key)));
    });
    return {};
  }

  listTagsForResource(input: ApiInput): ApiOutput {
    validateInput('ListTagsForResource', input);
    const arn = this.#taggable(input.ResourceArn as string, undefined);
    return { Tags: this.#ctx.store.getTags(arn) };
  }

  /** The full ARN of an existing taggable resource; `change` names the action when tags change. */
  #taggable(arn: string, change: 'TagResource' | 'UntagResource' | undefined): string {
    const { store, arn: ctx } = this.#ctx;
    const parsed = parseArn(arn);
    if (parsed === undefined || parsed.service !== 'apprunner' || !TAGGABLE.includes(parsed.resourceType)) {
      throw invalidRequest(`Value ${showValue(arn)} at 'resourceArn' is not the ARN of a taggable App Runner resource (${TAGGABLE.join(', ')})`);
    }
    if (parsed.resourceType === 'service') {
      const service = serviceByArn(store, ctx, arn, 'resourceArn');
      if (service.status === 'DELETED') throw notFound(`Service ${showValue(arn)} has been deleted`);
      if (change !== undefined) assertServiceAllows(service, change);
      return service.arn;
    }
    const resource = store.getResource(parsed.resourceType as ResourceKind, arn);
    if (resource === undefined) {
      throw notFound(`No ${parsed.resourceType} with ARN ${showValue(arn)} exists in account ${ctx.accountId}, region ${ctx.region}; tag operations take the full ARN`);
    }
    if (!resource.live && change !== undefined) throw invalidState(`The ${parsed.resourceType} ${showValue(arn)} has been deleted; its tags can no longer change`);
    return resource.key;
  }
}

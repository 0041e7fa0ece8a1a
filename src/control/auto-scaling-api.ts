/**
 * @module
 * App Runner's auto scaling configuration operations (app-runner-api.md §2.2, §3.8): revisions
 * are created, described, listed and deleted; one ACTIVE revision is the account's default,
 * which services created without an `AutoScalingConfigurationArn` get. Services keep the
 * revision they were given, so changing the default affects only services created later.
 * MinSize may be 0, which App Runner refuses: the service then scales to zero when idle.
 */
import {
  ascHasAssociatedService,
  autoScalingConfigurationSummary,
  DEFAULT_ASC_VALUES,
  describeAutoScalingConfiguration,
  findAutoScalingConfiguration,
  isProvidedAutoScalingConfiguration,
  servicesUsingAutoScalingConfiguration,
  type AutoScalingConfigurationData,
  type AutoScalingConfigurationRecord,
} from '../core/auto-scaling.ts';
import {
  activeRevisions,
  assertRevisionQuotas,
  deletedRevision,
  listedRevisions,
  nextRevisionNumber,
  parseRevisionArn,
} from '../core/configuration-revisions.ts';
import { invalidRequest, notFound, showValue } from '../core/errors.ts';
import { newHexId } from '../core/ids.ts';
import { paginate } from '../core/pagination.ts';
import { resourceArn } from '../core/resources.ts';
import { validateInput, type Tag } from '../core/service.ts';
import type { Store } from '../core/store.ts';
import { memberValue, type ApiContext, type ApiInput, type ApiOutput, type OperationHandlers } from './api-context.ts';
import { mergeTags } from './service-api.ts';

const KIND = 'autoscalingconfiguration';
const ARN_PATH = 'autoScalingConfigurationArn';

export class AutoScalingApi {
  readonly #ctx: ApiContext;

  constructor(ctx: ApiContext) {
    this.#ctx = ctx;
  }

  /** The operations this class answers, by App Runner operation name. */
  handlers(): OperationHandlers {
    return {
      CreateAutoScalingConfiguration: (i) => this.createAutoScalingConfiguration(i),
      DescribeAutoScalingConfiguration: (i) => this.describeAutoScalingConfiguration(i),
      DeleteAutoScalingConfiguration: (i) => this.deleteAutoScalingConfiguration(i),
      ListAutoScalingConfigurations: (i) => this.listAutoScalingConfigurations(i),
      ListServicesForAutoScalingConfiguration: (i) => this.listServicesForAutoScalingConfiguration(i),
      UpdateDefaultAutoScalingConfiguration: (i) => this.updateDefaultAutoScalingConfiguration(i),
    };
  }

  createAutoScalingConfiguration(input: ApiInput): ApiOutput {
    validateInput('CreateAutoScalingConfiguration', input);
    const { store, clock, quotas } = this.#ctx;
    const name = input.AutoScalingConfigurationName as string;
    const maxConcurrency = memberValue<number>(input, 'MaxConcurrency') ?? DEFAULT_ASC_VALUES.maxConcurrency;
    const minSize = memberValue<number>(input, 'MinSize') ?? DEFAULT_ASC_VALUES.minSize;
    const maxSize = memberValue<number>(input, 'MaxSize') ?? DEFAULT_ASC_VALUES.maxSize;
    // MinSize is 0 (Berth's extension: scale to zero) to 25, the default MaxSize, and MaxSize at
    // least 1 (both checked by the shape): only a MaxSize given can be below MinSize.
    if (minSize > maxSize) {
      throw invalidRequest(
        `Value '${minSize}' at 'minSize' is greater than MaxSize ${maxSize} at 'maxSize'; MinSize must be less than or equal to MaxSize: lower MinSize or raise MaxSize`,
      );
    }
    // The shape allows at most 50 tags; a key given twice keeps its last value (§2.8).
    const tags = mergeTags([], memberValue<Tag[]>(input, 'Tags') ?? []);
    const now = clock.now();
    const record = store.transaction(() => {
      const counted = activeRevisions<AutoScalingConfigurationData>(store, KIND).filter((r) => !isProvidedAutoScalingConfiguration(r));
      assertRevisionQuotas(KIND, counted, name, { names: quotas.autoScalingConfigurations, revisionsPerName: quotas.autoScalingConfigurationRevisions });
      const revision = nextRevisionNumber(store, KIND, name);
      const arn = resourceArn(this.#ctx.arn, KIND, name, revision, newHexId());
      const record: AutoScalingConfigurationRecord = {
        kind: KIND,
        key: arn,
        name,
        live: true,
        createdAt: now,
        data: { arn, name, revision, status: 'ACTIVE', createdAt: now, maxConcurrency, minSize, maxSize, isDefault: false },
      };
      store.putResource(record);
      if (tags.length > 0) store.setTags(arn, tags);
      return record;
    });
    return { AutoScalingConfiguration: describeAutoScalingConfiguration(store, record) };
  }

  describeAutoScalingConfiguration(input: ApiInput): ApiOutput {
    validateInput('DescribeAutoScalingConfiguration', input);
    const { store, arn } = this.#ctx;
    const record = findAutoScalingConfiguration(store, arn, input.AutoScalingConfigurationArn as string, ARN_PATH);
    return { AutoScalingConfiguration: describeAutoScalingConfiguration(store, record) };
  }

  deleteAutoScalingConfiguration(input: ApiInput): ApiOutput {
    validateInput('DeleteAutoScalingConfiguration', input);
    const { store, clock } = this.#ctx;
    const arn = input.AutoScalingConfigurationArn as string;
    const now = clock.now();
    const deleted = store.transaction(() => {
      const ref = parseRevisionArn(this.#ctx.arn, KIND, arn, ARN_PATH);
      const all = memberValue<boolean>(input, 'DeleteAllRevisions') === true;
      if (all && ref.revision !== undefined) {
        throw invalidRequest(
          `'deleteAllRevisions' is true but '${arn}' at '${ARN_PATH}' names one revision; to delete every revision pass the name-only form arn:aws:apprunner:<region>:<account>:${KIND}/${ref.name}, or leave DeleteAllRevisions out`,
        );
      }
      const target = this.#find(arn);
      if (target.data.status !== 'ACTIVE') throw notFound(`Auto scaling configuration '${target.data.arn}' has already been deleted`);
      const doomed = all ? activeRevisions<AutoScalingConfigurationData>(store, KIND).filter((r) => r.name === target.name) : [target];
      for (const record of doomed) assertDeletable(store, record);
      for (const record of doomed) store.putResource(deletedRevision(record, now));
      return deletedRevision(target, now);
    });
    return { AutoScalingConfiguration: describeAutoScalingConfiguration(store, deleted) };
  }

  listAutoScalingConfigurations(input: ApiInput): ApiOutput {
    validateInput('ListAutoScalingConfigurations', input);
    const { store } = this.#ctx;
    const name = memberValue<string>(input, 'AutoScalingConfigurationName');
    // The model's default for LatestOnly is true: one entry, the highest revision, per name.
    const latestOnly = memberValue<boolean>(input, 'LatestOnly') ?? true;
    const page = paginate(
      listedRevisions<AutoScalingConfigurationData>(store, KIND, name, latestOnly),
      (r) => r.key,
      JSON.stringify(['ListAutoScalingConfigurations', name ?? null, latestOnly]),
      memberValue<number>(input, 'MaxResults'),
      memberValue<string>(input, 'NextToken'),
    );
    return {
      AutoScalingConfigurationSummaryList: page.items.map((r) => autoScalingConfigurationSummary(r, ascHasAssociatedService(store, r.key))),
      ...(page.nextToken !== undefined && { NextToken: page.nextToken }),
    };
  }

  listServicesForAutoScalingConfiguration(input: ApiInput): ApiOutput {
    validateInput('ListServicesForAutoScalingConfiguration', input);
    const record = this.#find(input.AutoScalingConfigurationArn as string);
    const page = paginate(
      servicesUsingAutoScalingConfiguration(this.#ctx.store, record.key),
      (s) => s.arn,
      JSON.stringify(['ListServicesForAutoScalingConfiguration', record.key]),
      memberValue<number>(input, 'MaxResults'),
      memberValue<string>(input, 'NextToken'),
    );
    return { ServiceArnList: page.items.map((s) => s.arn), ...(page.nextToken !== undefined && { NextToken: page.nextToken }) };
  }

  updateDefaultAutoScalingConfiguration(input: ApiInput): ApiOutput {
    validateInput('UpdateDefaultAutoScalingConfiguration', input);
    const { store } = this.#ctx;
    const updated = store.transaction(() => {
      const target = this.#find(input.AutoScalingConfigurationArn as string);
      if (target.data.status !== 'ACTIVE') {
        throw invalidRequest(`Auto scaling configuration '${target.data.arn}' at '${ARN_PATH}' has been deleted; only an active revision can be the default`);
      }
      // Exactly one ACTIVE revision is the default: the previous one stops being it.
      for (const record of activeRevisions<AutoScalingConfigurationData>(store, KIND)) {
        if (record.data.isDefault && record.key !== target.key) store.putResource({ ...record, data: { ...record.data, isDefault: false } });
      }
      const updated: AutoScalingConfigurationRecord = { ...target, data: { ...target.data, isDefault: true } };
      store.putResource(updated);
      return updated;
    });
    return { AutoScalingConfiguration: describeAutoScalingConfiguration(store, updated) };
  }

  #find(arn: string): AutoScalingConfigurationRecord {
    return findAutoScalingConfiguration(this.#ctx.store, this.#ctx.arn, arn, ARN_PATH);
  }
}

/**
 * Deleting is refused for the account default (new services would have none) and for a
 * revision a live service uses (its scaling would lose its source). InvalidRequestException,
 * not InvalidStateException: the model lists only InvalidRequest, ResourceNotFound and
 * InternalServiceError for DeleteAutoScalingConfiguration, so that is what clients expect.
 */
function assertDeletable(store: Store, record: AutoScalingConfigurationRecord): void {
  if (record.data.isDefault) {
    throw invalidRequest(
      `Auto scaling configuration '${record.data.arn}' is the account's default for new services; make another revision the default (UpdateDefaultAutoScalingConfiguration) before deleting it`,
    );
  }
  const users = servicesUsingAutoScalingConfiguration(store, record.key);
  if (users.length > 0) {
    throw invalidRequest(
      `Auto scaling configuration '${record.data.arn}' is in use by service ${users.map((s) => showValue(s.name)).join(', ')}; give those services another configuration (UpdateService) or delete them first`,
    );
  }
}

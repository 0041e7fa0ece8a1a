/**
 * @module
 * App Runner's observability configuration operations (app-runner-api.md §2.4, §3.10):
 * revisions are created, described, listed and deleted. Services reference a revision by its
 * full ARN (ServiceApi resolves a partial one to the revision it names when it stores it).
 */
import {
  activeRevisions,
  assertRevisionQuotas,
  deletedRevision,
  listedRevisions,
  nextRevisionNumber,
} from '../core/configuration-revisions.ts';
import { invalidRequest, notFound, showValue } from '../core/errors.ts';
import { newHexId } from '../core/ids.ts';
import {
  describeObservabilityConfiguration,
  findObservabilityConfiguration,
  observabilityConfigurationSummary,
  RESERVED_OBSERVABILITY_NAME,
  servicesUsingObservabilityConfiguration,
  type ObservabilityConfigurationData,
  type ObservabilityConfigurationRecord,
  type TraceConfiguration,
} from '../core/observability.ts';
import { paginate } from '../core/pagination.ts';
import { resourceArn } from '../core/resources.ts';
import { validateInput, type Tag } from '../core/service.ts';
import { memberValue, type ApiContext, type ApiInput, type ApiOutput, type OperationHandlers } from './api-context.ts';
import { mergeTags } from './service-api.ts';

const KIND = 'observabilityconfiguration';
const ARN_PATH = 'observabilityConfigurationArn';

export class ObservabilityApi {
  readonly #ctx: ApiContext;

  constructor(ctx: ApiContext) {
    this.#ctx = ctx;
  }

  /** The operations this class answers, by App Runner operation name. */
  handlers(): OperationHandlers {
    return {
      CreateObservabilityConfiguration: (i) => this.createObservabilityConfiguration(i),
      DescribeObservabilityConfiguration: (i) => this.describeObservabilityConfiguration(i),
      DeleteObservabilityConfiguration: (i) => this.deleteObservabilityConfiguration(i),
      ListObservabilityConfigurations: (i) => this.listObservabilityConfigurations(i),
    };
  }

  createObservabilityConfiguration(input: ApiInput): ApiOutput {
    validateInput('CreateObservabilityConfiguration', input);
    const { store, clock, quotas } = this.#ctx;
    const name = input.ObservabilityConfigurationName as string;
    if (name === RESERVED_OBSERVABILITY_NAME) {
      throw invalidRequest(
        `Value ${showValue(name)} at 'observabilityConfigurationName' is reserved for the configuration App Runner provides; it cannot be created nor given revisions: choose another name`,
      );
    }
    const trace = memberValue<TraceConfiguration>(input, 'TraceConfiguration');
    // The shape allows at most 50 tags; a key given twice keeps its last value (§2.8).
    const tags = mergeTags([], memberValue<Tag[]>(input, 'Tags') ?? []);
    const now = clock.now();
    const record = store.transaction(() => {
      const counted = activeRevisions<ObservabilityConfigurationData>(store, KIND);
      assertRevisionQuotas(KIND, counted, name, { names: quotas.observabilityConfigurations, revisionsPerName: quotas.observabilityConfigurationRevisions });
      const revision = nextRevisionNumber(store, KIND, name);
      const arn = resourceArn(this.#ctx.arn, KIND, name, revision, newHexId());
      const record: ObservabilityConfigurationRecord = {
        kind: KIND,
        key: arn,
        name,
        live: true,
        createdAt: now,
        data: { arn, name, revision, status: 'ACTIVE', createdAt: now, ...(trace !== undefined && { traceConfiguration: { Vendor: trace.Vendor } }) },
      };
      store.putResource(record);
      if (tags.length > 0) store.setTags(arn, tags);
      return record;
    });
    return { ObservabilityConfiguration: describeObservabilityConfiguration(store, record) };
  }

  describeObservabilityConfiguration(input: ApiInput): ApiOutput {
    validateInput('DescribeObservabilityConfiguration', input);
    const record = this.#find(input.ObservabilityConfigurationArn as string);
    return { ObservabilityConfiguration: describeObservabilityConfiguration(this.#ctx.store, record) };
  }

  deleteObservabilityConfiguration(input: ApiInput): ApiOutput {
    validateInput('DeleteObservabilityConfiguration', input);
    const { store, clock } = this.#ctx;
    const now = clock.now();
    const deleted = store.transaction(() => {
      const target = this.#find(input.ObservabilityConfigurationArn as string);
      if (target.data.status !== 'ACTIVE') throw notFound(`Observability configuration '${target.data.arn}' has already been deleted`);
      // InvalidRequestException, not InvalidStateException: the model lists only InvalidRequest,
      // ResourceNotFound and InternalServiceError for this operation.
      const users = servicesUsingObservabilityConfiguration(store, target.key);
      if (users.length > 0) {
        throw invalidRequest(
          `Observability configuration '${target.data.arn}' is in use by service ${users.map((s) => showValue(s.name)).join(', ')}; give those services another configuration (UpdateService) or delete them first`,
        );
      }
      const deleted = deletedRevision(target, now);
      store.putResource(deleted);
      return deleted;
    });
    return { ObservabilityConfiguration: describeObservabilityConfiguration(store, deleted) };
  }

  listObservabilityConfigurations(input: ApiInput): ApiOutput {
    validateInput('ListObservabilityConfigurations', input);
    const name = memberValue<string>(input, 'ObservabilityConfigurationName');
    // The model's default for LatestOnly is true: one entry, the highest revision, per name.
    const latestOnly = memberValue<boolean>(input, 'LatestOnly') ?? true;
    const page = paginate(
      listedRevisions<ObservabilityConfigurationData>(this.#ctx.store, KIND, name, latestOnly),
      (r) => r.key,
      JSON.stringify(['ListObservabilityConfigurations', name ?? null, latestOnly]),
      memberValue<number>(input, 'MaxResults'),
      memberValue<string>(input, 'NextToken'),
    );
    return {
      ObservabilityConfigurationSummaryList: page.items.map(observabilityConfigurationSummary),
      ...(page.nextToken !== undefined && { NextToken: page.nextToken }),
    };
  }

  #find(arn: string): ObservabilityConfigurationRecord {
    return findObservabilityConfiguration(this.#ctx.store, this.#ctx.arn, arn, ARN_PATH);
  }
}

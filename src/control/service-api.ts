/**
 * @module
 * App Runner's service operations over the store: validation, state rules and the records they
 * write. Nothing here touches the runtime: the reconciler converges on what these write.
 */
import { BerthError, invalidRequest, invalidState, notFound, showValue } from '../core/errors.ts';
import { newHexId, parseArn, serviceArn, type ArnContext } from '../core/ids.ts';
import { operationSummary, type OperationRecord, type OperationType } from '../core/operation.ts';
import { paginate } from '../core/pagination.ts';
import {
  DEFAULT_AUTO_SCALING,
  configFromCreateInput,
  revisionSpecOf,
  serviceOutput,
  serviceSummary,
  validateInput,
  type CreateServiceInput,
  type ServiceRecord,
} from '../core/service.ts';
import type { Clock } from '../core/clock.ts';
import type { Store } from '../core/store.ts';

export interface ServiceApiOptions extends ArnContext {
  /** The domain service hosts live under: `<name>-<short id>.<domain>`. */
  domain: string;
  /** App Runner's default quota is 30 services per account and region. */
  maxServices: number;
}

type Input = Record<string, unknown>;
type Output = Record<string, unknown>;

export class ServiceApi {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #options: ServiceApiOptions;
  readonly #onChange: () => void;

  /** `onChange` is called after every write, so the reconciler looks at once. */
  constructor(store: Store, clock: Clock, options: ServiceApiOptions, onChange: () => void) {
    this.#store = store;
    this.#clock = clock;
    this.#options = options;
    this.#onChange = onChange;
  }

  /** The operations this class answers, by App Runner operation name. */
  handlers(): Record<string, (input: Input) => Output> {
    return {
      CreateService: (i) => this.createService(i),
      DescribeService: (i) => this.describeService(i),
      DeleteService: (i) => this.deleteService(i),
      ListServices: (i) => this.listServices(i),
      ListOperations: (i) => this.listOperations(i),
    };
  }

  createService(input: Input): Output {
    validateInput('CreateService', input);
    const create = input as CreateServiceInput;
    const config = configFromCreateInput(create, this.#options);
    const now = this.#clock.now();
    const id = newHexId();
    const revisionId = newHexId();
    const service: ServiceRecord = {
      id,
      name: create.ServiceName,
      arn: serviceArn(this.#options, create.ServiceName, id),
      urlHost: `${create.ServiceName.toLowerCase().replaceAll('_', '-')}-${id.slice(0, 8)}.${this.#options.domain}`,
      status: 'OPERATION_IN_PROGRESS',
      config,
      revisionId,
      minSize: DEFAULT_AUTO_SCALING.minSize,
      maxConcurrency: DEFAULT_AUTO_SCALING.maxConcurrency,
      maxSize: DEFAULT_AUTO_SCALING.maxSize,
      tags: (create.Tags as ServiceRecord['tags'] | undefined) ?? [],
      createdAt: now,
      updatedAt: now,
    };
    const operation = this.#newOperation(service, 'CREATE_SERVICE', now);
    this.#store.transaction(() => {
      if (this.#store.findLiveServiceByName(service.name) !== undefined) {
        throw invalidRequest(`A service named ${showValue(service.name)} already exists; choose another ServiceName or delete that service first`);
      }
      const live = this.#store.listLiveServices().length;
      if (live >= this.#options.maxServices) {
        throw new BerthError('ServiceQuotaExceededException', `You have reached the quota of ${this.#options.maxServices} services; delete one to create another`);
      }
      this.#store.insertService(service);
      this.#store.insertRevision({ id: revisionId, serviceId: id, number: 1, spec: revisionSpecOf(config), createdAt: now });
      this.#store.insertOperation(operation);
    });
    this.#onChange();
    return { Service: serviceOutput(service, this.#options), OperationId: operation.id };
  }

  describeService(input: Input): Output {
    validateInput('DescribeService', input);
    return { Service: serviceOutput(this.#serviceByArn(input.ServiceArn as string), this.#options) };
  }

  deleteService(input: Input): Output {
    validateInput('DeleteService', input);
    const now = this.#clock.now();
    const { service, operation } = this.#store.transaction(() => {
      const service = this.#serviceByArn(input.ServiceArn as string);
      if (service.status === 'DELETED') throw notFound(`Service ${showValue(service.arn)} is already deleted`);
      const active = this.#store.activeOperation(service.id);
      if (active !== undefined) {
        throw invalidState(`Service ${showValue(service.name)} has an operation in progress (${active.type} ${active.id}); retry once it has finished`);
      }
      const operation = this.#newOperation(service, 'DELETE_SERVICE', now);
      const updated: ServiceRecord = { ...service, status: 'OPERATION_IN_PROGRESS', updatedAt: now };
      this.#store.updateService(updated);
      this.#store.insertOperation(operation);
      return { service: updated, operation };
    });
    this.#onChange();
    return { Service: serviceOutput(service, this.#options), OperationId: operation.id };
  }

  listServices(input: Input): Output {
    validateInput('ListServices', input);
    const page = paginate(
      this.#store.listLiveServices(),
      (s) => s.id,
      'ListServices',
      input.MaxResults as number | undefined,
      input.NextToken as string | undefined,
    );
    return { ServiceSummaryList: page.items.map(serviceSummary), ...(page.nextToken !== undefined && { NextToken: page.nextToken }) };
  }

  listOperations(input: Input): Output {
    validateInput('ListOperations', input);
    const service = this.#serviceByArn(input.ServiceArn as string);
    const page = paginate(
      this.#store.listOperations(service.id),
      (op) => op.id,
      `ListOperations ${service.arn}`,
      input.MaxResults as number | undefined,
      input.NextToken as string | undefined,
    );
    return { OperationSummaryList: page.items.map(operationSummary), ...(page.nextToken !== undefined && { NextToken: page.nextToken }) };
  }

  #newOperation(service: ServiceRecord, type: OperationType, now: number): OperationRecord {
    return { id: newHexId(), serviceId: service.id, targetArn: service.arn, type, status: 'IN_PROGRESS', startedAt: now, updatedAt: now };
  }

  /** The service an ARN names in this account and region; ResourceNotFoundException otherwise. */
  #serviceByArn(arn: string): ServiceRecord {
    const parsed = parseArn(arn);
    const [name, id] = parsed?.resourceParts ?? [];
    const missing = (): BerthError => notFound(`No service with ARN ${showValue(arn)} exists in account ${this.#options.accountId}, region ${this.#options.region}`);
    if (parsed === undefined || parsed.service !== 'apprunner' || parsed.resourceType !== 'service' || parsed.resourceParts.length !== 2) {
      throw invalidRequest(`Value ${showValue(arn)} at 'serviceArn' is not a service ARN; expected arn:aws:apprunner:<region>:<account>:service/<name>/<id>`);
    }
    if (parsed.region !== this.#options.region || parsed.accountId !== this.#options.accountId || id === undefined) throw missing();
    const service = this.#store.getService(id);
    if (service === undefined || service.name !== name) throw missing();
    return service;
  }
}

/**
 * @module
 * App Runner's service operations over the store (app-runner-api.md §2.1): validation, state
 * rules and the records they write. Nothing here touches the runtime: the reconciler converges
 * on what these write, and finishes the operations they start.
 */
import { createHash } from 'node:crypto';
import { BerthError, invalidRequest, invalidState, notFound, showValue } from '../core/errors.ts';
import {
  ascHasAssociatedService,
  autoScalingConfigurationSummary,
  defaultAutoScalingConfiguration,
  desiredInstancesOf,
  findAutoScalingConfiguration,
  scalingDecisionKey,
  scalingDecisionOutput,
  type AutoScalingConfigurationRecord,
  type ScalingDecisionRecord,
} from '../core/auto-scaling.ts';
import { findRevision } from '../core/configuration-revisions.ts';
import { findConnection } from '../core/connection.ts';
import { newHexId, parseArn } from '../core/ids.ts';
import { readInstanceSummary } from '../core/instance-summary.ts';
import {
  DEPLOYMENT_OPERATION_TYPES,
  OPERATION_EXTENSION_SHAPES,
  operationDetail,
  operationSummary,
  type OperationRecord,
  type OperationType,
} from '../core/operation.ts';
import { assertShape, type Shape } from '../core/model/shape.ts';
import { paginate } from '../core/pagination.ts';
import { resourceArn } from '../core/resources.ts';
import { configFromInput, revisionSpecOf, serviceOutput, serviceSummary, validateInput, type ServiceConfig, type ServiceRecord, type Tag } from '../core/service.ts';
import { crashLoopKey, type CrashLoopState, type StoredServiceEvent } from '../core/service-events.ts';
import { serviceByArn } from '../core/service-lookup.ts';
import { applySettingsUpdate, effectiveSettings, settingsOutput, settingsUpdateOf, SETTING_MEMBERS } from '../core/service-settings.ts';
import { assertServiceAllows, type ServiceAction } from '../core/service-states.ts';
import type { RevisionRecord } from '../core/store.ts';
import { epochSeconds } from '../core/time.ts';
import { memberValue, type ApiContext, type ApiInput, type ApiOutput, type OperationHandlers } from './api-context.ts';

export class ServiceApi {
  readonly #ctx: ApiContext;

  constructor(ctx: ApiContext) {
    this.#ctx = ctx;
  }

  /** The operations this class answers, by App Runner operation name. */
  handlers(): OperationHandlers {
    return {
      CreateService: (i) => this.createService(i),
      UpdateService: (i) => this.updateService(i),
      DescribeService: (i) => this.describeService(i),
      DeleteService: (i) => this.deleteService(i),
      ListServices: (i) => this.listServices(i),
      PauseService: (i) => this.pauseService(i),
      ResumeService: (i) => this.resumeService(i),
      StartDeployment: (i) => this.startDeployment(i),
      ListOperations: (i) => this.listOperations(i),
    };
  }

  createService(input: ApiInput): ApiOutput {
    validateInput('CreateService', input);
    const { store, clock, arn: arnContext, quotas } = this.#ctx;
    const given = configFromInput(input);
    const name = input.ServiceName as string;
    const now = clock.now();
    const id = newHexId();
    const { service, operation } = store.transaction(() => {
      const config = this.#resolveReferences(given);
      const asc = this.#autoScaling(memberValue<string>(input, 'AutoScalingConfigurationArn'));
      if (store.findLiveServiceByName(name) !== undefined) {
        throw invalidRequest(`A service named ${showValue(name)} already exists; choose another ServiceName or delete that service first`);
      }
      if (store.listLiveServices().length >= quotas.services) {
        throw new BerthError('ServiceQuotaExceededException', `You have reached the quota of ${quotas.services} services; delete one to create another`);
      }
      const service: ServiceRecord = withDeploymentCount({
        id,
        name,
        arn: resourceArn(arnContext, 'service', name, id),
        urlHost: `${name.toLowerCase().replaceAll('_', '-')}-${id.slice(0, 8)}.${this.#ctx.domain}`,
        status: 'OPERATION_IN_PROGRESS',
        config,
        revisionId: '',
        ...autoScalingOf(asc),
        createdAt: now,
        updatedAt: now,
      });
      store.insertService(service);
      const revised = this.#newRevision(service, now);
      const tags = memberValue<Tag[]>(input, 'Tags') ?? [];
      if (tags.length > 0) store.setTags(service.arn, mergeTags([], tags));
      const operation = this.#newOperation(revised, 'CREATE_SERVICE', now);
      store.insertOperation(operation);
      return { service: revised, operation };
    });
    this.#ctx.onChange();
    return { Service: this.#output(service), OperationId: operation.id };
  }

  updateService(input: ApiInput): ApiOutput {
    validateInput('UpdateService', input);
    const now = this.#ctx.clock.now();
    return this.#startOperation(input, 'UpdateService', 'UPDATE_SERVICE', now, (service) => {
      const config = this.#resolveReferences(configFromInput(input, service.config));
      const ascArn = memberValue<string>(input, 'AutoScalingConfigurationArn');
      const autoScaling = ascArn === undefined ? {} : autoScalingOf(this.#autoScaling(ascArn));
      // A new revision even when nothing changed: App Runner redeploys on every update.
      return this.#newRevision(withDeploymentCount({ ...service, config, ...autoScaling, status: 'OPERATION_IN_PROGRESS', updatedAt: now }), now);
    });
  }

  describeService(input: ApiInput): ApiOutput {
    validateInput('DescribeService', input);
    return { Service: this.#output(serviceByArn(this.#ctx.store, this.#ctx.arn, input.ServiceArn as string)) };
  }

  deleteService(input: ApiInput): ApiOutput {
    validateInput('DeleteService', input);
    const now = this.#ctx.clock.now();
    return this.#startOperation(input, 'DeleteService', 'DELETE_SERVICE', now, (service) => {
      const ingress = this.#ctx.store
        .listResources('vpcingressconnection')
        .find((r) => r.live && (r.data as { serviceArn?: string }).serviceArn === service.arn);
      if (ingress !== undefined) {
        throw invalidState(`Service ${showValue(service.name)} has the VPC ingress connection ${showValue(ingress.name)}; delete it (DeleteVpcIngressConnection) before the service`);
      }
      return { ...service, status: 'OPERATION_IN_PROGRESS', updatedAt: now };
    });
  }

  pauseService(input: ApiInput): ApiOutput {
    validateInput('PauseService', input);
    const now = this.#ctx.clock.now();
    return this.#startOperation(input, 'PauseService', 'PAUSE_SERVICE', now, (service) => ({ ...service, status: 'OPERATION_IN_PROGRESS', updatedAt: now }));
  }

  resumeService(input: ApiInput): ApiOutput {
    validateInput('ResumeService', input);
    const now = this.#ctx.clock.now();
    // The last deployed revision comes back as it was: no new revision, no rebuild (§5.5). The
    // load it had before the pause says nothing now: it starts again from MinSize (at least 1).
    return this.#startOperation(input, 'ResumeService', 'RESUME_SERVICE', now, (service) => {
      const { desiredInstances: _before, ...resumed } = service;
      return withDeploymentCount({ ...resumed, status: 'OPERATION_IN_PROGRESS', updatedAt: now });
    });
  }

  startDeployment(input: ApiInput): ApiOutput {
    validateInput('StartDeployment', input);
    const now = this.#ctx.clock.now();
    const { OperationId } = this.#startOperation(input, 'StartDeployment', 'START_DEPLOYMENT', now, (service) =>
      // The same configuration, deployed afresh: the image behind the tag is pulled again.
      this.#newRevision(withDeploymentCount({ ...service, status: 'OPERATION_IN_PROGRESS', updatedAt: now }), now),
    );
    return { OperationId };
  }

  listServices(input: ApiInput): ApiOutput {
    validateInput('ListServices', input);
    const page = paginate(
      this.#ctx.store.listLiveServices(),
      (s) => s.id,
      'ListServices',
      input.MaxResults as number | undefined,
      input.NextToken as string | undefined,
    );
    return { ServiceSummaryList: page.items.map(serviceSummary), ...(page.nextToken !== undefined && { NextToken: page.nextToken }) };
  }

  /** Berth's own operations on services (target prefix `Berth`). */
  extensionHandlers(): OperationHandlers {
    return {
      DescribeOperation: (i) => this.describeOperation(i),
      UpdateServiceSettings: (i) => this.updateServiceSettings(i),
      DescribeServiceSettings: (i) => this.describeServiceSettings(i),
      ListServiceEvents: (i) => this.listServiceEvents(i),
    };
  }

  /** An operation with what ListOperations cannot carry: its builds, their commits and output. */
  describeOperation(input: ApiInput): ApiOutput {
    assertShape(OPERATION_EXTENSION_SHAPES.DescribeOperation as Shape, input);
    const service = serviceByArn(this.#ctx.store, this.#ctx.arn, input.ServiceArn as string);
    const operation = this.#ctx.store.listOperations(service.id).find((op) => op.id === input.OperationId);
    if (operation === undefined) throw notFound(`Service ${showValue(service.name)} has no operation ${showValue(input.OperationId)}; ListOperations lists its operations`);
    return { Operation: operationDetail(operation, this.#ctx.store.buildsOfOperation(operation.id)) };
  }

  /**
   * Sets or resets (null) a service's own settings. No operation and no new revision: the
   * reconciler, woken here, hands the timeouts to the router with its next route table and
   * applies the startup limit to any deployment from then on, one in progress included. Allowed
   * in every state but DELETED, an operation in progress too.
   */
  updateServiceSettings(input: ApiInput): ApiOutput {
    assertShape(OPERATION_EXTENSION_SHAPES.UpdateServiceSettings as Shape, input);
    const update = settingsUpdateOf(input);
    const { store } = this.#ctx;
    const service = store.transaction(() => {
      const current = serviceByArn(store, this.#ctx.arn, input.ServiceArn as string);
      if (current.status === 'DELETED') throw notFound(`Service ${showValue(current.arn)} has been deleted`);
      const settings = applySettingsUpdate(current.settings, update);
      const updated: ServiceRecord = { ...current, updatedAt: this.#ctx.clock.now() };
      if (settings === undefined) delete updated.settings;
      else updated.settings = settings;
      store.updateService(updated);
      const changes = Object.entries(update).map(([name, value]) => `${SETTING_MEMBERS[name as keyof typeof SETTING_MEMBERS]} ${value === null ? 'back to the default' : `= ${value}`}`).join(', ');
      store.appendServiceEvent({ serviceId: current.id, at: updated.updatedAt, type: 'settings-changed', message: `Settings changed: ${changes}` });
      return updated;
    });
    this.#ctx.onChange();
    return this.#settingsOutput(service);
  }

  /** The settings in force for a service (its own over the installation's defaults). */
  describeServiceSettings(input: ApiInput): ApiOutput {
    assertShape(OPERATION_EXTENSION_SHAPES.DescribeServiceSettings as Shape, input);
    return this.#settingsOutput(serviceByArn(this.#ctx.store, this.#ctx.arn, input.ServiceArn as string));
  }

  /**
   * A service's event log, newest first. Pages by the events' sequence numbers, not by position,
   * so events written between two pages neither repeat nor shift the listing; the oldest are
   * trimmed by the store (SERVICE_EVENTS_KEPT per service). Like ListOperations, it answers for
   * a DELETED service too: its log says how it ended.
   */
  listServiceEvents(input: ApiInput): ApiOutput {
    assertShape(OPERATION_EXTENSION_SHAPES.ListServiceEvents as Shape, input);
    const service = serviceByArn(this.#ctx.store, this.#ctx.arn, input.ServiceArn as string);
    const scope = `ListServiceEvents ${service.arn}`;
    const beforeSeq = typeof input.NextToken === 'string' ? eventCursorOf(input.NextToken, scope) : undefined;
    const max = typeof input.MaxResults === 'number' ? input.MaxResults : DEFAULT_EVENTS_PAGE;
    // One more than the page, to know whether another page follows.
    const events = this.#ctx.store.listServiceEvents(service.id, max + 1, beforeSeq);
    const page = events.slice(0, max);
    const last = page.at(-1);
    return {
      Events: page.map(eventOutput),
      ...(events.length > max && last !== undefined && { NextToken: eventCursorToken(last.seq, scope) }),
    };
  }

  listOperations(input: ApiInput): ApiOutput {
    validateInput('ListOperations', input);
    const service = serviceByArn(this.#ctx.store, this.#ctx.arn, input.ServiceArn as string);
    const page = paginate(
      this.#ctx.store.listOperations(service.id),
      (op) => op.id,
      `ListOperations ${service.arn}`,
      input.MaxResults as number | undefined,
      input.NextToken as string | undefined,
    );
    return { OperationSummaryList: page.items.map(operationSummary), ...(page.nextToken !== undefined && { NextToken: page.nextToken }) };
  }

  /**
   * The shared path of the operations on an existing service: find it, check its state allows
   * `action`, write what `change` makes of it and a new operation, in one transaction.
   */
  #startOperation(input: ApiInput, action: ServiceAction, type: OperationType, now: number, change: (service: ServiceRecord) => ServiceRecord): { Service: ApiOutput; OperationId: string } {
    const { store } = this.#ctx;
    const { service, operation } = store.transaction(() => {
      const current = serviceByArn(store, this.#ctx.arn, input.ServiceArn as string);
      if (current.status === 'DELETED') throw notFound(`Service ${showValue(current.arn)} has been deleted`);
      const active = store.activeOperation(current.id);
      if (active !== undefined) {
        throw invalidState(`Cannot ${action} on service ${showValue(current.name)}: its ${active.type} operation ${active.id} is in progress; retry once it has finished`);
      }
      assertServiceAllows(current, action);
      const service = change(current);
      store.updateService(service);
      const operation = this.#newOperation(service, type, now);
      store.insertOperation(operation);
      return { service, operation };
    });
    this.#ctx.onChange();
    return { Service: this.#output(service), OperationId: operation.id };
  }

  /** Records the service's configuration as its next revision and points the service at it. */
  #newRevision(service: ServiceRecord, now: number): ServiceRecord {
    const previous = this.#ctx.store.listRevisions(service.id)[0];
    const revision: RevisionRecord = {
      id: newHexId(),
      serviceId: service.id,
      number: (previous?.number ?? 0) + 1,
      spec: revisionSpecOf(service.config),
      config: service.config,
      autoScaling: { arn: service.autoScalingConfigurationArn, minSize: service.minSize, maxConcurrency: service.maxConcurrency, maxSize: service.maxSize },
      createdAt: now,
    };
    this.#ctx.store.insertRevision(revision);
    const updated = { ...service, revisionId: revision.id };
    this.#ctx.store.updateService(updated);
    return updated;
  }

  #newOperation(service: ServiceRecord, type: OperationType, now: number): OperationRecord {
    return { id: newHexId(), serviceId: service.id, targetArn: service.arn, type, status: 'IN_PROGRESS', startedAt: now, updatedAt: now };
  }

  /** The configuration an `AutoScalingConfigurationArn` names (full or partial), or the account default. */
  #autoScaling(arn: string | undefined): AutoScalingConfigurationRecord {
    const { store, arn: ctx } = this.#ctx;
    if (arn === undefined) return defaultAutoScalingConfiguration(store);
    const found = findAutoScalingConfiguration(store, ctx, arn, 'autoScalingConfigurationArn');
    if (found.data.status !== 'ACTIVE') {
      throw invalidRequest(`Auto scaling configuration ${showValue(found.data.arn)} at 'autoScalingConfigurationArn' has been deleted; use an active revision`);
    }
    return found;
  }

  /**
   * The VPC connector and observability configuration a configuration names must exist and be
   * active; a partial observability ARN is stored as the full ARN of the revision it names.
   */
  #resolveReferences(config: ServiceConfig): ServiceConfig {
    const { store } = this.#ctx;
    const connectionArn = config.SourceConfiguration.AuthenticationConfiguration?.ConnectionArn;
    if (connectionArn !== undefined) {
      const connection = findConnection(store, this.#ctx.arn, connectionArn, 'sourceConfiguration.authenticationConfiguration.connectionArn');
      if (connection.data.status !== 'AVAILABLE') {
        throw invalidRequest(`Connection ${showValue(connection.name)} at 'sourceConfiguration.authenticationConfiguration.connectionArn' is ${connection.data.status}; complete its handshake (Berth.CompleteConnectionHandshake) before using it`);
      }
    }
    const connector = config.NetworkConfiguration.EgressConfiguration.VpcConnectorArn;
    if (connector !== undefined) {
      if (parseArn(connector)?.resourceType !== 'vpcconnector') {
        throw invalidRequest(`Value ${showValue(connector)} at 'networkConfiguration.egressConfiguration.vpcConnectorArn' is not a VPC connector ARN; expected arn:aws:apprunner:<region>:<account>:vpcconnector/<name>/<revision>/<id>`);
      }
      const found = store.getResource('vpcconnector', connector);
      if (found === undefined || !found.live) {
        throw notFound(`VPC connector ${showValue(connector)} at 'networkConfiguration.egressConfiguration.vpcConnectorArn' does not exist; create it with CreateVpcConnector (a full ARN is required)`);
      }
    }
    const observability = config.ObservabilityConfiguration.ObservabilityConfigurationArn;
    if (observability !== undefined) {
      const found = findRevision(store, this.#ctx.arn, 'observabilityconfiguration', observability, 'observabilityConfiguration.observabilityConfigurationArn');
      if (found.data.status !== 'ACTIVE') {
        throw invalidRequest(`Observability configuration ${showValue(found.data.arn)} at 'observabilityConfiguration.observabilityConfigurationArn' has been deleted; use an active revision`);
      }
      return { ...config, ObservabilityConfiguration: { ObservabilityEnabled: true, ObservabilityConfigurationArn: found.data.arn } };
    }
    return config;
  }

  /**
   * The `Service` of every service operation's output: App Runner's members, then Berth's
   * extensions (clients that know only App Runner drop them): `Settings`, `LastDeployment` (so a
   * failed or rolled-back deployment shows here, not only in ListOperations), `CrashLoop`
   * while the reconciler is backing off a revision whose instances keep failing, and `Scaling`:
   * the instances the autoscaler wants, what runs of each revision, and its last decision.
   */
  #output(service: ServiceRecord): ApiOutput {
    const { store } = this.#ctx;
    const asc = store.getResource('autoscalingconfiguration', service.autoScalingConfigurationArn) as AutoScalingConfigurationRecord | undefined;
    if (asc === undefined) throw new Error(`service ${service.name} refers to the missing auto scaling configuration ${service.autoScalingConfigurationArn}`);
    const lastDeployment = store.listOperations(service.id).find((op) => DEPLOYMENT_OPERATION_TYPES.includes(op.type));
    // The reconciler clears the key by setting it empty.
    const crashLoop = store.getMeta(crashLoopKey(service.id)) || undefined;
    return {
      ...serviceOutput(service, autoScalingConfigurationSummary(asc, ascHasAssociatedService(store, asc.key))),
      Settings: settingsOutput(effectiveSettings(service.settings, this.#ctx.serviceSettings)),
      ...(lastDeployment !== undefined && { LastDeployment: operationSummary(lastDeployment) }),
      ...(crashLoop !== undefined && { CrashLoop: crashLoopOutput(JSON.parse(crashLoop) as CrashLoopState) }),
      Scaling: this.#scalingOutput(service),
    };
  }

  /** `Service.Scaling`: members the store knows nothing of yet are absent. */
  #scalingOutput(service: ServiceRecord): ApiOutput {
    const { store } = this.#ctx;
    const summary = readInstanceSummary(store, service.id);
    const decision = store.getMeta(scalingDecisionKey(service.id)) || undefined;
    // Nothing runs of a paused, failed or deleted service, whatever the count it keeps.
    const stopped = service.status === 'PAUSED' || service.status === 'CREATE_FAILED' || service.status === 'DELETED';
    return {
      DesiredInstances: stopped ? 0 : desiredInstancesOf(service),
      ...(summary !== undefined && {
        Revisions: summary.revisions.map((r) => ({ RevisionId: r.revisionId, CurrentInstances: r.current, ReadyInstances: r.ready })),
      }),
      ...(decision !== undefined && { LastDecision: scalingDecisionOutput(JSON.parse(decision) as ScalingDecisionRecord) }),
    };
  }

  #settingsOutput(service: ServiceRecord): ApiOutput {
    return { ServiceArn: service.arn, Settings: settingsOutput(effectiveSettings(service.settings, this.#ctx.serviceSettings)) };
  }
}

/**
 * Sets the count a deployment (create, update, redeploy, resume) starts the service with: the
 * count in force, within the (maybe new) [MinSize, MaxSize], and at least one even with MinSize
 * 0: a deployment is health-checked on a running instance, and the service then goes on with
 * that instance until the autoscaler scales it to zero after the idle period (counted from the
 * deployment's end). Written here rather than left to the reconciler, so that the deployment's
 * end does not find the service still at zero and stop the instance it just checked. Left
 * absent when it would say what absent says (MinSize).
 */
function withDeploymentCount(service: ServiceRecord): ServiceRecord {
  const count = Math.min(Math.max(desiredInstancesOf(service), 1), service.maxSize);
  return service.desiredInstances === undefined && count === service.minSize ? service : { ...service, desiredInstances: count };
}

function autoScalingOf(asc: AutoScalingConfigurationRecord): Pick<ServiceRecord, 'autoScalingConfigurationArn' | 'minSize' | 'maxConcurrency' | 'maxSize'> {
  return { autoScalingConfigurationArn: asc.key, minSize: asc.data.minSize, maxConcurrency: asc.data.maxConcurrency, maxSize: asc.data.maxSize };
}

/** Tags are upserted by key (§2.8). */
export function mergeTags(current: readonly Tag[], added: readonly Tag[]): Tag[] {
  const byKey = new Map(current.map((t) => [t.Key, t]));
  // A Value sent as JSON null is absent, as AWS reads it.
  for (const tag of added) byKey.set(tag.Key, tag.Value === undefined || tag.Value === null ? { Key: tag.Key } : { Key: tag.Key, Value: tag.Value });
  return [...byKey.values()];
}

const DEFAULT_EVENTS_PAGE = 50;

/** `deployment-failed` → `DEPLOYMENT_FAILED`: enums on the wire are upper case, as App Runner's. */
function eventOutput(event: StoredServiceEvent): ApiOutput {
  return {
    At: epochSeconds(event.at),
    Type: event.type.toUpperCase().replaceAll('-', '_'),
    Message: event.message,
    ...(event.operationId !== undefined && { OperationId: event.operationId }),
    ...(event.instanceId !== undefined && { InstanceId: event.instanceId }),
    ...(event.revisionId !== undefined && { RevisionId: event.revisionId }),
  };
}

function crashLoopOutput(state: CrashLoopState): ApiOutput {
  return { RevisionId: state.revisionId, Failures: state.failures, LastReason: state.lastReason, NextStartAt: epochSeconds(state.nextStartAt) };
}

/*
 * ListServiceEvents' NextToken: the sequence number to continue below, bound to its listing as
 * core/pagination.ts binds its tokens (same form: base64url JSON with a hash of the scope), so a
 * token keeps its place however many events arrive or are trimmed between pages.
 */
const scopeHashOf = (scope: string): string => createHash('sha256').update(scope).digest('base64url').slice(0, 16);

function eventCursorToken(seq: number, scope: string): string {
  return Buffer.from(JSON.stringify({ s: scopeHashOf(scope), b: seq })).toString('base64url');
}

function eventCursorOf(token: string, scope: string): number {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  const fields = typeof decoded === 'object' && decoded !== null && !Array.isArray(decoded) ? (decoded as { s?: unknown; b?: unknown }) : undefined;
  if (fields === undefined || !Number.isSafeInteger(fields.b) || typeof fields.s !== 'string') {
    throw invalidRequest(`The NextToken '${token.slice(0, 40)}' is invalid; pass the NextToken of the previous page unchanged`);
  }
  if (fields.s !== scopeHashOf(scope)) {
    throw invalidRequest(`The NextToken '${token.slice(0, 40)}' does not belong to this listing; keep the other parameters the same across pages`);
  }
  return fields.b as number;
}

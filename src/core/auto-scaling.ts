/**
 * @module
 * Auto scaling configurations (app-runner-api.md §2.2, §3.8): named, immutable revisions, the
 * account default, and the partial-ARN forms (`.../<name>`, `.../<name>/<revision>`) that name
 * the latest active revision of a name or one revision. MinSize may be 0 (Berth's extension:
 * the service scales to zero after its idle period). Also the record of the autoscaler's last
 * decision for a service, kept in the store for DescribeService.
 */
import { allRevisions, findRevision, isLatestRevision, type RevisionedData } from './configuration-revisions.ts';
import type { ArnContext } from './ids.ts';
import { resourceArn, type ResourceRecord } from './resources.ts';
import type { ServiceRecord } from './service.ts';
import { epochSeconds } from './time.ts';
import type { Store } from './store.ts';

export interface AutoScalingConfigurationData extends RevisionedData {
  maxConcurrency: number;
  /** 0 to 25; 0 (Berth's extension) lets the service scale to zero. */
  minSize: number;
  maxSize: number;
  isDefault: boolean;
}

export type AutoScalingConfigurationRecord = ResourceRecord<AutoScalingConfigurationData>;

export const DEFAULT_ASC_NAME = 'DefaultConfiguration';
/** The id App Runner gives its provided default configuration. */
export const DEFAULT_ASC_ID = '00000000000000000000000000000001';
/** App Runner's provided default: 100 concurrent requests per instance, 1 to 25 instances. */
export const DEFAULT_ASC_VALUES = { maxConcurrency: 100, minSize: 1, maxSize: 25 } as const;

/** Every revision of every auto scaling configuration, active or not, oldest first. */
export function allAutoScalingConfigurations(store: Store): AutoScalingConfigurationRecord[] {
  return allRevisions<AutoScalingConfigurationData>(store, 'autoscalingconfiguration');
}

/** The revision an ARN (full or partial) names; ResourceNotFoundException when there is none. */
export function findAutoScalingConfiguration(store: Store, ctx: ArnContext, arn: string, path: string): AutoScalingConfigurationRecord {
  return findRevision<AutoScalingConfigurationData>(store, ctx, 'autoscalingconfiguration', arn, path);
}

/** The account's default configuration (exactly one ACTIVE revision is marked default). */
export function defaultAutoScalingConfiguration(store: Store): AutoScalingConfigurationRecord {
  const found = allAutoScalingConfigurations(store).find((r) => r.data.isDefault && r.data.status === 'ACTIVE');
  if (found === undefined) throw new Error('the store has no default auto scaling configuration; ensureDefaultAutoScalingConfiguration was not run');
  return found;
}

/** Creates App Runner's provided `DefaultConfiguration` revision 1 on first start. */
export function ensureDefaultAutoScalingConfiguration(store: Store, ctx: ArnContext, now: number): void {
  store.transaction(() => {
    if (allAutoScalingConfigurations(store).length > 0) return;
    const arn = resourceArn(ctx, 'autoscalingconfiguration', DEFAULT_ASC_NAME, 1, DEFAULT_ASC_ID);
    const data: AutoScalingConfigurationData = {
      arn,
      name: DEFAULT_ASC_NAME,
      revision: 1,
      ...DEFAULT_ASC_VALUES,
      status: 'ACTIVE',
      isDefault: true,
      createdAt: now,
    };
    store.putResource({ kind: 'autoscalingconfiguration', key: arn, name: DEFAULT_ASC_NAME, live: true, createdAt: now, data });
  });
}

/** Whether any live service uses this revision. */
export function ascHasAssociatedService(store: Store, arn: string): boolean {
  return store.listLiveServices().some((s) => s.autoScalingConfigurationArn === arn);
}

/** The live services that use this revision, oldest first. */
export function servicesUsingAutoScalingConfiguration(store: Store, arn: string): ServiceRecord[] {
  return store.listLiveServices().filter((s) => s.autoScalingConfigurationArn === arn);
}

/**
 * Whether this is the revision App Runner provides (`DefaultConfiguration/1/000...1`). The
 * customer did not create it, so it does not count toward their quotas (§5.1).
 */
export function isProvidedAutoScalingConfiguration(record: AutoScalingConfigurationRecord): boolean {
  return record.key.endsWith(`:autoscalingconfiguration/${DEFAULT_ASC_NAME}/1/${DEFAULT_ASC_ID}`);
}

/** `AutoScalingConfigurationSummary` (§3.8). */
export function autoScalingConfigurationSummary(record: AutoScalingConfigurationRecord, hasAssociatedService: boolean): Record<string, unknown> {
  const d = record.data;
  return {
    AutoScalingConfigurationArn: d.arn,
    AutoScalingConfigurationName: d.name,
    AutoScalingConfigurationRevision: d.revision,
    Status: d.status,
    CreatedAt: epochSeconds(d.createdAt),
    HasAssociatedService: hasAssociatedService,
    IsDefault: d.isDefault,
  };
}

/** The full `AutoScalingConfiguration` output shape of a revision as the store has it now. */
export function describeAutoScalingConfiguration(store: Store, record: AutoScalingConfigurationRecord): Record<string, unknown> {
  return autoScalingConfigurationOutput(record, isLatestRevision(store, 'autoscalingconfiguration', record), ascHasAssociatedService(store, record.key));
}

/** The full `AutoScalingConfiguration` output shape. `latest`: no higher ACTIVE revision of the name exists. */
export function autoScalingConfigurationOutput(record: AutoScalingConfigurationRecord, latest: boolean, hasAssociatedService: boolean): Record<string, unknown> {
  const d = record.data;
  return {
    AutoScalingConfigurationArn: d.arn,
    AutoScalingConfigurationName: d.name,
    AutoScalingConfigurationRevision: d.revision,
    Latest: latest,
    Status: d.status,
    MaxConcurrency: d.maxConcurrency,
    MinSize: d.minSize,
    MaxSize: d.maxSize,
    CreatedAt: epochSeconds(d.createdAt),
    ...(d.deletedAt !== undefined && { DeletedAt: epochSeconds(d.deletedAt) }),
    HasAssociatedService: hasAssociatedService,
    IsDefault: d.isDefault,
  };
}

/**
 * Instances the revision serving should have: the autoscaler's decision (`desiredInstances`),
 * else MinSize, kept within [MinSize, MaxSize] (a rollback may restore narrower bounds than the
 * decision was made in).
 */
export function desiredInstancesOf(service: Pick<ServiceRecord, 'desiredInstances' | 'minSize' | 'maxSize'>): number {
  return Math.min(Math.max(service.desiredInstances ?? service.minSize, service.minSize), service.maxSize);
}

/** Why the autoscaler changed a service's instance count. */
export type ScalingReason = 'load' | 'scale-to-zero' | 'scale-from-zero';

/** The autoscaler's last change of a service's desired instances, with its inputs. */
export interface ScalingDecisionRecord {
  /** Epoch ms. */
  at: number;
  from: number;
  to: number;
  reason: ScalingReason;
  /** Average concurrency over the stable window (60 s) and the panic window (6 s), all routers together. */
  stable: number;
  panic: number;
  /** Ready instances of the revision serving when the decision was made. */
  ready: number;
  /** Concurrent requests per instance the autoscaler aims for (MaxConcurrency x 0.7). */
  target: number;
  panicking: boolean;
}

/** The store's meta key holding a service's last ScalingDecisionRecord as JSON. */
export function scalingDecisionKey(serviceId: string): string {
  return `scaling:${serviceId}`;
}

/** `Service.Scaling.LastDecision` (Berth's extension) of a stored decision. */
export function scalingDecisionOutput(decision: ScalingDecisionRecord): Record<string, unknown> {
  return {
    At: epochSeconds(decision.at),
    From: decision.from,
    To: decision.to,
    Reason: decision.reason.toUpperCase().replaceAll('-', '_'),
    StableConcurrency: decision.stable,
    PanicConcurrency: decision.panic,
    ReadyInstances: decision.ready,
    TargetPerInstance: decision.target,
    Panicking: decision.panicking,
  };
}

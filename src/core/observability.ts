/**
 * @module
 * Observability configurations (app-runner-api.md §2.4, §3.10): named, immutable revisions
 * that switch tracing on for the services that reference them. They share the revision scheme
 * and the partial-ARN forms of auto scaling configurations (configuration-revisions.ts).
 */
import { findRevision, isLatestRevision, type RevisionedData } from './configuration-revisions.ts';
import type { ArnContext } from './ids.ts';
import type { ResourceRecord } from './resources.ts';
import type { ServiceRecord } from './service.ts';
import type { Store } from './store.ts';
import { epochSeconds } from './time.ts';

export interface TraceConfiguration {
  /** The only tracing vendor App Runner offers. */
  Vendor: 'AWSXRAY';
}

export interface ObservabilityConfigurationData extends RevisionedData {
  /** Absent: tracing is off. */
  traceConfiguration?: TraceConfiguration;
}

export type ObservabilityConfigurationRecord = ResourceRecord<ObservabilityConfigurationData>;

/** App Runner keeps this name for the configuration it provides: nobody may create it or revisions of it. */
export const RESERVED_OBSERVABILITY_NAME = 'DefaultConfiguration';

/** The revision an ARN (full or partial) names; ResourceNotFoundException when there is none. */
export function findObservabilityConfiguration(store: Store, ctx: ArnContext, arn: string, path: string): ObservabilityConfigurationRecord {
  return findRevision<ObservabilityConfigurationData>(store, ctx, 'observabilityconfiguration', arn, path);
}

/** The live services whose configuration references this revision, oldest first. */
export function servicesUsingObservabilityConfiguration(store: Store, arn: string): ServiceRecord[] {
  return store.listLiveServices().filter((s) => s.config.ObservabilityConfiguration.ObservabilityConfigurationArn === arn);
}

/** `ObservabilityConfigurationSummary` (§3.10): ARN, name and revision only. */
export function observabilityConfigurationSummary(record: ObservabilityConfigurationRecord): Record<string, unknown> {
  return {
    ObservabilityConfigurationArn: record.data.arn,
    ObservabilityConfigurationName: record.data.name,
    ObservabilityConfigurationRevision: record.data.revision,
  };
}

/** The full `ObservabilityConfiguration` output shape of a revision as the store has it now. */
export function describeObservabilityConfiguration(store: Store, record: ObservabilityConfigurationRecord): Record<string, unknown> {
  const d = record.data;
  return {
    ObservabilityConfigurationArn: d.arn,
    ObservabilityConfigurationName: d.name,
    ...(d.traceConfiguration !== undefined && { TraceConfiguration: { ...d.traceConfiguration } }),
    ObservabilityConfigurationRevision: d.revision,
    Latest: isLatestRevision(store, 'observabilityconfiguration', record),
    Status: d.status,
    CreatedAt: epochSeconds(d.createdAt),
    ...(d.deletedAt !== undefined && { DeletedAt: epochSeconds(d.deletedAt) }),
  };
}

/**
 * @module
 * The revision scheme auto scaling and observability configurations share (app-runner-api.md
 * §2.2, §2.4): a name has immutable revisions 1, 2, ...; an ARN names one revision in full
 * (`.../<name>/<revision>/<id>`), or partially: `.../<name>` is the latest ACTIVE revision,
 * `.../<name>/<revision>` that revision.
 */
import { BerthError, invalidRequest, notFound, showValue } from './errors.ts';
import type { ArnContext } from './ids.ts';
import { parseResourceArn, type ResourceRecord } from './resources.ts';
import type { Store } from './store.ts';

export type RevisionedKind = 'autoscalingconfiguration' | 'observabilityconfiguration';

export interface RevisionedData {
  arn: string;
  name: string;
  revision: number;
  status: 'ACTIVE' | 'INACTIVE';
  createdAt: number;
  deletedAt?: number;
}

export interface RevisionReference {
  name: string;
  revision?: number;
  id?: string;
}

const LABEL: Record<RevisionedKind, string> = {
  autoscalingconfiguration: 'auto scaling configuration',
  observabilityconfiguration: 'observability configuration',
};

/** The name, revision and id an ARN gives (full or partial). */
export function parseRevisionArn(ctx: ArnContext, kind: RevisionedKind, arn: string, path: string): RevisionReference {
  const form = `an ${LABEL[kind]} ARN: arn:aws:apprunner:<region>:<account>:${kind}/<name>[/<revision>[/<id>]]`;
  const parts = parseResourceArn(ctx, arn, kind, path, form);
  const [name, revision, id] = parts;
  if (parts.length > 3 || name === undefined || (revision !== undefined && !/^[1-9][0-9]{0,8}$/.test(revision))) {
    throw invalidRequest(`Value ${showValue(arn)} at '${path}' is not ${form}`);
  }
  return { name, ...(revision !== undefined && { revision: Number(revision) }), ...(id !== undefined && { id }) };
}

/** Every revision of every configuration of a kind, active or not, oldest first. */
export function allRevisions<T extends RevisionedData>(store: Store, kind: RevisionedKind): ResourceRecord<T>[] {
  return store.listResources(kind) as ResourceRecord<T>[];
}

/** The highest ACTIVE revision of a name, if any. */
export function latestActiveRevision<T extends RevisionedData>(store: Store, kind: RevisionedKind, name: string): ResourceRecord<T> | undefined {
  return allRevisions<T>(store, kind)
    .filter((r) => r.name === name && r.data.status === 'ACTIVE')
    .sort((a, b) => b.data.revision - a.data.revision)[0];
}

/** The revision an ARN names: ResourceNotFoundException when there is none. */
export function findRevision<T extends RevisionedData>(store: Store, ctx: ArnContext, kind: RevisionedKind, arn: string, path: string): ResourceRecord<T> {
  const ref = parseRevisionArn(ctx, kind, arn, path);
  const found =
    ref.revision === undefined
      ? latestActiveRevision<T>(store, kind, ref.name)
      : allRevisions<T>(store, kind).find((r) => r.name === ref.name && r.data.revision === ref.revision && (ref.id === undefined || r.key === arn));
  // Quoted whole, not shortened: the ARN parsed, so it is printable, and its end tells revisions apart.
  if (found === undefined) throw notFound(`No ${LABEL[kind]} '${arn}' exists in account ${ctx.accountId}, region ${ctx.region}`);
  return found;
}

/** The ACTIVE revisions of a kind, ordered by name, then revision. */
export function activeRevisions<T extends RevisionedData>(store: Store, kind: RevisionedKind): ResourceRecord<T>[] {
  return allRevisions<T>(store, kind)
    .filter((r) => r.data.status === 'ACTIVE')
    .sort((a, b) => (a.name === b.name ? a.data.revision - b.data.revision : a.name < b.name ? -1 : 1));
}

/** App Runner's `Latest`: the revision is ACTIVE and no higher ACTIVE revision of its name exists. */
export function isLatestRevision(store: Store, kind: RevisionedKind, record: ResourceRecord<RevisionedData>): boolean {
  return record.data.status === 'ACTIVE' && latestActiveRevision(store, kind, record.name)?.key === record.key;
}

/**
 * The number the next revision of a name gets: one past the highest ever given, deleted
 * revisions included. Deleted revisions stay describable by `.../<name>/<revision>`, so a
 * number is never given twice.
 */
export function nextRevisionNumber(store: Store, kind: RevisionedKind, name: string): number {
  return allRevisions(store, kind)
    .filter((r) => r.name === name)
    .reduce((highest, r) => Math.max(highest, (r.data as RevisionedData).revision), 0) + 1;
}

/** The listing the List operations return: ACTIVE revisions, of one name if given, only the latest of each name when `latestOnly`. */
export function listedRevisions<T extends RevisionedData>(store: Store, kind: RevisionedKind, name: string | undefined, latestOnly: boolean): ResourceRecord<T>[] {
  const active = activeRevisions<T>(store, kind).filter((r) => name === undefined || r.name === name);
  // Sorted by name then revision, so the last of each run of a name is its latest.
  return latestOnly ? active.filter((r, i) => active[i + 1]?.name !== r.name) : active;
}

export interface RevisionQuotas {
  /** How many names may have an ACTIVE revision. */
  names: number;
  /** How many ACTIVE revisions one name may have. */
  revisionsPerName: number;
}

/**
 * Refuses (ServiceQuotaExceededException) a new revision of `name` that would exceed the
 * quotas (app-runner-api.md §5.1). `counted` are the ACTIVE revisions that count toward them.
 */
export function assertRevisionQuotas(kind: RevisionedKind, counted: readonly ResourceRecord<RevisionedData>[], name: string, quotas: RevisionQuotas): void {
  const revisions = counted.filter((r) => r.name === name).length;
  if (revisions === 0 && new Set(counted.map((r) => r.name)).size >= quotas.names) {
    throw new BerthError(
      'ServiceQuotaExceededException',
      `You have reached the quota of ${quotas.names} ${LABEL[kind]} names; delete every revision of one you no longer need to create ${showValue(name)}, or add a revision to an existing name`,
    );
  }
  if (revisions >= quotas.revisionsPerName) {
    throw new BerthError(
      'ServiceQuotaExceededException',
      `The ${LABEL[kind]} ${showValue(name)} has reached the quota of ${quotas.revisionsPerName} active revisions; delete an old revision to create another`,
    );
  }
}

/** A revision as deleted: INACTIVE, no longer live, kept to be described. */
export function deletedRevision<T extends RevisionedData>(record: ResourceRecord<T>, now: number): ResourceRecord<T> {
  return { ...record, live: false, data: { ...record.data, status: 'INACTIVE', deletedAt: now } };
}

/** The label messages use for a kind: `auto scaling configuration`, `observability configuration`. */
export function revisionedLabel(kind: RevisionedKind): string {
  return LABEL[kind];
}

/**
 * @module
 * The revision scheme auto scaling and observability configurations share (app-runner-api.md
 * §2.2, §2.4): a name has immutable revisions 1, 2, ...; an ARN names one revision in full
 * (`.../<name>/<revision>/<id>`), or partially: `.../<name>` is the latest ACTIVE revision,
 * `.../<name>/<revision>` that revision.
 */
import { invalidRequest, notFound, showValue } from './errors.ts';
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
  if (found === undefined) throw notFound(`No ${LABEL[kind]} ${showValue(arn)} exists in account ${ctx.accountId}, region ${ctx.region}`);
  return found;
}

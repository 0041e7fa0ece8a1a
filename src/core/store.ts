/**
 * @module
 * The store: Berth's desired state. Synchronous because the default store is embedded SQLite
 * (no round trips); every multi-step change goes through `transaction`.
 */
import type { OperationRecord } from './operation.ts';
import type { ResourceKind, ResourceRecord } from './resources.ts';
import type { RevisionSpec, ServiceConfig, ServiceRecord, Tag } from './service.ts';

export interface RevisionRecord {
  id: string;
  serviceId: string;
  /** 1, 2, ... per service. */
  number: number;
  spec: RevisionSpec;
  /** The service's configuration and auto scaling when the revision was made: a rollback restores them. */
  config: ServiceConfig;
  autoScaling: { arn: string; minSize: number; maxConcurrency: number; maxSize: number };
  createdAt: number;
}

export interface AccessKeyRecord {
  accessKeyId: string;
  secretAccessKey: string;
  /** Who the key belongs to, e.g. `admin`. */
  principal: string;
  createdAt: number;
}

export interface Store {
  /** Runs `fn` atomically: all of its writes happen or none do. */
  transaction<T>(fn: () => T): T;

  /** A value kept for the installation (its id, when it was set up, ...). */
  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;

  insertService(service: ServiceRecord): void;
  updateService(service: ServiceRecord): void;
  getService(id: string): ServiceRecord | undefined;
  /** The service not yet DELETED with that name, if any. */
  findLiveServiceByName(name: string): ServiceRecord | undefined;
  /** Services not DELETED, oldest first. */
  listLiveServices(): ServiceRecord[];

  insertRevision(revision: RevisionRecord): void;
  getRevision(id: string): RevisionRecord | undefined;
  /** A service's revisions, newest first. */
  listRevisions(serviceId: string): RevisionRecord[];

  insertOperation(operation: OperationRecord): void;
  updateOperation(operation: OperationRecord): void;
  /** A service's operations, newest first. */
  listOperations(serviceId: string): OperationRecord[];
  /** The service's unfinished operation, if one is under way. */
  activeOperation(serviceId: string): OperationRecord | undefined;

  /** Inserts or replaces a resource (by kind and key). */
  putResource(resource: ResourceRecord): void;
  getResource(kind: ResourceKind, key: string): ResourceRecord | undefined;
  /** Every resource of a kind, live or not, oldest first. */
  listResources(kind: ResourceKind): ResourceRecord[];
  /** Forgets a resource entirely (a custom domain once disassociated). */
  deleteResource(kind: ResourceKind, key: string): void;

  /** The tags of any taggable resource, by ARN; empty when it has none. */
  getTags(arn: string): Tag[];
  /** Replaces the tags of a resource; an empty list removes them. */
  setTags(arn: string, tags: readonly Tag[]): void;

  insertAccessKey(key: AccessKeyRecord): void;
  getAccessKey(accessKeyId: string): AccessKeyRecord | undefined;

  close(): void;
}

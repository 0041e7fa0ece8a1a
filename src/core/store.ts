/**
 * @module
 * The store: Berth's desired state. Synchronous because the default store is embedded SQLite
 * (no round trips); every multi-step change goes through `transaction`.
 */
import type { AccessKeyRecord, PlaintextAccessKeyRecord, SessionRecord, UserPolicyRecord, UserRecord } from './iam.ts';
import type { OperationRecord } from './operation.ts';
import type { ResourceKind, ResourceRecord } from './resources.ts';
import type { BuildRecord } from './build-record.ts';
import type { ServiceEvent, StoredServiceEvent } from './service-events.ts';
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

  /** Inserts or replaces a build (by id). */
  putBuild(build: BuildRecord): void;
  /** The revision's latest build attempt, if any. */
  latestBuild(revisionId: string): BuildRecord | undefined;
  /** The builds an operation started, newest first. */
  buildsOfOperation(operationId: string): BuildRecord[];
  /** Successful builds whose image has not been discarded, oldest first. */
  listBuildsWithImages(): BuildRecord[];

  /** Appends to a service's event log, dropping its oldest beyond SERVICE_EVENTS_KEPT. */
  appendServiceEvent(event: ServiceEvent): void;
  /** A service's events, newest first: at most `limit`, older than `beforeSeq` when given. */
  listServiceEvents(serviceId: string, limit: number, beforeSeq?: number): StoredServiceEvent[];

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

  // Access control (docs/access-control.md): users, their inline policies, access keys, sessions.
  insertUser(user: UserRecord): void;
  getUser(id: string): UserRecord | undefined;
  /** By name without regard to case: IAM user names are unique that way. */
  findUserByName(name: string): UserRecord | undefined;
  /** Every user, by name. */
  listUsers(): UserRecord[];
  /** Forgets a user; its policies and keys must be gone first. */
  deleteUser(id: string): void;
  /** Inserts a policy or replaces the user's policy of the same name (without regard to case). */
  putUserPolicy(policy: UserPolicyRecord): void;
  getUserPolicy(userId: string, name: string): UserPolicyRecord | undefined;
  /** A user's inline policies, by name. */
  listUserPolicies(userId: string): UserPolicyRecord[];
  deleteUserPolicy(userId: string, name: string): void;
  /** Inserts or replaces an access key (by id). */
  putAccessKey(key: AccessKeyRecord): void;
  getAccessKey(accessKeyId: string): AccessKeyRecord | undefined;
  /** A user's access keys, oldest first. */
  listAccessKeys(userId: string): AccessKeyRecord[];
  /** Forgets an access key and every session it minted. */
  deleteAccessKey(accessKeyId: string): void;
  /** Keys stored before access control, secret in plaintext, not yet converted. */
  listPlaintextAccessKeys(): PlaintextAccessKeyRecord[];
  insertSession(session: SessionRecord): void;
  getSession(accessKeyId: string): SessionRecord | undefined;
  /** Forgets every session a key minted (when the key is deactivated: revoked for good). */
  deleteSessionsOf(parentAccessKeyId: string): void;
  /** Forgets sessions that expired before `time` (epoch ms). */
  deleteSessionsExpiredBefore(time: number): void;

  close(): void;
}

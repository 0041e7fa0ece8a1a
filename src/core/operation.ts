/**
 * @module
 * Operations: the asynchronous work App Runner reports through ListOperations (§3.16).
 */
import type { BuildRecord } from './build-record.ts';
import { ARN } from './model/app-runner-shapes.ts';
import { int, str, struct, type Shape } from './model/shape.ts';
import { SETTING_LIMITS, SETTING_MEMBERS, SETTING_NAMES } from './service-settings.ts';
import { epochSeconds } from './time.ts';

export type OperationType = 'CREATE_SERVICE' | 'UPDATE_SERVICE' | 'START_DEPLOYMENT' | 'PAUSE_SERVICE' | 'RESUME_SERVICE' | 'DELETE_SERVICE';
export type OperationStatus = 'PENDING' | 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED' | 'ROLLBACK_IN_PROGRESS' | 'ROLLBACK_SUCCEEDED' | 'ROLLBACK_FAILED';

export interface OperationRecord {
  id: string;
  serviceId: string;
  targetArn: string;
  type: OperationType;
  status: OperationStatus;
  startedAt: number;
  updatedAt: number;
  endedAt?: number;
  /** Why it failed (or a note on how it ended): Berth's extension member `StatusMessage`. */
  message?: string;
}

export const isFinished = (op: OperationRecord): boolean =>
  op.status === 'SUCCEEDED' || op.status === 'FAILED' || op.status === 'ROLLBACK_SUCCEEDED' || op.status === 'ROLLBACK_FAILED';

export function operationSummary(op: OperationRecord): Record<string, unknown> {
  return {
    Id: op.id,
    Type: op.type,
    Status: op.status,
    TargetArn: op.targetArn,
    StartedAt: epochSeconds(op.startedAt),
    ...(op.endedAt !== undefined && { EndedAt: epochSeconds(op.endedAt) }),
    UpdatedAt: epochSeconds(op.updatedAt),
    ...(op.message !== undefined && { StatusMessage: op.message }),
  };
}

/** The operations that deploy a revision: DescribeService's `LastDeployment` is the newest of them. */
export const DEPLOYMENT_OPERATION_TYPES: readonly OperationType[] = ['CREATE_SERVICE', 'UPDATE_SERVICE', 'START_DEPLOYMENT', 'RESUME_SERVICE'];

/** Each setting's member, an integer within its limits (null, meaning "the default", passes the shape). */
const SETTING_SHAPES: Record<string, Shape> = Object.fromEntries(SETTING_NAMES.map((name) => [SETTING_MEMBERS[name], int(SETTING_LIMITS[name])]));

/** Input shapes of Berth's extensions of the service operations (target prefix `Berth`). */
export const OPERATION_EXTENSION_SHAPES: Readonly<Record<string, Shape>> = {
  DescribeOperation: struct(
    { ServiceArn: ARN, OperationId: str({ min: 1, max: 64, pattern: /^[0-9a-f]{32}$/ }) },
    ['ServiceArn', 'OperationId'],
  ),
  UpdateServiceSettings: struct({ ServiceArn: ARN, ...SETTING_SHAPES }, ['ServiceArn']),
  DescribeServiceSettings: struct({ ServiceArn: ARN }, ['ServiceArn']),
  ListServiceEvents: struct({ ServiceArn: ARN, MaxResults: int({ min: 1, max: 100 }), NextToken: str({ min: 1, max: 1024 }) }, ['ServiceArn']),
};

/**
 * `Berth.DescribeOperation`'s output: the summary, with the builds the operation ran (newest
 * first: a control plane restarted mid-build shows the interrupted attempt too) and their output.
 */
export function operationDetail(op: OperationRecord, builds: readonly BuildRecord[]): Record<string, unknown> {
  return {
    ...operationSummary(op),
    Builds: builds.map((b) => ({
      BuildId: b.id,
      Status: b.status,
      RepositoryUrl: b.repositoryUrl,
      Branch: b.branch,
      SourceDirectory: b.sourceDirectory,
      ...(b.commit !== undefined && { Commit: b.commit }),
      ...(b.origin !== undefined && { BuiltFrom: b.origin }),
      ...(b.image !== undefined && { Image: b.image }),
      StartedAt: epochSeconds(b.startedAt),
      ...(b.endedAt !== undefined && { EndedAt: epochSeconds(b.endedAt) }),
      ...(b.failure !== undefined && {
        Failure: { Message: b.failure.message, ...(b.failure.command !== undefined && { Command: b.failure.command }), OutputTail: b.failure.outputTail },
      }),
      Log: b.log,
    })),
  };
}

/**
 * @module
 * Operations: the asynchronous work App Runner reports through ListOperations (§3.16).
 */
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

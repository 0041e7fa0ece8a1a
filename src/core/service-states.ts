/**
 * @module
 * Which actions a service's state allows (app-runner-api.md §5.3). Describe and List calls are
 * allowed in every state and are not listed; everything here is refused with
 * InvalidStateException outside the states named.
 */
import { invalidState, showValue } from './errors.ts';
import type { ServiceRecord, ServiceStatus } from './service.ts';

export type ServiceAction =
  | 'UpdateService'
  | 'StartDeployment'
  | 'PauseService'
  | 'ResumeService'
  | 'DeleteService'
  | 'AssociateCustomDomain'
  | 'DisassociateCustomDomain'
  | 'CreateVpcIngressConnection'
  | 'TagResource'
  | 'UntagResource';

const ALLOWED_IN: Readonly<Record<ServiceAction, readonly ServiceStatus[]>> = {
  // A CREATE_FAILED service is repaired by updating it; a paused one must be resumed first.
  UpdateService: ['RUNNING', 'CREATE_FAILED'],
  StartDeployment: ['RUNNING'],
  PauseService: ['RUNNING'],
  ResumeService: ['PAUSED'],
  DeleteService: ['RUNNING', 'PAUSED', 'CREATE_FAILED', 'DELETE_FAILED'],
  AssociateCustomDomain: ['RUNNING'],
  DisassociateCustomDomain: ['RUNNING'],
  CreateVpcIngressConnection: ['RUNNING', 'PAUSED'],
  // Tags are metadata: they may change while an operation runs or the service is paused.
  TagResource: ['RUNNING', 'PAUSED', 'CREATE_FAILED', 'OPERATION_IN_PROGRESS'],
  UntagResource: ['RUNNING', 'PAUSED', 'CREATE_FAILED', 'OPERATION_IN_PROGRESS'],
};

/** Throws InvalidStateException unless `service`'s status allows `action`. */
export function assertServiceAllows(service: ServiceRecord, action: ServiceAction): void {
  const allowed = ALLOWED_IN[action];
  if (allowed.includes(service.status)) return;
  const hint =
    service.status === 'OPERATION_IN_PROGRESS'
      ? 'an operation is in progress; retry once it has finished (ListOperations shows it)'
      : `it is allowed only when the service is ${allowed.join(' or ')}`;
  throw invalidState(`Cannot ${action} on service ${showValue(service.name)} while its status is ${service.status}: ${hint}`);
}

/**
 * @module
 * Finding a service by its ARN, as every operation that takes a `ServiceArn` does.
 */
import { invalidRequest, notFound, showValue } from './errors.ts';
import { parseArn, type ArnContext } from './ids.ts';
import type { ServiceRecord } from './service.ts';
import type { Store } from './store.ts';

/**
 * The service an ARN names in this account and region. A string that is no service ARN is
 * InvalidRequestException; a well-formed ARN that names nothing here, ResourceNotFoundException.
 */
export function serviceByArn(store: Store, ctx: ArnContext, arn: string, path = 'serviceArn'): ServiceRecord {
  const parsed = parseArn(arn);
  if (parsed === undefined || parsed.service !== 'apprunner' || parsed.resourceType !== 'service' || parsed.resourceParts.length !== 2) {
    throw invalidRequest(`Value ${showValue(arn)} at '${path}' is not a service ARN; expected arn:aws:apprunner:<region>:<account>:service/<name>/<id>`);
  }
  const [name, id] = parsed.resourceParts;
  const service = parsed.region === ctx.region && parsed.accountId === ctx.accountId && id !== undefined ? store.getService(id) : undefined;
  if (service === undefined || service.name !== name) {
    throw notFound(`No service with ARN ${showValue(arn)} exists in account ${ctx.accountId}, region ${ctx.region}`);
  }
  return service;
}

/**
 * @module
 * App Runner's custom domain operations (app-runner-api.md §2.5): associating a domain with a
 * service, describing a service's domains, and disassociating one. An association is a store
 * record; the certificate and the route for it come with the certificate issuer.
 */
import { BerthError, invalidRequest, notFound, showValue } from '../core/errors.ts';
import {
  customDomainKey,
  customDomainOutput,
  customDomainsOf,
  customDomainTargets,
  hostNames,
  liveCustomDomains,
  parseDomainName,
  resolveEnableWWW,
  validationRecords,
  type CustomDomainRecord,
} from '../core/custom-domain.ts';
import { paginate } from '../core/pagination.ts';
import { validateInput, type ServiceRecord } from '../core/service.ts';
import { serviceByArn } from '../core/service-lookup.ts';
import { assertServiceAllows, type ServiceAction } from '../core/service-states.ts';
import type { ApiContext, ApiInput, ApiOutput, OperationHandlers } from './api-context.ts';

export class CustomDomainApi {
  readonly #ctx: ApiContext;

  constructor(ctx: ApiContext) {
    this.#ctx = ctx;
  }

  /** The operations this class answers, by App Runner operation name. */
  handlers(): OperationHandlers {
    return {
      AssociateCustomDomain: (i) => this.associateCustomDomain(i),
      DescribeCustomDomains: (i) => this.describeCustomDomains(i),
      DisassociateCustomDomain: (i) => this.disassociateCustomDomain(i),
    };
  }

  associateCustomDomain(input: ApiInput): ApiOutput {
    validateInput('AssociateCustomDomain', input);
    const { store, clock, quotas } = this.#ctx;
    const domain = parseDomainName(input.DomainName as string, this.#ctx.domain, 'domainName');
    const enableWWW = resolveEnableWWW(domain, input.EnableWWWSubdomain as boolean | undefined, 'enableWWWSubdomain');
    const { service, record } = store.transaction(() => {
      const service = this.#service(input.ServiceArn as string, 'AssociateCustomDomain');
      const wanted = hostNames(domain.name, enableWWW);
      const live = liveCustomDomains(store);
      const clash = live.find((r) => hostNames(r.data.domain, r.data.enableWWW).some((h) => wanted.includes(h)));
      if (clash !== undefined) {
        const owner = clash.data.serviceArn === service.arn ? 'this service' : `another service (${showValue(clash.data.serviceArn)})`;
        const shared = hostNames(clash.data.domain, clash.data.enableWWW).filter((h) => wanted.includes(h));
        throw invalidRequest(
          `The name ${showValue(shared[0])} is already served by the custom domain ${showValue(clash.data.domain)} of ${owner}; a name can belong to one service only, disassociate it there first`,
        );
      }
      const count = live.filter((r) => r.data.serviceArn === service.arn).length;
      if (count >= quotas.customDomainsPerService) {
        throw new BerthError(
          'ServiceQuotaExceededException',
          `Service ${showValue(service.name)} has reached the quota of ${quotas.customDomainsPerService} custom domains per service; disassociate one to associate another`,
        );
      }
      const now = clock.now();
      const record: CustomDomainRecord = {
        kind: 'customdomain',
        key: customDomainKey(service.arn, domain.name),
        name: domain.name,
        live: true,
        createdAt: now,
        data: {
          serviceArn: service.arn,
          domain: domain.name,
          enableWWW,
          // No certificate issuer yet: the association waits for its DNS validation (§2.5).
          status: 'PENDING_CERTIFICATE_DNS_VALIDATION',
          validationRecords: validationRecords(service.arn, domain, enableWWW),
          createdAt: now,
        },
      };
      store.putResource(record);
      return { service, record };
    });
    this.#ctx.onChange();
    return { ...customDomainTargets(service), CustomDomain: customDomainOutput(record) };
  }

  describeCustomDomains(input: ApiInput): ApiOutput {
    validateInput('DescribeCustomDomains', input);
    const service = serviceByArn(this.#ctx.store, this.#ctx.arn, input.ServiceArn as string);
    const page = paginate(
      customDomainsOf(this.#ctx.store, service),
      (r) => r.data.domain,
      `DescribeCustomDomains ${service.arn}`,
      input.MaxResults as number | undefined,
      input.NextToken as string | undefined,
    );
    return {
      ...customDomainTargets(service),
      CustomDomains: page.items.map((r) => customDomainOutput(r)),
      ...(page.nextToken !== undefined && { NextToken: page.nextToken }),
    };
  }

  disassociateCustomDomain(input: ApiInput): ApiOutput {
    validateInput('DisassociateCustomDomain', input);
    const { store } = this.#ctx;
    const domainName = input.DomainName as string;
    const { service, record } = store.transaction(() => {
      const service = this.#service(input.ServiceArn as string, 'DisassociateCustomDomain');
      const record = store.getResource('customdomain', customDomainKey(service.arn, domainName)) as CustomDomainRecord | undefined;
      if (record === undefined) {
        const associated = customDomainsOf(store, service).map((r) => r.data.domain);
        throw notFound(
          `Service ${showValue(service.name)} has no custom domain ${showValue(domainName)}; its custom domains: ${associated.length === 0 ? '(none)' : associated.join(', ')}`,
        );
      }
      store.deleteResource('customdomain', record.key);
      return { service, record };
    });
    this.#ctx.onChange();
    // The record is gone; App Runner reports the association on its way out as DELETING.
    return { ...customDomainTargets(service), CustomDomain: customDomainOutput(record, 'DELETING') };
  }

  /** The service an ARN names, if it exists and its state allows `action`. */
  #service(arn: string, action: ServiceAction): ServiceRecord {
    const service = serviceByArn(this.#ctx.store, this.#ctx.arn, arn);
    if (service.status === 'DELETED') throw notFound(`Service ${showValue(service.arn)} has been deleted`);
    assertServiceAllows(service, action);
    return service;
  }
}

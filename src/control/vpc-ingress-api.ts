/**
 * @module
 * App Runner's VPC ingress connection operations (app-runner-api.md §2.7) and the lifecycle
 * step that settles their PENDING_* states. A write leaves a connection PENDING_CREATION,
 * PENDING_UPDATE or PENDING_DELETION; the reconciler's next pass runs
 * `advanceVpcIngressConnections`, which moves it on. Connections are stored and validated
 * only: no private endpoint is opened yet, so the step has nothing to wait for but the
 * service's existence (what they mean on Berth's networks comes later; see src/core/vpc.ts).
 */
import type { Clock } from '../core/clock.ts';
import { BerthError, invalidRequest, notFound, showValue } from '../core/errors.ts';
import { newHexId, parseArn } from '../core/ids.ts';
import { paginate } from '../core/pagination.ts';
import { resourceArn } from '../core/resources.ts';
import { validateInput } from '../core/service.ts';
import { serviceByArn } from '../core/service-lookup.ts';
import { assertServiceAllows } from '../core/service-states.ts';
import type { Store } from '../core/store.ts';
import {
  allVpcIngressConnections,
  assertNoErrors,
  assertVpcIngressAllows,
  awsIdError,
  findVpcIngressConnection,
  ingressVpcConfigurationErrors,
  isAwsId,
  privateDomainName,
  settledIngressStatus,
  tagsOf,
  vpcIngressConnectionOutput,
  vpcIngressConnectionSummary,
  type VpcIngressConnectionData,
  type VpcIngressConnectionRecord,
} from '../core/vpc.ts';
import { memberValue, type ApiContext, type ApiInput, type ApiOutput, type OperationHandlers } from './api-context.ts';

interface IngressVpcConfiguration {
  VpcId: string;
  VpcEndpointId: string;
}

export class VpcIngressApi {
  readonly #ctx: ApiContext;

  constructor(ctx: ApiContext) {
    this.#ctx = ctx;
  }

  handlers(): OperationHandlers {
    return {
      CreateVpcIngressConnection: (i) => this.createVpcIngressConnection(i),
      DescribeVpcIngressConnection: (i) => this.describeVpcIngressConnection(i),
      UpdateVpcIngressConnection: (i) => this.updateVpcIngressConnection(i),
      DeleteVpcIngressConnection: (i) => this.deleteVpcIngressConnection(i),
      ListVpcIngressConnections: (i) => this.listVpcIngressConnections(i),
    };
  }

  createVpcIngressConnection(input: ApiInput): ApiOutput {
    validateInput('CreateVpcIngressConnection', input);
    const name = input.VpcIngressConnectionName as string;
    const vpc = input.IngressVpcConfiguration as IngressVpcConfiguration;
    const tags = tagsOf(input.Tags);
    assertNoErrors(ingressVpcConfigurationErrors(vpc));
    const { store, clock, arn: arnContext, quotas } = this.#ctx;
    const now = clock.now();
    const created = store.transaction(() => {
      const service = serviceByArn(store, arnContext, input.ServiceArn as string);
      if (service.status === 'DELETED') throw notFound(`Service ${showValue(service.arn)} has been deleted`);
      assertServiceAllows(service, 'CreateVpcIngressConnection');
      const live = allVpcIngressConnections(store).filter((r) => r.live);
      if (live.some((r) => r.name === name)) {
        throw invalidRequest(`A VPC ingress connection named ${showValue(name)} already exists; choose another VpcIngressConnectionName or delete that connection first`);
      }
      if (live.length >= quotas.vpcIngressConnections) {
        throw new BerthError(
          'ServiceQuotaExceededException',
          `You have reached the quota of ${quotas.vpcIngressConnections} VPC ingress connection${quotas.vpcIngressConnections === 1 ? '' : 's'}; delete one to create another`,
        );
      }
      const arn = resourceArn(arnContext, 'vpcingressconnection', name, newHexId());
      const data: VpcIngressConnectionData = {
        arn,
        serviceArn: service.arn,
        serviceId: service.id,
        status: 'PENDING_CREATION',
        accountId: arnContext.accountId,
        domainName: privateDomainName(service, this.#ctx.domain),
        vpcId: vpc.VpcId,
        vpcEndpointId: vpc.VpcEndpointId,
        updatedAt: now,
      };
      const record: VpcIngressConnectionRecord = { kind: 'vpcingressconnection', key: arn, name, live: true, createdAt: now, data };
      store.putResource(record);
      if (tags.length > 0) store.setTags(arn, tags);
      return record;
    });
    this.#ctx.onChange();
    return { VpcIngressConnection: vpcIngressConnectionOutput(created) };
  }

  describeVpcIngressConnection(input: ApiInput): ApiOutput {
    validateInput('DescribeVpcIngressConnection', input);
    const found = findVpcIngressConnection(this.#ctx.store, this.#ctx.arn, input.VpcIngressConnectionArn as string);
    return { VpcIngressConnection: vpcIngressConnectionOutput(found) };
  }

  updateVpcIngressConnection(input: ApiInput): ApiOutput {
    validateInput('UpdateVpcIngressConnection', input);
    const vpc = input.IngressVpcConfiguration as IngressVpcConfiguration;
    assertNoErrors(ingressVpcConfigurationErrors(vpc));
    return this.#change(input, 'UpdateVpcIngressConnection', (found, now) => ({
      ...found,
      data: { ...found.data, status: 'PENDING_UPDATE', vpcId: vpc.VpcId, vpcEndpointId: vpc.VpcEndpointId, updatedAt: now },
    }));
  }

  deleteVpcIngressConnection(input: ApiInput): ApiOutput {
    validateInput('DeleteVpcIngressConnection', input);
    // Still live while PENDING_DELETION: the service cannot be deleted until it is DELETED.
    return this.#change(input, 'DeleteVpcIngressConnection', (found, now) => ({ ...found, data: { ...found.data, status: 'PENDING_DELETION', updatedAt: now } }));
  }

  listVpcIngressConnections(input: ApiInput): ApiOutput {
    validateInput('ListVpcIngressConnections', input);
    // Members sent as JSON null count as absent (the shape check skips nulls too).
    const given = (input.Filter as { ServiceArn?: string | null; VpcEndpointId?: string | null } | null | undefined) ?? {};
    const filter = { ServiceArn: given.ServiceArn ?? undefined, VpcEndpointId: given.VpcEndpointId ?? undefined };
    if (filter.ServiceArn !== undefined) {
      // Only the form is checked: a filter naming a service that is gone matches nothing.
      const parsed = parseArn(filter.ServiceArn);
      if (parsed === undefined || parsed.service !== 'apprunner' || parsed.resourceType !== 'service' || parsed.resourceParts.length !== 2) {
        throw invalidRequest(`Value ${showValue(filter.ServiceArn)} at 'filter.serviceArn' is not a service ARN; expected arn:aws:apprunner:<region>:<account>:service/<name>/<id>`);
      }
    }
    if (filter.VpcEndpointId !== undefined && !isAwsId('vpcEndpoint', filter.VpcEndpointId)) {
      assertNoErrors([awsIdError('vpcEndpoint', filter.VpcEndpointId, 'filter.vpcEndpointId')]);
    }
    const matching = allVpcIngressConnections(this.#ctx.store).filter(
      (r) =>
        r.data.status !== 'DELETED' &&
        (filter.ServiceArn === undefined || r.data.serviceArn === filter.ServiceArn) &&
        (filter.VpcEndpointId === undefined || r.data.vpcEndpointId === filter.VpcEndpointId),
    );
    const page = paginate(
      matching,
      (r) => r.key,
      `ListVpcIngressConnections ${filter.ServiceArn ?? ''} ${filter.VpcEndpointId ?? ''}`,
      memberValue<number>(input, 'MaxResults'),
      memberValue<string>(input, 'NextToken'),
    );
    return {
      VpcIngressConnectionSummaryList: page.items.map(vpcIngressConnectionSummary),
      ...(page.nextToken !== undefined && { NextToken: page.nextToken }),
    };
  }

  /** Finds the connection, checks its state allows `action`, and writes what `change` makes of it. */
  #change(
    input: ApiInput,
    action: 'UpdateVpcIngressConnection' | 'DeleteVpcIngressConnection',
    change: (found: VpcIngressConnectionRecord, now: number) => VpcIngressConnectionRecord,
  ): ApiOutput {
    const { store, clock } = this.#ctx;
    const now = clock.now();
    const changed = store.transaction(() => {
      const found = findVpcIngressConnection(store, this.#ctx.arn, input.VpcIngressConnectionArn as string);
      assertVpcIngressAllows(found, action);
      const record = change(found, now);
      store.putResource(record);
      return record;
    });
    this.#ctx.onChange();
    return { VpcIngressConnection: vpcIngressConnectionOutput(changed) };
  }
}

/**
 * The reconciler's lifecycle step: moves every connection in a PENDING_* state on (§2.7).
 * Creating and updating end AVAILABLE while the service exists, FAILED_* once it is gone;
 * deleting ends DELETED, no longer live. Returns whether anything changed.
 */
export function advanceVpcIngressConnections(store: Store, clock: Clock): boolean {
  return store.transaction(() => {
    let changed = false;
    const now = clock.now();
    for (const record of allVpcIngressConnections(store)) {
      const service = store.getService(record.data.serviceId);
      const next = settledIngressStatus(record.data.status, service !== undefined && service.status !== 'DELETED');
      if (next === undefined) continue;
      const deleted = next === 'DELETED';
      store.putResource({
        ...record,
        live: !deleted,
        data: { ...record.data, status: next, updatedAt: now, ...(deleted && { deletedAt: now }) },
      });
      changed = true;
    }
    return changed;
  });
}

/**
 * @module
 * App Runner's VPC connector operations (app-runner-api.md §2.6): create, describe, delete and
 * list. A connector is one revision (always 1) named by its full ARN; deleting it keeps it as
 * INACTIVE to be described. Connectors are stored and validated only: what they mean on
 * Berth's networks comes later (see src/core/vpc.ts).
 */
import { BerthError, invalidRequest, notFound, showValue } from '../core/errors.ts';
import { newHexId } from '../core/ids.ts';
import { paginate } from '../core/pagination.ts';
import { resourceArn } from '../core/resources.ts';
import { validateInput } from '../core/service.ts';
import {
  allVpcConnectors,
  assertNoErrors,
  awsIdListErrors,
  findVpcConnector,
  servicesUsingVpcConnector,
  tagsOf,
  VPC_CONNECTOR_REVISION,
  vpcConnectorOutput,
  type VpcConnectorData,
  type VpcConnectorRecord,
} from '../core/vpc.ts';
import { memberValue, type ApiContext, type ApiInput, type ApiOutput, type OperationHandlers } from './api-context.ts';

export class VpcConnectorApi {
  readonly #ctx: ApiContext;

  constructor(ctx: ApiContext) {
    this.#ctx = ctx;
  }

  handlers(): OperationHandlers {
    return {
      CreateVpcConnector: (i) => this.createVpcConnector(i),
      DescribeVpcConnector: (i) => this.describeVpcConnector(i),
      DeleteVpcConnector: (i) => this.deleteVpcConnector(i),
      ListVpcConnectors: (i) => this.listVpcConnectors(i),
    };
  }

  createVpcConnector(input: ApiInput): ApiOutput {
    validateInput('CreateVpcConnector', input);
    const name = input.VpcConnectorName as string;
    const subnets = input.Subnets as string[];
    // A member sent as JSON null counts as absent (the shape check skips nulls too).
    const securityGroups = memberValue<string[]>(input, 'SecurityGroups') ?? [];
    const tags = tagsOf(input.Tags);
    assertNoErrors([
      // The model puts no minimum on Subnets, but a connector without a subnet leads nowhere.
      ...(subnets.length === 0 ? ["Value '[]' at 'subnets' failed to satisfy constraint: Member must have length greater than or equal to 1; give at least one subnet ID"] : []),
      ...awsIdListErrors('subnet', subnets, 'subnets'),
      ...awsIdListErrors('securityGroup', securityGroups, 'securityGroups'),
    ]);
    const { store, clock, arn: arnContext, quotas } = this.#ctx;
    const now = clock.now();
    const created = store.transaction(() => {
      const active = allVpcConnectors(store).filter((r) => r.live);
      if (active.some((r) => r.name === name)) {
        throw invalidRequest(`A VPC connector named ${showValue(name)} already exists; choose another VpcConnectorName or delete that connector first`);
      }
      if (active.length >= quotas.vpcConnectors) {
        throw new BerthError('ServiceQuotaExceededException', `You have reached the quota of ${quotas.vpcConnectors} VPC connectors; delete one to create another`);
      }
      const arn = resourceArn(arnContext, 'vpcconnector', name, VPC_CONNECTOR_REVISION, newHexId());
      const data: VpcConnectorData = { arn, subnets, securityGroups, status: 'ACTIVE' };
      const record: VpcConnectorRecord = { kind: 'vpcconnector', key: arn, name, live: true, createdAt: now, data };
      store.putResource(record);
      if (tags.length > 0) store.setTags(arn, tags);
      return record;
    });
    this.#ctx.onChange();
    return { VpcConnector: vpcConnectorOutput(created) };
  }

  describeVpcConnector(input: ApiInput): ApiOutput {
    validateInput('DescribeVpcConnector', input);
    return { VpcConnector: vpcConnectorOutput(findVpcConnector(this.#ctx.store, this.#ctx.arn, input.VpcConnectorArn as string)) };
  }

  deleteVpcConnector(input: ApiInput): ApiOutput {
    validateInput('DeleteVpcConnector', input);
    const { store, clock } = this.#ctx;
    const now = clock.now();
    const deleted = store.transaction(() => {
      const found = findVpcConnector(store, this.#ctx.arn, input.VpcConnectorArn as string);
      if (!found.live) throw notFound(`VPC connector ${showValue(found.data.arn)} has been deleted`);
      const users = servicesUsingVpcConnector(store, found.data.arn);
      if (users.length > 0) {
        // DeleteVpcConnector's modeled errors have no InvalidStateException: App Runner refuses this as an invalid request.
        throw invalidRequest(
          `VPC connector ${showValue(found.name)} is used by the service${users.length === 1 ? '' : 's'} ${users.map((s) => showValue(s.name)).join(', ')}; ` +
            'update them to another egress (UpdateService NetworkConfiguration) or delete them first',
        );
      }
      const record: VpcConnectorRecord = { ...found, live: false, data: { ...found.data, status: 'INACTIVE', deletedAt: now } };
      store.putResource(record);
      return record;
    });
    this.#ctx.onChange();
    return { VpcConnector: vpcConnectorOutput(deleted) };
  }

  listVpcConnectors(input: ApiInput): ApiOutput {
    validateInput('ListVpcConnectors', input);
    const page = paginate(
      allVpcConnectors(this.#ctx.store).filter((r) => r.live),
      (r) => r.key,
      'ListVpcConnectors',
      memberValue<number>(input, 'MaxResults'),
      memberValue<string>(input, 'NextToken'),
    );
    return { VpcConnectors: page.items.map(vpcConnectorOutput), ...(page.nextToken !== undefined && { NextToken: page.nextToken }) };
  }
}

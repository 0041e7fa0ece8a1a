/**
 * @module
 * App Runner's connection operations (app-runner-api.md §2.3) and Berth's
 * `CompleteConnectionHandshake`, which stands in for the console step that makes a connection
 * AVAILABLE. Connections are store records only: nothing here touches the runtime.
 */
import { BerthError, invalidRequest, invalidState, notFound, showValue } from '../core/errors.ts';
import {
  completedConnection,
  connectionOutput,
  deletedConnection,
  findConnection,
  handshakeCredential,
  liveConnections,
  serviceUsingConnection,
  type ConnectionRecord,
  type ProviderType,
} from '../core/connection.ts';
import { newHexId } from '../core/ids.ts';
import { paginate } from '../core/pagination.ts';
import { resourceArn } from '../core/resources.ts';
import { validateInput, type Tag } from '../core/service.ts';
import type { ApiContext, ApiInput, ApiOutput, OperationHandlers } from './api-context.ts';
import { mergeTags } from './service-api.ts';

export class ConnectionApi {
  readonly #ctx: ApiContext;

  constructor(ctx: ApiContext) {
    this.#ctx = ctx;
  }

  /** The App Runner operations this class answers (target prefix `AppRunner`). */
  handlers(): OperationHandlers {
    return {
      CreateConnection: (i) => this.createConnection(i),
      DeleteConnection: (i) => this.deleteConnection(i),
      ListConnections: (i) => this.listConnections(i),
    };
  }

  /** Berth's own connection operations (target prefix `Berth`). */
  extensionHandlers(): OperationHandlers {
    return {
      CompleteConnectionHandshake: (i) => this.completeConnectionHandshake(i),
    };
  }

  createConnection(input: ApiInput): ApiOutput {
    validateInput('CreateConnection', input);
    const { store, clock, quotas } = this.#ctx;
    const name = input.ConnectionName as string;
    // At most 50 tags: the shape's limit; a key given twice keeps its last value.
    const tags = mergeTags([], (input.Tags as Tag[] | undefined) ?? []);
    const now = clock.now();
    const arn = resourceArn(this.#ctx.arn, 'connection', name, newHexId());
    const record = store.transaction(() => {
      const live = liveConnections(store);
      if (live.some((c) => c.name === name)) {
        throw invalidRequest(`A connection named ${showValue(name)} already exists; choose another ConnectionName or delete that connection first`);
      }
      if (live.length >= quotas.connections) {
        throw new BerthError('ServiceQuotaExceededException', `You have reached the quota of ${quotas.connections} connections; delete one to create another`);
      }
      const record: ConnectionRecord = {
        kind: 'connection',
        key: arn,
        name,
        live: true,
        createdAt: now,
        data: { arn, name, providerType: input.ProviderType as ProviderType, status: 'PENDING_HANDSHAKE', createdAt: now },
      };
      store.putResource(record);
      if (tags.length > 0) store.setTags(arn, tags);
      return record;
    });
    return { Connection: connectionOutput(record) };
  }

  deleteConnection(input: ApiInput): ApiOutput {
    validateInput('DeleteConnection', input);
    const { store, clock } = this.#ctx;
    const arn = input.ConnectionArn as string;
    const record = store.transaction(() => {
      const current = findConnection(store, this.#ctx.arn, arn, 'connectionArn');
      if (!current.live) throw notFound(`Connection ${showValue(arn)} has already been deleted`);
      const user = serviceUsingConnection(store, current.key);
      if (user !== undefined) {
        throw invalidRequest(
          `Connection ${showValue(current.name)} is used by service ${showValue(user.name)} (its 'sourceConfiguration.authenticationConfiguration.connectionArn'); delete that service or move it to another connection first`,
        );
      }
      const deleted = deletedConnection(current, clock.now());
      store.putResource(deleted);
      return deleted;
    });
    return { Connection: connectionOutput(record) };
  }

  listConnections(input: ApiInput): ApiOutput {
    validateInput('ListConnections', input);
    const name = input.ConnectionName as string | undefined;
    const page = paginate(
      liveConnections(this.#ctx.store).filter((c) => name === undefined || c.name === name),
      (c) => c.key,
      `ListConnections ${name ?? ''}`,
      input.MaxResults as number | undefined,
      input.NextToken as string | undefined,
    );
    return { ConnectionSummaryList: page.items.map(connectionOutput), ...(page.nextToken !== undefined && { NextToken: page.nextToken }) };
  }

  completeConnectionHandshake(input: ApiInput): ApiOutput {
    const credential = handshakeCredential(input);
    const { store, clock, secrets } = this.#ctx;
    const record = store.transaction(() => {
      const current = findConnection(store, this.#ctx.arn, input.ConnectionArn as string, 'connectionArn');
      if (!current.live) {
        throw invalidState(`Connection ${showValue(current.name)} is DELETED; a deleted connection cannot be completed, create a new one (CreateConnection)`);
      }
      // Completing again replaces the credential: that is how a token is rotated.
      const completed = completedConnection(current, credential, secrets, clock.now());
      store.putResource(completed);
      return completed;
    });
    return { Connection: connectionOutput(record) };
  }
}

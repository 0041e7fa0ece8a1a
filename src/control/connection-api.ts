/**
 * @module
 * App Runner's connection operations (app-runner-api.md §2.3) and Berth's
 * `CompleteConnectionHandshake`, which stands in for the console step that makes a connection
 * AVAILABLE, with `GetConnectionWebhook` and `RotateConnectionWebhookSecret`, which give the
 * address and secret a git host's push webhook needs. Connections are store records only:
 * nothing here touches the runtime.
 */
import { BerthError, invalidRequest, invalidState, notFound, showValue } from '../core/errors.ts';
import {
  completedConnection,
  CONNECTION_EXTENSION_SHAPES,
  connectionOutput,
  connectionWebhookOutput,
  deletedConnection,
  ensureWebhookSecret,
  findConnection,
  handshakeCredential,
  liveConnections,
  newWebhookSecret,
  serviceUsingConnection,
  withWebhookSecret,
  type ConnectionRecord,
  type ProviderType,
} from '../core/connection.ts';
import { assertShape, type Shape } from '../core/model/shape.ts';
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
      GetConnectionWebhook: (i) => this.getConnectionWebhook(i),
      RotateConnectionWebhookSecret: (i) => this.rotateConnectionWebhookSecret(i),
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
      const record = withWebhookSecret(
        {
          kind: 'connection',
          key: arn,
          name,
          live: true,
          createdAt: now,
          data: { arn, name, providerType: input.ProviderType as ProviderType, status: 'PENDING_HANDSHAKE', createdAt: now },
        },
        newWebhookSecret(),
        this.#ctx.secrets,
      );
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

  /** The webhook path and secret; a connection stored before webhooks existed gets its secret now. */
  getConnectionWebhook(input: ApiInput): ApiOutput {
    assertShape(CONNECTION_EXTENSION_SHAPES.GetConnectionWebhook as Shape, input);
    const { store, secrets } = this.#ctx;
    return store.transaction(() => {
      const current = this.#liveConnection(input.ConnectionArn as string);
      return connectionWebhookOutput(current, ensureWebhookSecret(store, secrets, current));
    });
  }

  /** A new webhook secret: pushes signed with the old one are refused from now on. */
  rotateConnectionWebhookSecret(input: ApiInput): ApiOutput {
    assertShape(CONNECTION_EXTENSION_SHAPES.RotateConnectionWebhookSecret as Shape, input);
    const { store, secrets } = this.#ctx;
    return store.transaction(() => {
      const current = this.#liveConnection(input.ConnectionArn as string);
      const secret = newWebhookSecret();
      store.putResource(withWebhookSecret(current, secret, secrets));
      return connectionWebhookOutput(current, secret);
    });
  }

  /** A deleted connection's webhook went with it: ResourceNotFoundException, as for DeleteConnection. */
  #liveConnection(arn: string): ConnectionRecord {
    const record = findConnection(this.#ctx.store, this.#ctx.arn, arn, 'connectionArn');
    if (!record.live) throw notFound(`Connection ${showValue(record.name)} has been deleted; its webhook went with it`);
    return record;
  }
}

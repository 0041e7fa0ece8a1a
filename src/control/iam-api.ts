/**
 * @module
 * Berth's access-control operations (target prefix `Berth`, docs/access-control.md): users,
 * their access keys and inline policies, temporary credentials, and who-am-I. Errors use App
 * Runner's names like the rest of the API: InvalidRequestException for bad input and names
 * taken, ResourceNotFoundException for what does not exist, InvalidStateException for a user
 * that still has keys or policies, ServiceQuotaExceededException for the per-user limits.
 */
import { BerthError, invalidRequest, invalidState, notFound, showValue } from '../core/errors.ts';
import {
  accessKeySecretContext,
  MAX_ACCESS_KEYS_PER_USER,
  MAX_POLICIES_PER_USER,
  newSessionCredentials,
  newUserId,
  SESSION_DURATION,
  sessionSecretContext,
  sessionTokenHash,
  userArn,
  type AccessKeyRecord,
  type Caller,
  type UserRecord,
} from '../core/iam.ts';
import { newAccessKey } from '../core/ids.ts';
import { IAM_INPUT_SHAPES } from '../core/model/iam-shapes.ts';
import { assertShape } from '../core/model/shape.ts';
import { paginate } from '../core/pagination.ts';
import { parsePolicyDocument } from '../core/policy.ts';
import { epochSeconds } from '../core/time.ts';
import type { ApiContext, ApiInput, ApiOutput } from './api-context.ts';

/** An operation that needs to know who calls it. */
export type CallerOperationHandler = (input: ApiInput, caller: Caller) => ApiOutput;
export type CallerOperationHandlers = Record<string, CallerOperationHandler>;

/** Expired sessions are kept this long, so their clients hear "expired" rather than "invalid". */
const EXPIRED_SESSION_RETENTION_MS = 24 * 60 * 60 * 1000;

export class IamApi {
  readonly #ctx: ApiContext;

  constructor(ctx: ApiContext) {
    this.#ctx = ctx;
  }

  /** The operations this class answers, by Berth operation name. */
  handlers(): CallerOperationHandlers {
    return {
      CreateUser: (i) => this.createUser(i),
      GetUser: (i, c) => this.getUser(i, c),
      ListUsers: (i) => this.listUsers(i),
      DeleteUser: (i, c) => this.deleteUser(i, c),
      CreateAccessKey: (i, c) => this.createAccessKey(i, c),
      ListAccessKeys: (i, c) => this.listAccessKeys(i, c),
      UpdateAccessKey: (i, c) => this.updateAccessKey(i, c),
      DeleteAccessKey: (i, c) => this.deleteAccessKey(i, c),
      PutUserPolicy: (i) => this.putUserPolicy(i),
      GetUserPolicy: (i) => this.getUserPolicy(i),
      ListUserPolicies: (i) => this.listUserPolicies(i),
      DeleteUserPolicy: (i) => this.deleteUserPolicy(i),
      GetSessionToken: (i, c) => this.getSessionToken(i, c),
      GetCallerIdentity: (i, c) => this.getCallerIdentity(i, c),
    };
  }

  createUser(raw: ApiInput): ApiOutput {
    const input = validate('CreateUser', raw);
    const { store, clock } = this.#ctx;
    const name = input.UserName as string;
    const user = store.transaction(() => {
      const existing = store.findUserByName(name);
      if (existing !== undefined) {
        // IAM names are unique without regard to case: say which spelling holds the name.
        throw invalidRequest(`User with name ${showValue(name)} already exists${existing.name === name ? '' : ` (as ${showValue(existing.name)}; user names are not case-sensitive)`}; choose another UserName`);
      }
      const user: UserRecord = { id: newUserId(), name, createdAt: clock.now() };
      store.insertUser(user);
      return user;
    });
    return { User: this.#userOutput(user) };
  }

  getUser(raw: ApiInput, caller: Caller): ApiOutput {
    const input = validate('GetUser', raw);
    return { User: this.#userOutput(this.#user(input.UserName as string | undefined, caller)) };
  }

  listUsers(raw: ApiInput): ApiOutput {
    const input = validate('ListUsers', raw);
    const page = paginate(this.#ctx.store.listUsers(), (u) => u.id, 'ListUsers', input.MaxResults as number | undefined, input.NextToken as string | undefined);
    return { Users: page.items.map((u) => this.#userOutput(u)), ...(page.nextToken !== undefined && { NextToken: page.nextToken }) };
  }

  deleteUser(raw: ApiInput, caller: Caller): ApiOutput {
    const input = validate('DeleteUser', raw);
    const { store } = this.#ctx;
    store.transaction(() => {
      const user = this.#user(input.UserName as string, caller);
      if (user.id === caller.userId) {
        throw invalidRequest(`User ${showValue(user.name)} is the user making this request and cannot delete itself; sign in as another user to delete it`);
      }
      const keys = store.listAccessKeys(user.id).map((k) => k.accessKeyId);
      const policies = store.listUserPolicies(user.id).map((p) => p.name);
      if (keys.length > 0 || policies.length > 0) {
        // IAM's rule: nothing attached to a user disappears as a side effect of deleting it.
        const held = [
          ...(keys.length > 0 ? [`access keys ${keys.join(', ')} (DeleteAccessKey)`] : []),
          ...(policies.length > 0 ? [`policies ${policies.join(', ')} (DeleteUserPolicy)`] : []),
        ];
        throw invalidState(`Cannot delete user ${showValue(user.name)} while it has ${held.join(' and ')}; delete them first`);
      }
      store.deleteUser(user.id);
    });
    return {};
  }

  createAccessKey(raw: ApiInput, caller: Caller): ApiOutput {
    const input = validate('CreateAccessKey', raw);
    const { store, clock, secrets } = this.#ctx;
    const { accessKeyId, secretAccessKey } = newAccessKey();
    const { user, key } = store.transaction(() => {
      const user = this.#user(input.UserName as string | undefined, caller);
      const keys = store.listAccessKeys(user.id);
      if (keys.length >= MAX_ACCESS_KEYS_PER_USER) {
        throw new BerthError(
          'ServiceQuotaExceededException',
          `Cannot exceed quota for AccessKeysPerUser: ${MAX_ACCESS_KEYS_PER_USER}; user ${showValue(user.name)} has ${keys.map((k) => k.accessKeyId).join(' and ')}. Delete one (DeleteAccessKey) first`,
        );
      }
      const key: AccessKeyRecord = {
        accessKeyId,
        userId: user.id,
        status: 'Active',
        sealedSecret: secrets.seal(secretAccessKey, accessKeySecretContext(accessKeyId)),
        createdAt: clock.now(),
      };
      store.putAccessKey(key);
      return { user, key };
    });
    // The only time the secret leaves the store in clear: it cannot be read back later.
    return { AccessKey: { ...this.#keyOutput(user, key), SecretAccessKey: secretAccessKey } };
  }

  listAccessKeys(raw: ApiInput, caller: Caller): ApiOutput {
    const input = validate('ListAccessKeys', raw);
    const user = this.#user(input.UserName as string | undefined, caller);
    const page = paginate(this.#ctx.store.listAccessKeys(user.id), (k) => k.accessKeyId, `ListAccessKeys ${user.id}`, input.MaxResults as number | undefined, input.NextToken as string | undefined);
    return { AccessKeyMetadata: page.items.map((k) => this.#keyOutput(user, k)), ...(page.nextToken !== undefined && { NextToken: page.nextToken }) };
  }

  updateAccessKey(raw: ApiInput, caller: Caller): ApiOutput {
    const input = validate('UpdateAccessKey', raw);
    const { store } = this.#ctx;
    store.transaction(() => {
      const { key } = this.#accessKey(input, caller);
      const status = input.Status as AccessKeyRecord['status'];
      store.putAccessKey({ ...key, status });
      // Deactivating revokes what the key handed out: reactivating it does not revive them.
      if (status === 'Inactive') store.deleteSessionsOf(key.accessKeyId);
    });
    return {};
  }

  deleteAccessKey(raw: ApiInput, caller: Caller): ApiOutput {
    const input = validate('DeleteAccessKey', raw);
    const { store } = this.#ctx;
    store.transaction(() => {
      const { key } = this.#accessKey(input, caller);
      store.deleteAccessKey(key.accessKeyId);
    });
    return {};
  }

  putUserPolicy(raw: ApiInput): ApiOutput {
    const input = validate('PutUserPolicy', raw);
    const { store } = this.#ctx;
    const name = input.PolicyName as string;
    const document = input.PolicyDocument as string;
    parsePolicyDocument(document);
    store.transaction(() => {
      const user = this.#user(input.UserName as string, undefined);
      const policies = store.listUserPolicies(user.id);
      const replaces = policies.some((p) => p.name.toLowerCase() === name.toLowerCase());
      if (!replaces && policies.length >= MAX_POLICIES_PER_USER) {
        throw new BerthError(
          'ServiceQuotaExceededException',
          `Cannot exceed quota for PoliciesPerUser: ${MAX_POLICIES_PER_USER}; user ${showValue(user.name)} has ${policies.map((p) => p.name).join(', ')}. Delete one (DeleteUserPolicy) or merge the statements into an existing policy`,
        );
      }
      store.putUserPolicy({ userId: user.id, name, document });
    });
    return {};
  }

  getUserPolicy(raw: ApiInput): ApiOutput {
    const input = validate('GetUserPolicy', raw);
    const { user, policy } = this.#policy(input);
    return { UserName: user.name, PolicyName: policy.name, PolicyDocument: policy.document };
  }

  listUserPolicies(raw: ApiInput): ApiOutput {
    const input = validate('ListUserPolicies', raw);
    const user = this.#user(input.UserName as string, undefined);
    const page = paginate(this.#ctx.store.listUserPolicies(user.id), (p) => p.name, `ListUserPolicies ${user.id}`, input.MaxResults as number | undefined, input.NextToken as string | undefined);
    return { PolicyNames: page.items.map((p) => p.name), ...(page.nextToken !== undefined && { NextToken: page.nextToken }) };
  }

  deleteUserPolicy(raw: ApiInput): ApiOutput {
    const input = validate('DeleteUserPolicy', raw);
    const { store } = this.#ctx;
    store.transaction(() => {
      const { user, policy } = this.#policy(input);
      store.deleteUserPolicy(user.id, policy.name);
    });
    return {};
  }

  getSessionToken(raw: ApiInput, caller: Caller): ApiOutput {
    const input = validate('GetSessionToken', raw);
    if (caller.session) {
      // As in STS: a session minting sessions could outlive its own expiry indefinitely.
      throw new BerthError('AccessDeniedException', 'Cannot call GetSessionToken with session credentials; sign the request with a long-term access key (AKIA...)');
    }
    const { store, clock, secrets } = this.#ctx;
    const now = clock.now();
    const expiresAt = now + ((input.DurationSeconds as number | undefined) ?? SESSION_DURATION.default) * 1000;
    const credentials = newSessionCredentials();
    store.transaction(() => {
      // The key that signed this request may have been deleted or deactivated a moment ago.
      if (store.getAccessKey(caller.accessKeyId)?.status !== 'Active') {
        throw new BerthError('UnrecognizedClientException', 'The security token included in the request is invalid.');
      }
      store.deleteSessionsExpiredBefore(now - EXPIRED_SESSION_RETENTION_MS);
      store.insertSession({
        accessKeyId: credentials.accessKeyId,
        parentAccessKeyId: caller.accessKeyId,
        userId: caller.userId,
        sealedSecret: secrets.seal(credentials.secretAccessKey, sessionSecretContext(credentials.accessKeyId)),
        tokenHash: sessionTokenHash(credentials.sessionToken),
        createdAt: now,
        expiresAt,
      });
    });
    return {
      Credentials: {
        AccessKeyId: credentials.accessKeyId,
        SecretAccessKey: credentials.secretAccessKey,
        SessionToken: credentials.sessionToken,
        Expiration: epochSeconds(expiresAt),
      },
    };
  }

  getCallerIdentity(raw: ApiInput, caller: Caller): ApiOutput {
    validate('GetCallerIdentity', raw);
    return { UserId: caller.userId, Account: this.#ctx.arn.accountId, Arn: caller.userArn };
  }

  /** The named user, or the caller when the name is absent (only where IAM allows that). */
  #user(name: string | undefined, caller: Caller | undefined): UserRecord {
    const { store } = this.#ctx;
    const user = name === undefined ? store.getUser(caller?.userId ?? '') : store.findUserByName(name);
    if (user === undefined) {
      throw notFound(`The user with name ${showValue(name ?? caller?.userName)} cannot be found; ListUsers shows the users there are`);
    }
    return user;
  }

  /** The user (UserName or the caller) and its key AccessKeyId; another user's key is not found. */
  #accessKey(input: ApiInput, caller: Caller): { user: UserRecord; key: AccessKeyRecord } {
    const user = this.#user(input.UserName as string | undefined, caller);
    const id = input.AccessKeyId as string;
    const key = this.#ctx.store.getAccessKey(id);
    if (key === undefined || key.userId !== user.id) {
      throw notFound(`The access key with id ${showValue(id)} cannot be found for user ${showValue(user.name)}; ListAccessKeys shows its keys`);
    }
    return { user, key };
  }

  #policy(input: ApiInput): { user: UserRecord; policy: { name: string; document: string } } {
    const user = this.#user(input.UserName as string, undefined);
    const policy = this.#ctx.store.getUserPolicy(user.id, input.PolicyName as string);
    if (policy === undefined) {
      throw notFound(`The user policy with name ${showValue(input.PolicyName)} cannot be found for user ${showValue(user.name)}; ListUserPolicies shows its policies`);
    }
    return { user, policy };
  }

  #userOutput(user: UserRecord): ApiOutput {
    return { UserName: user.name, UserId: user.id, Arn: userArn(this.#ctx.arn, user.name), CreateDate: epochSeconds(user.createdAt) };
  }

  #keyOutput(user: UserRecord, key: AccessKeyRecord): ApiOutput {
    return { UserName: user.name, AccessKeyId: key.accessKeyId, Status: key.status, CreateDate: epochSeconds(key.createdAt) };
  }
}

/** Checks the input against its shape; returns it without JSON null members, which count as absent. */
function validate(operation: string, input: ApiInput): ApiInput {
  const shape = IAM_INPUT_SHAPES[operation];
  if (shape === undefined) throw new Error(`no input shape for ${operation}`);
  assertShape(shape, input);
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== null));
}

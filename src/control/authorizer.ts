/**
 * @module
 * Who a request is from and whether it may do what it asks: finds the credential behind an
 * access key id (for the API server's signature check) and evaluates the caller's inline
 * policies against the action and resource of the request (core/iam-resource-table.ts).
 * Every principal goes through the same evaluation; the administrator is allowed everything
 * only because its policy says so.
 */
import { BerthError, showValue } from '../core/errors.ts';
import {
  accessKeySecretContext,
  isSessionKeyId,
  sessionSecretContext,
  userArn,
  type Caller,
  type CallerCredential,
  type UserRecord,
} from '../core/iam.ts';
import { authorizationRequest } from '../core/iam-resource-table.ts';
import type { ArnContext } from '../core/ids.ts';
import { checkPolicyDocument, evaluatePolicies, type PolicyDocument } from '../core/policy.ts';
import type { SecretBox } from '../core/secret-box.ts';
import type { Store } from '../core/store.ts';

export interface AuthorizerDeps {
  store: Store;
  secrets: SecretBox;
  arn: ArnContext;
}

export class Authorizer {
  readonly #deps: AuthorizerDeps;

  constructor(deps: AuthorizerDeps) {
    this.#deps = deps;
  }

  /**
   * The credential behind an access key id, or undefined when no usable key has that id: it
   * never existed, was deleted, is Inactive, or is a session whose parent key is gone or
   * Inactive. Read from the store on every request, so a change takes effect at once.
   */
  credential(accessKeyId: string): CallerCredential | undefined {
    const { store, secrets } = this.#deps;
    if (isSessionKeyId(accessKeyId)) {
      const session = store.getSession(accessKeyId);
      const parent = session === undefined ? undefined : store.getAccessKey(session.parentAccessKeyId);
      const user = parent?.status === 'Active' ? store.getUser(parent.userId) : undefined;
      if (session === undefined || user === undefined) return undefined;
      return {
        secret: secrets.open(session.sealedSecret, sessionSecretContext(accessKeyId)),
        caller: this.#caller(user, accessKeyId, true),
        session: { tokenHash: session.tokenHash, expiresAt: session.expiresAt },
      };
    }
    const key = store.getAccessKey(accessKeyId);
    const user = key?.status === 'Active' ? store.getUser(key.userId) : undefined;
    if (key === undefined || user === undefined) return undefined;
    return { secret: secrets.open(key.sealedSecret, accessKeySecretContext(accessKeyId)), caller: this.#caller(user, accessKeyId, false) };
  }

  /**
   * Throws AccessDeniedException unless the caller's policies allow the request: an explicit
   * Deny wins over any Allow, and without an Allow the answer is no.
   */
  authorize(caller: Caller, target: string, input: Readonly<Record<string, unknown>>): void {
    const { store, arn } = this.#deps;
    const { action, resource, alwaysAllowed } = authorizationRequest(target, input, { arn, callerArn: caller.userArn });
    if (alwaysAllowed) return;
    const documents: PolicyDocument[] = [];
    for (const policy of store.listUserPolicies(caller.userId)) {
      const { document } = checkPolicyDocument(policy.document);
      // Only possible if a later Berth reads policies more strictly than the one that stored
      // them; ignoring the policy could drop a Deny, so refuse instead.
      if (document === undefined) {
        throw denied(`${refusal(caller, action, resource)} because its policy ${showValue(policy.name)} is no longer valid; put it again (PutUserPolicy)`);
      }
      documents.push(document);
    }
    const decision = evaluatePolicies(documents, action, resource);
    if (decision === 'allow') return;
    throw denied(`${refusal(caller, action, resource)}${decision === 'explicit-deny' ? ' with an explicit deny' : ''}`);
  }

  #caller(user: UserRecord, accessKeyId: string, session: boolean): Caller {
    return { userId: user.id, userName: user.name, userArn: userArn(this.#deps.arn, user.name), accessKeyId, session };
  }
}

const refusal = (caller: Caller, action: string, resource: string): string =>
  `User: ${caller.userArn} is not authorized to perform: ${action} on resource: ${resource}`;

const denied = (message: string): BerthError => new BerthError('AccessDeniedException', message);

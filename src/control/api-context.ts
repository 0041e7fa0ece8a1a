/**
 * @module
 * What every family of API operations is built from, and the handler form they all export.
 */
import type { Clock } from '../core/clock.ts';
import type { Quotas } from '../core/config.ts';
import type { ArnContext } from '../core/ids.ts';
import type { SecretBox } from '../core/secret-box.ts';
import type { ServiceSettings } from '../core/service-settings.ts';
import type { Store } from '../core/store.ts';

export interface ApiContext {
  store: Store;
  clock: Clock;
  /** The account and region every ARN is in. */
  arn: ArnContext;
  /** The domain service hosts live under: `<name>-<short id>.<domain>`. */
  domain: string;
  quotas: Readonly<Quotas>;
  /** The installation's defaults of services' own settings (`defaultServiceSettings(config)`). */
  serviceSettings: Readonly<ServiceSettings>;
  /** Seals secrets stored at rest (keys, credentials). */
  secrets: SecretBox;
  /** Called after every write that the reconciler should act on. */
  onChange: () => void;
}

export type ApiInput = Record<string, unknown>;
export type ApiOutput = Record<string, unknown>;
/** An operation's implementation: validates its own input, throws BerthError for the client. */
export type OperationHandler = (input: ApiInput) => ApiOutput;
export type OperationHandlers = Record<string, OperationHandler>;

/** A member's value; JSON null counts as absent, as AWS treats it (the shape check skips nulls too). */
export function memberValue<T>(input: ApiInput, name: string): T | undefined {
  const value = input[name];
  return value === null ? undefined : (value as T | undefined);
}

/**
 * The table format of the invalid-request suite: each family of operations contributes a
 * `*.cases.ts` file exporting a `CaseFamily`. Its `setup` creates the resources its cases refer
 * to (by name, in the returned fixtures); every case is then sent as a raw signed request and
 * must fail with its error type and HTTP status, a message matching `message`, and no change
 * to anything in the store.
 */
import type { ApiHarness } from '../../support/api-harness.ts';

/** Named values the cases refer to: ARNs of resources in known states. */
export type Fixtures = Readonly<Record<string, string>>;

export interface InvalidCase {
  /** What is wrong, in a few words (the test's name). */
  name: string;
  /** An App Runner operation name, or a full target such as `Berth.CreateUser`. */
  operation: string;
  /** The request body: an object (serialised as JSON), or a string sent as is. */
  body: (f: Fixtures) => unknown;
  /** The expected `__type`. */
  error: string;
  /** The expected HTTP status; default: the error's status in Berth's catalog. */
  status?: number;
  /** What the message must say (the member path, the bad value, the constraint). */
  message: RegExp;
}

export interface CaseFamily {
  name: string;
  setup?: (api: ApiHarness, fixtures: Fixtures) => Promise<Record<string, string>>;
  cases: (InvalidCase | InvalidCase[])[];
}

/**
 * @module
 * Input shapes of Berth's access-control operations (target prefix `Berth`), modelled on IAM's
 * and STS's own (member names, lengths and patterns), as the server checks them.
 */
import { int, str, struct, type Shape } from './shape.ts';
import { SESSION_DURATION } from '../iam.ts';

/** IAM's `userNameType`: `[\w+=,.@-]+`, 1–64. */
export const USER_NAME = str({ min: 1, max: 64, pattern: /^[\w+=,.@-]+$/ });
/** IAM's `policyNameType`: `[\w+=,.@-]+`, 1–128. */
export const POLICY_NAME = str({ min: 1, max: 128, pattern: /^[\w+=,.@-]+$/ });
/** IAM's `accessKeyIdType`: `[\w]+`, 16–128. */
export const ACCESS_KEY_ID = str({ min: 16, max: 128, pattern: /^\w+$/ });
export const ACCESS_KEY_STATUS = str({ enum: ['Active', 'Inactive'] });
/**
 * IAM's `policyDocumentType`: 1–131072 characters, tab, newline, carriage return and printable
 * Latin-1. The policy language's own size limit (MAX_POLICY_CHARACTERS) is checked after.
 */
// eslint-disable-next-line no-control-regex
export const POLICY_DOCUMENT = str({ min: 1, max: 131_072, pattern: /^[\u0009\u000A\u000D\u0020-\u00FF]+$/ });
/**
 * Paging as in App Runner's newer list operations (`NextToken` from the previous page, absent
 * `MaxResults` meaning everything), not IAM's Marker/MaxItems: one convention across the API.
 */
const NEXT_TOKEN = str({ min: 1, max: 1024 });
const MAX_RESULTS = int({ min: 1, max: 1000 });

/** Input shapes of Berth's access-control operations, by operation name. */
export const IAM_INPUT_SHAPES: Readonly<Record<string, Shape>> = {
  CreateUser: struct({ UserName: USER_NAME }, ['UserName']),
  GetUser: struct({ UserName: USER_NAME }),
  ListUsers: struct({ NextToken: NEXT_TOKEN, MaxResults: MAX_RESULTS }),
  DeleteUser: struct({ UserName: USER_NAME }, ['UserName']),

  CreateAccessKey: struct({ UserName: USER_NAME }),
  ListAccessKeys: struct({ UserName: USER_NAME, NextToken: NEXT_TOKEN, MaxResults: MAX_RESULTS }),
  UpdateAccessKey: struct({ UserName: USER_NAME, AccessKeyId: ACCESS_KEY_ID, Status: ACCESS_KEY_STATUS }, ['AccessKeyId', 'Status']),
  DeleteAccessKey: struct({ UserName: USER_NAME, AccessKeyId: ACCESS_KEY_ID }, ['AccessKeyId']),

  PutUserPolicy: struct({ UserName: USER_NAME, PolicyName: POLICY_NAME, PolicyDocument: POLICY_DOCUMENT }, ['UserName', 'PolicyName', 'PolicyDocument']),
  GetUserPolicy: struct({ UserName: USER_NAME, PolicyName: POLICY_NAME }, ['UserName', 'PolicyName']),
  ListUserPolicies: struct({ UserName: USER_NAME, NextToken: NEXT_TOKEN, MaxResults: MAX_RESULTS }, ['UserName']),
  DeleteUserPolicy: struct({ UserName: USER_NAME, PolicyName: POLICY_NAME }, ['UserName', 'PolicyName']),

  GetSessionToken: struct({ DurationSeconds: int({ min: SESSION_DURATION.min, max: SESSION_DURATION.max }) }),
  GetCallerIdentity: struct({}),
};

/** Berth's access-control operation names (each is called as `Berth.<name>`). */
export const IAM_OPERATIONS: readonly string[] = Object.keys(IAM_INPUT_SHAPES);

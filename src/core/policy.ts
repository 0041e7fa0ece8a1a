/**
 * @module
 * The subset of IAM's JSON policy language Berth understands, and its evaluation. A document
 * is validated once, when it is put, with a message per bad element; evaluation follows IAM's
 * order: an explicit Deny wins, then an Allow, and anything not allowed is denied.
 *
 * Reference: IAM User Guide, "IAM JSON policy elements reference" and "Policy evaluation logic".
 */
import { invalidRequest, showValue } from './errors.ts';
import { isPlainObject } from './model/shape.ts';
import { APP_RUNNER_OPERATIONS } from './model/app-runner-shapes.ts';

export const POLICY_VERSIONS: readonly string[] = ['2012-10-17', '2008-10-17'];
/**
 * Largest document, in characters other than whitespace (IAM does not count whitespace
 * either). IAM's own limit for a managed policy; Berth applies it to each inline policy.
 */
export const MAX_POLICY_CHARACTERS = 6144;
/** The action prefixes Berth answers to: App Runner's operations and Berth's own. */
export const ACTION_PREFIXES: readonly string[] = ['apprunner', 'berth'];

export type Effect = 'Allow' | 'Deny';

/** One statement, normalised: lists everywhere, exactly one of each Action/NotAction and Resource/NotResource pair set. */
export interface PolicyStatement {
  sid?: string;
  effect: Effect;
  action?: readonly string[];
  notAction?: readonly string[];
  resource?: readonly string[];
  notResource?: readonly string[];
}

export interface PolicyDocument {
  version: string;
  statements: readonly PolicyStatement[];
}

export type Decision = 'allow' | 'explicit-deny' | 'implicit-deny';

const TOP_LEVEL_KEYS: readonly string[] = ['Version', 'Id', 'Statement'];
const STATEMENT_KEYS: readonly string[] = ['Sid', 'Effect', 'Action', 'NotAction', 'Resource', 'NotResource'];
const SID_PATTERN = /^[A-Za-z0-9]*$/;
const ACTION_PATTERN = /^([A-Za-z0-9-]+):([A-Za-z0-9*?]+)$/;
// arn:partition:service:region:account:resource — the resource part may itself hold colons.
const ARN_SEGMENTS = 6;

/**
 * Parses and validates a policy document. Throws InvalidRequestException naming every bad
 * element (`Statement[1].Effect`, ...), its value and what is allowed instead.
 */
export function parsePolicyDocument(text: string): PolicyDocument {
  const { document, problems } = checkPolicyDocument(text);
  if (document === undefined || problems.length > 0) {
    throw invalidRequest(`The policy document is malformed: ${problems.join('; ')}`);
  }
  return document;
}

/** Every problem with a document (empty when it is valid), and the document when it parsed. */
export function checkPolicyDocument(text: string): { document?: PolicyDocument; problems: string[] } {
  const size = text.replace(/\s/g, '').length;
  if (size > MAX_POLICY_CHARACTERS) {
    return { problems: [`it has ${size} characters other than whitespace; at most ${MAX_POLICY_CHARACTERS} are allowed. Split it into several policies`] };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { problems: [`it is not valid JSON (${(error as Error).message})`] };
  }
  if (!isPlainObject(value)) return { problems: [`it must be a JSON object with Version and Statement, not ${showValue(text)}`] };

  const problems: string[] = [];
  for (const key of Object.keys(value)) {
    if (!TOP_LEVEL_KEYS.includes(key)) problems.push(`unknown element ${showValue(key)}; a policy has ${TOP_LEVEL_KEYS.join(', ')}`);
  }
  const version = value.Version;
  if (version === undefined) {
    problems.push(`Version is missing; add "Version": "2012-10-17"`);
  } else if (typeof version !== 'string' || !POLICY_VERSIONS.includes(version)) {
    problems.push(`Version ${showValue(version)} is not supported; use one of ${POLICY_VERSIONS.join(', ')}`);
  }
  if (value.Id !== undefined && typeof value.Id !== 'string') problems.push(`Id must be a string, not ${showValue(value.Id)}`);

  const raw = value.Statement;
  const statements: PolicyStatement[] = [];
  if (raw === undefined) {
    problems.push('Statement is missing; a policy needs at least one statement');
  } else if (Array.isArray(raw) && raw.length === 0) {
    problems.push('Statement is an empty list; a policy needs at least one statement');
  } else {
    const list: unknown[] = Array.isArray(raw) ? raw : [raw];
    const sids = new Set<string>();
    list.forEach((item, index) => {
      const path = Array.isArray(raw) ? `Statement[${index}]` : 'Statement';
      const statement = checkStatement(item, path, problems);
      if (statement?.sid !== undefined && statement.sid !== '') {
        if (sids.has(statement.sid)) problems.push(`${path}.Sid ${showValue(statement.sid)} is used by an earlier statement; Sids must be unique`);
        sids.add(statement.sid);
      }
      if (statement !== undefined) statements.push(statement);
    });
  }
  if (problems.length > 0) return { problems };
  return { document: { version: version as string, statements }, problems };
}

function checkStatement(value: unknown, path: string, problems: string[]): PolicyStatement | undefined {
  if (!isPlainObject(value)) {
    problems.push(`${path} must be an object with Effect, Action and Resource, not ${showValue(value)}`);
    return undefined;
  }
  const before = problems.length;
  for (const key of Object.keys(value)) {
    if (key === 'Condition') {
      problems.push(`${path}.Condition is not supported by Berth; remove it and narrow the statement with Resource or NotResource instead`);
    } else if (key === 'Principal' || key === 'NotPrincipal') {
      problems.push(`${path}.${key} is not allowed: a user's policy always applies to that user (IAM refuses ${key} in identity policies too); remove it`);
    } else if (!STATEMENT_KEYS.includes(key)) {
      problems.push(`${path} has an unknown element ${showValue(key)}; a statement has ${STATEMENT_KEYS.join(', ')}`);
    }
  }
  const sid = value.Sid;
  if (sid !== undefined && (typeof sid !== 'string' || !SID_PATTERN.test(sid))) {
    problems.push(`${path}.Sid ${showValue(sid)} must be a string of letters and digits only`);
  }
  const effect = value.Effect;
  if (effect === undefined) problems.push(`${path}.Effect is missing; it must be 'Allow' or 'Deny'`);
  else if (effect !== 'Allow' && effect !== 'Deny') problems.push(`${path}.Effect must be 'Allow' or 'Deny' (case-sensitive), not ${showValue(effect)}`);

  const action = onlyOne(value, path, 'Action', 'NotAction', problems);
  const resource = onlyOne(value, path, 'Resource', 'NotResource', problems);
  const actions = action === undefined ? undefined : stringList(value[action], `${path}.${action}`, problems, checkAction);
  const resources = resource === undefined ? undefined : stringList(value[resource], `${path}.${resource}`, problems, checkResource);
  if (problems.length > before || actions === undefined || resources === undefined) return undefined;

  const statement: PolicyStatement = { effect: effect as Effect };
  if (typeof sid === 'string') statement.sid = sid;
  if (action === 'Action') statement.action = actions;
  else statement.notAction = actions;
  if (resource === 'Resource') statement.resource = resources;
  else statement.notResource = resources;
  return statement;
}

/** Which one of a pair of exclusive elements the statement has; a problem unless exactly one. */
function onlyOne<K extends string>(statement: Record<string, unknown>, path: string, a: K, b: K, problems: string[]): K | undefined {
  const hasA = statement[a] !== undefined;
  const hasB = statement[b] !== undefined;
  if (hasA && hasB) problems.push(`${path} has both ${a} and ${b}; keep exactly one of them`);
  else if (!hasA && !hasB) problems.push(`${path} has neither ${a} nor ${b}; add ${a} (e.g. ${a === 'Action' ? '"apprunner:DescribeService"' : '"*"'})`);
  else return hasA ? a : b;
  return undefined;
}

function stringList(value: unknown, path: string, problems: string[], check: (item: string, path: string) => string | undefined): string[] | undefined {
  const items = Array.isArray(value) ? value : [value];
  if (Array.isArray(value) && value.length === 0) {
    problems.push(`${path} is an empty list; give at least one value`);
    return undefined;
  }
  const before = problems.length;
  items.forEach((item, index) => {
    const at = Array.isArray(value) ? `${path}[${index}]` : path;
    if (typeof item !== 'string') {
      problems.push(`${at} must be a string, not ${showValue(item)}`);
      return;
    }
    const problem = check(item, at);
    if (problem !== undefined) problems.push(problem);
  });
  return problems.length > before ? undefined : (items as string[]);
}

function checkAction(action: string, path: string): string | undefined {
  if (action === '*') return undefined;
  const match = ACTION_PATTERN.exec(action);
  if (match === null) {
    return `${path} ${showValue(action)} is not an action; write '<service>:<Operation>' (wildcards * and ? allowed in the operation), e.g. 'apprunner:DescribeService', or '*'`;
  }
  const [, prefix = '', name = ''] = match;
  if (!ACTION_PREFIXES.includes(prefix.toLowerCase())) {
    return `${path} ${showValue(action)} names the service ${showValue(prefix)}; Berth's actions are ${ACTION_PREFIXES.map((p) => `'${p}:<Operation>'`).join(' and ')}`;
  }
  // App Runner's operations are a closed set, so a typo can be caught; Berth's grow with it.
  if (prefix.toLowerCase() === 'apprunner' && !APP_RUNNER_OPERATIONS.some((op) => wildcardMatch(name, op, true))) {
    return `${path} ${showValue(action)} matches no App Runner operation; the operations are ${APP_RUNNER_OPERATIONS.join(', ')}`;
  }
  return undefined;
}

function checkResource(resource: string, path: string): string | undefined {
  if (resource === '*' || splitArn(resource) !== undefined) return undefined;
  return `${path} ${showValue(resource)} must be an ARN (arn:<partition>:<service>:<region>:<account>:<resource>, wildcards * and ? allowed) or '*'`;
}

/** An ARN's six parts: the first five split at colons, the resource (which may hold colons) whole. */
function splitArn(arn: string): string[] | undefined {
  const parts = arn.split(':');
  if (parts.length < ARN_SEGMENTS || parts[0] !== 'arn' || parts.slice(ARN_SEGMENTS - 1).join(':') === '') return undefined;
  return [...parts.slice(0, ARN_SEGMENTS - 1), parts.slice(ARN_SEGMENTS - 1).join(':')];
}

/**
 * The decision of a set of policies for one action on one resource: `explicit-deny` when a
 * Deny statement applies (whatever allows it), else `allow` when an Allow statement applies,
 * else `implicit-deny`.
 */
export function evaluatePolicies(policies: readonly PolicyDocument[], action: string, resource: string): Decision {
  let allowed = false;
  for (const policy of policies) {
    for (const statement of policy.statements) {
      if (!statementApplies(statement, action, resource)) continue;
      if (statement.effect === 'Deny') return 'explicit-deny';
      allowed = true;
    }
  }
  return allowed ? 'allow' : 'implicit-deny';
}

/** Whether a statement covers an action and a resource (its Effect aside). */
export function statementApplies(statement: PolicyStatement, action: string, resource: string): boolean {
  const actionMatches = statement.action !== undefined
    ? statement.action.some((p) => actionMatch(p, action))
    : !(statement.notAction ?? []).some((p) => actionMatch(p, action));
  if (!actionMatches) return false;
  return statement.resource !== undefined
    ? statement.resource.some((p) => resourceMatch(p, resource))
    : !(statement.notResource ?? []).some((p) => resourceMatch(p, resource));
}

/** Actions compare without regard to case, as in IAM (`AppRunner:describeservice` is fine). */
export function actionMatch(pattern: string, action: string): boolean {
  return wildcardMatch(pattern, action, true);
}

/**
 * Resources compare case-sensitively, segment by segment: a wildcard in the region does not
 * reach into the account. A pattern of `*` matches any resource, including `*` itself.
 */
export function resourceMatch(pattern: string, resource: string): boolean {
  if (pattern === '*') return true;
  const want = splitArn(pattern);
  const have = splitArn(resource);
  if (want === undefined || have === undefined) return false;
  return want.every((segment, i) => wildcardMatch(segment, have[i] ?? '', false));
}

/**
 * Glob match: `*` is any run of characters (also none), `?` exactly one. Greedy with one
 * backtrack point, so time is at most the product of the two lengths (a regular expression
 * built from a pattern like `*a*a*a…` could backtrack exponentially).
 */
export function wildcardMatch(pattern: string, text: string, ignoreCase: boolean): boolean {
  const p = ignoreCase ? pattern.toLowerCase() : pattern;
  const t = ignoreCase ? text.toLowerCase() : text;
  let pi = 0;
  let ti = 0;
  let star = -1;
  let mark = 0;
  while (ti < t.length) {
    if (pi < p.length && (p[pi] === '?' || p[pi] === t[ti])) {
      pi++;
      ti++;
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++;
      mark = ti;
    } else if (star !== -1) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (p[pi] === '*') pi++;
  return pi === p.length;
}

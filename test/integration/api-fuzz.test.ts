/**
 * Property-based fuzzing of the whole API with fast-check, against a real control plane over
 * an in-memory runtime. Every operation with an exported input shape (App Runner's 37, and
 * Berth's own under the `Berth` prefix when their shape tables exist) gets:
 *   (a) any JSON value as its body;
 *   (b) bodies derived from its Shape: valid-looking ones, then mutated ones (required members
 *       dropped, wrong types, lengths at and past the bounds, integers out of range, control
 *       characters, astral and lone-surrogate Unicode, very long strings, unknown members such
 *       as `__proto__`, deep nesting, large arrays and maps), and for the operations with a
 *       known-good template, that template with one node mutated, to reach the rules past the
 *       shape (creates succeed, names collide, ARNs name real resources);
 *   (c) byte-level mutations of valid-looking bodies (truncation, invalid UTF-8, a byte order
 *       mark, duplicate keys, 1e309 and other odd numbers, `__proto__`/`constructor` keys).
 * Each is sent SigV4-signed, and every reply must be: below 500, a JSON object, and when not
 * 200 an error from the catalog (`ERRORS`) with that entry's HTTP status and a string Message
 * of at most 600 characters. The server must still answer ListServices afterwards, and no
 * request may pollute Object.prototype (the control plane runs in this process).
 *
 * Reproduce a run: BERTH_FUZZ_SEED=<seed printed as a diagnostic> replays the same inputs (the
 * server's state can still differ with the reconciler's timing; a failure prints its shrunk
 * counterexample, which is what to keep as a regression test). Scale the number of runs and the
 * time limits with BERTH_FUZZ_SCALE (default 1: about 20 s on two cores, at most about 50 s as
 * each part stops at its time limit).
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import fc from 'fast-check';
import { ERRORS } from '../../src/core/errors.ts';
import { INPUT_SHAPES } from '../../src/core/model/app-runner-shapes.ts';
import type { Shape } from '../../src/core/model/shape.ts';
import { startApiHarness, type ApiHarness } from '../support/api-harness.ts';
import { signedSendBytes, type RawReply } from '../support/raw-signed-request.ts';

function envNumber(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) && name === 'BERTH_FUZZ_SEED') throw new Error(`${name}=${text} is not an integer seed`);
  if (!(value > 0) && name !== 'BERTH_FUZZ_SEED') throw new Error(`${name}=${text} is not a positive number`);
  return value;
}

const SEED = envNumber('BERTH_FUZZ_SEED', randomInt(2 ** 31 - 1));
const SCALE = envNumber('BERTH_FUZZ_SCALE', 1);
const runs = (n: number): number => Math.max(1, Math.round(n * SCALE));
/** A generous bound per property, so a slow machine ends early rather than timing out. */
const timeLimit = (ms: number): number => Math.round(ms * SCALE);

interface Target {
  /** `X-Amz-Target`: `AppRunner.<Op>` or `Berth.<Op>`. */
  target: string;
  shape: Shape;
}

/** Berth's own shape tables, when they exist: every `*_SHAPES` export that maps operation names to Shapes. */
const BERTH_SHAPE_MODULES = ['../../src/core/model/iam-shapes.ts', '../../src/core/connection.ts'];

function isShape(value: unknown): value is Shape {
  return typeof value === 'object' && value !== null && ['string', 'integer', 'boolean', 'structure', 'list', 'map'].includes((value as { type?: unknown }).type as string);
}

async function discoverTargets(): Promise<{ targets: Target[]; notes: string[] }> {
  const targets: Target[] = Object.entries(INPUT_SHAPES).map(([name, shape]) => ({ target: `AppRunner.${name}`, shape }));
  const notes: string[] = [];
  for (const path of BERTH_SHAPE_MODULES) {
    let module: Record<string, unknown>;
    try {
      // A computed specifier: these modules are optional and may not exist yet.
      module = (await import(new URL(path, import.meta.url).href)) as Record<string, unknown>;
    } catch (error) {
      if ((error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') {
        notes.push(`${path} does not exist; its operations are not fuzzed`);
        continue;
      }
      throw error;
    }
    for (const [exportName, table] of Object.entries(module)) {
      if (!exportName.endsWith('_SHAPES') || typeof table !== 'object' || table === null) continue;
      const entries = Object.entries(table);
      if (entries.length === 0 || !entries.every(([, shape]) => isShape(shape))) continue;
      for (const [name, shape] of entries) targets.push({ target: `Berth.${name}`, shape: shape as Shape });
      notes.push(`${path} ${exportName}: ${entries.map(([name]) => `Berth.${name}`).join(', ')}`);
    }
  }
  return { targets, notes };
}

const { targets: TARGETS, notes: TARGET_NOTES } = await discoverTargets();

// ---------------------------------------------------------------------------------------------
// JSON with what JSON.stringify cannot write: raw number literals, duplicate keys, own
// `__proto__` members, nesting deeper than a recursive serializer survives.

/** A piece of JSON text spliced in verbatim. */
class RawJson {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
  toString(): string {
    return this.text.length > 60 ? `RawJson(${this.text.slice(0, 30)}…${this.text.length} chars)` : `RawJson(${this.text})`;
  }
}

function serialize(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof RawJson) {
      raws.push(v.text);
      return `\u0000raw${raws.length - 1}\u0000`;
    }
    return v;
  });
  return raws.length === 0 ? text : text.replace(/"\\u0000raw(\d+)\\u0000"/g, (_m, i: string) => raws[Number(i)] ?? 'null');
}

/** An object with an own member, even one named `__proto__` (assignment would set the prototype). */
function withMember(base: Record<string, unknown>, name: string, value: unknown): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(base)) Object.defineProperty(copy, k, { value: v, enumerable: true, writable: true, configurable: true });
  Object.defineProperty(copy, name, { value, enumerable: true, writable: true, configurable: true });
  return copy;
}

const nested = (depth: number, kind: 'array' | 'object'): RawJson =>
  new RawJson(kind === 'array' ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}0${'}'.repeat(depth)}`);

// ---------------------------------------------------------------------------------------------
// What the server has made, so generated ARNs and tokens sometimes name real things.

const pool = { arns: new Set<string>(['arn:aws:apprunner:us-east-1:000000000000:autoscalingconfiguration/DefaultConfiguration/1/00000000000000000000000000000001']), tokens: new Set<string>() };

function harvest(value: unknown, depth = 0): void {
  if (depth > 8) return;
  if (typeof value === 'string') {
    if (value.startsWith('arn:aws:apprunner:') && pool.arns.size < 500) pool.arns.add(value);
  } else if (Array.isArray(value)) {
    for (const item of value) harvest(item, depth + 1);
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      if (key === 'NextToken' && typeof item === 'string' && pool.tokens.size < 200) pool.tokens.add(item);
      else harvest(item, depth + 1);
    }
  }
}

/** Picks from a pool at generation time (the pool grows as the run goes on). */
const fromPool = (set: Set<string>, fallback: string): fc.Arbitrary<string> =>
  fc.nat().map((i) => {
    const items = [...set];
    return items.length === 0 ? fallback : (items[i % items.length] as string);
  });

// ---------------------------------------------------------------------------------------------
// Arbitraries derived from a Shape.

const ARN_LIKE = /arn:aws\(-/;
const CONTROL = fc.constantFrom('\u0000', '\u0001', '\u0007', '\b', '\t', '\n', '\r', '\u001b', '\u001f', '\u007f', '\u0085', '\u2028', '\u2029');
const ODD_UNICODE = fc.constantFrom('\ud800', '\udfff', '\ud83d\ude00', '\u202e', '\ufeff', 'e\u0301', '\uffff', 'ﬁ', 'İ', '\u0000\u0000', '𝒜');
const ODD_NUMBERS = ['1e309', '-1e309', '1e-400', '-0', '123456789012345678901234567890', '0.1e1', '1E2', '-9007199254740993', '4.9e-324'].map((t) => new RawJson(t));
const ODD_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', '', ' ', 'Extra', '\u0000'];

/** Values a member of another type gets. */
const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 12 }),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
  fc.constantFrom(...ODD_NUMBERS),
);

const deepNesting: fc.Arbitrary<unknown> = fc.tuple(fc.integer({ min: 2, max: 20_000 }), fc.constantFrom<'array' | 'object'>('array', 'object')).map(([d, kind]) => nested(d, kind));
/** A wrong type, now and then nested deeper than any shape. */
const wrongOrDeep: fc.Arbitrary<unknown> = fc.oneof({ weight: 6, arbitrary: wrongType }, { weight: 1, arbitrary: deepNesting });

/** Member-name hints, so that valid-looking bodies get past the checks after the shape. */
const HINTS: Record<string, fc.Arbitrary<string>> = {
  ImageIdentifier: fc.constantFrom('registry.example.com/team/app:1', 'public.ecr.aws/berth/fuzz:latest', '123456789012.dkr.ecr.us-east-1.amazonaws.com/app:v2', 'localhost:5000/x@sha256:' + 'a'.repeat(64)),
  Port: fc.constantFrom('8080', '80', '65535', '0', '65536', '-1', '08080', ' 8080', '8080\n'),
  RepositoryUrl: fc.constantFrom('https://github.com/example/app', 'https://example.com/git/app.git', 'ssh://git@example.com/app.git', 'file:///etc/passwd', ''),
  Cpu: fc.constantFrom('256', '1 vCPU', '2 vCPU', '4096', '0.25 vCPU'),
  Memory: fc.constantFrom('512', '2 GB', '4 GB', '12288', '3 GB'),
  DomainName: fc.constantFrom('example.com', 'app.example.com', '*.example.com', 'xn--bcher-kva.example', 'a'.repeat(255), '..', '*'),
  NextToken: fc.oneof(
    fromPool(pool.tokens, 'eyJzIjoiIn0'),
    fc.jsonValue({ maxDepth: 2 }).map((v) => Buffer.from(JSON.stringify(v)).toString('base64url')),
    fc.constantFrom('bnVsbA', 'dHJ1ZQ', 'W10', 'e30', 'MQ', '!!!', '=', '\u0000'),
  ),
};

function stringValid(shape: Extract<Shape, { type: 'string' }>, name: string): fc.Arbitrary<string> {
  if (shape.enum !== undefined) return fc.constantFrom(...shape.enum);
  const min = shape.min ?? 0;
  const max = shape.max ?? 64;
  let base: fc.Arbitrary<string>;
  if (shape.pattern !== undefined) {
    // No filters here: a filter that rarely passes never ends. A string that misses the pattern
    // or the lengths is still a fine input, only a less valid-looking one.
    try {
      base = fc.stringMatching(shape.pattern, { maxLength: Math.min(max, 300) }).map((s) => (s.length >= min || s.length === 0 ? s : s.repeat(Math.ceil(min / s.length)).slice(0, max)));
    } catch {
      // fast-check cannot generate from every regex (lookaheads).
      base = fc.string({ minLength: Math.max(min, 1), maxLength: Math.min(max, 40) });
    }
  } else {
    base = fc.string({ minLength: min, maxLength: Math.min(max, 40) });
  }
  if (shape.pattern !== undefined && ARN_LIKE.test(shape.pattern.source)) {
    return fc.oneof({ weight: 3, arbitrary: fromPool(pool.arns, 'arn:aws:apprunner:us-east-1:000000000000:service/x/0') }, { weight: 1, arbitrary: arnVariant() }, { weight: 1, arbitrary: base });
  }
  const hint = HINTS[name];
  return hint === undefined ? base : fc.oneof({ weight: 2, arbitrary: hint }, { weight: 1, arbitrary: base });
}

/** Near misses of real ARNs: partial forms, other accounts and regions, changed ids. */
function arnVariant(): fc.Arbitrary<string> {
  return fc.tuple(fromPool(pool.arns, 'arn:aws:apprunner:us-east-1:000000000000:service/x/0'), fc.integer({ min: 0, max: 7 })).map(([arn, how]) => {
    const parts = arn.split('/');
    switch (how) {
      case 0: return parts.slice(0, -1).join('/');
      case 1: return parts.slice(0, 2).join('/');
      case 2: return arn.replace(':000000000000:', ':123456789012:');
      case 3: return arn.replace(':us-east-1:', ':eu-west-1:');
      case 4: return `${arn}/`;
      case 5: return arn.replace(/[0-9a-f]{32}$/, '0'.repeat(32));
      case 6: return arn.toUpperCase();
      default: return arn.replace(':apprunner:', ':iam:');
    }
  });
}

function stringMutant(shape: Extract<Shape, { type: 'string' }>): fc.Arbitrary<unknown> {
  const lengths = [shape.min, shape.max].flatMap((n) => (n === undefined ? [] : [n - 1, n, n + 1])).filter((n) => n >= 0 && n <= 70_000);
  return fc.oneof(
    lengths.length === 0 ? fc.constant('') : fc.constantFrom(...lengths).map((n) => 'a'.repeat(n)),
    fc.tuple(fc.string({ maxLength: 8 }), CONTROL, fc.string({ maxLength: 8 })).map(([a, c, b]) => a + c + b),
    fc.array(ODD_UNICODE, { minLength: 1, maxLength: 6 }).map((parts) => parts.join('')),
    fc.string({ unit: 'binary', maxLength: 30 }),
    fc.integer({ min: 51_200, max: 70_000 }).map((n) => 'x'.repeat(n)),
    wrongType,
  );
}

function integerMutant(shape: Extract<Shape, { type: 'integer' }>): fc.Arbitrary<unknown> {
  const edges = [shape.min, shape.max].flatMap((n) => (n === undefined ? [] : [n - 1, n + 1]));
  return fc.oneof(
    fc.constantFrom(...edges, 0, -1, 2 ** 31, 2 ** 31 - 1, -(2 ** 31) - 1, 2 ** 53, Number.MAX_SAFE_INTEGER + 2, 1.5, -0.5),
    fc.constantFrom(...ODD_NUMBERS),
    wrongType,
  );
}

/** A value for `shape`; with `mutate`, any node may be replaced by a mutant of its kind. */
function valueFor(shape: Shape, name: string, mutate: boolean, depth = 0): fc.Arbitrary<unknown> {
  const valid = validFor(shape, name, mutate, depth);
  if (!mutate) return valid;
  return fc.oneof({ weight: 7, arbitrary: valid }, { weight: 1, arbitrary: mutantFor(shape, name, depth) });
}

function validFor(shape: Shape, name: string, mutate: boolean, depth: number): fc.Arbitrary<unknown> {
  switch (shape.type) {
    case 'string':
      return stringValid(shape, name);
    case 'integer':
      return fc.integer({ min: shape.min ?? -(2 ** 31), max: shape.max ?? Math.max((shape.min ?? 0) + 100, 100) });
    case 'boolean':
      return fc.boolean();
    case 'list':
      return fc.array(valueFor(shape.member, name, mutate, depth + 1), { minLength: shape.min ?? 0, maxLength: Math.min(shape.max ?? 4, 4) });
    case 'map':
      return fc
        .array(fc.tuple(valueFor(shape.key, name, mutate, depth + 1), valueFor(shape.value, name, mutate, depth + 1)), { maxLength: 4 })
        .map((pairs) => pairs.reduce<Record<string, unknown>>((o, [k, v]) => withMember(o, typeof k === 'string' ? k : (JSON.stringify(k) ?? 'null'), v), {}));
    case 'structure': {
      const required = new Set(shape.required ?? []);
      const members: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [member, memberShape] of Object.entries(shape.members)) members[member] = valueFor(memberShape, member, mutate, depth + 1);
      return fc.record(members, { requiredKeys: [...required] });
    }
  }
}

function mutantFor(shape: Shape, name: string, depth: number): fc.Arbitrary<unknown> {
  switch (shape.type) {
    case 'string':
      return stringMutant(shape);
    case 'integer':
      return integerMutant(shape);
    case 'boolean':
      return fc.oneof(fc.constantFrom('true', 'false', 0, 1, 'TRUE', ''), wrongType);
    case 'list':
      return fc.oneof(
        // Large arrays of plausible members.
        fc.tuple(fc.integer({ min: 100, max: 3_000 }), validFor(shape.member, name, false, depth + 1)).map(([n, item]) => Array.from({ length: n }, () => item)),
        shape.min !== undefined && shape.min > 0 ? fc.constant([]) : fc.constant([null]),
        wrongOrDeep,
      );
    case 'map':
      return fc.oneof(
        fc.integer({ min: 200, max: 2_000 }).map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`K${i}`, 'v']))),
        fc.tuple(fc.constantFrom(...ODD_KEYS), fc.jsonValue({ maxDepth: 2 })).map(([k, v]) => withMember({}, k, v)),
        wrongOrDeep,
      );
    case 'structure': {
      const valid = validFor(shape, name, false, depth) as fc.Arbitrary<Record<string, unknown>>;
      const required = shape.required ?? [];
      const memberNames = Object.keys(shape.members);
      return fc.oneof(
        // A required member dropped, or null.
        required.length === 0
          ? valid
          : fc.tuple(valid, fc.constantFrom(...required), fc.boolean()).map(([v, drop, asNull]) => {
            const copy = { ...v };
            if (asNull) copy[drop] = null;
            else delete copy[drop];
            return copy;
          }),
        // An unknown member: odd keys, a member name in another case.
        fc.tuple(valid, fc.oneof(fc.constantFrom(...ODD_KEYS), fc.constantFrom(...(memberNames.length ? memberNames : ['X'])).map((m) => m.toLowerCase())), fc.jsonValue({ maxDepth: 2 }))
          .map(([v, key, extra]) => withMember(v, key, extra)),
        wrongOrDeep,
      );
    }
  }
}

// Known-good inputs, so that some bodies get past the shape into each operation's own rules;
// mutating one node of them probes those rules one member at a time.

let serial = 0;
/** A name not used before in this run (evaluated when a body is generated). */
const fresh = (prefix: string): string => `${prefix}-${(serial++).toString(36)}`;
/** The `pick`th (modulo) ARN of a `kind` the server has returned; any of them may have been deleted since. */
const real = (kind: string, pick: number): string => {
  const arns = [...pool.arns].filter((arn) => arn.includes(`:${kind}/`));
  return arns[pick % Math.max(arns.length, 1)] ?? `arn:aws:apprunner:us-east-1:000000000000:${kind}/none/${'0'.repeat(32)}`;
};
const IMAGE_SOURCE = { ImageRepository: { ImageIdentifier: 'registry.example.com/team/app:1', ImageRepositoryType: 'ECR', ImageConfiguration: { Port: '8080', RuntimeEnvironmentVariables: { GREETING: 'hi' } } }, AutoDeploymentsEnabled: false };
const POLICY = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'apprunner:List*', Resource: '*' }] });

const TEMPLATES: Readonly<Record<string, (pick: number) => Record<string, unknown>>> = {
  'AppRunner.CreateService': () => ({
    ServiceName: fresh('fz'), SourceConfiguration: IMAGE_SOURCE, InstanceConfiguration: { Cpu: '1 vCPU', Memory: '2 GB' },
    HealthCheckConfiguration: { Protocol: 'TCP', Interval: 5, Timeout: 2 }, Tags: [{ Key: 'team', Value: 'fuzz' }],
  }),
  'AppRunner.UpdateService': (n) => ({ ServiceArn: real('service', n), InstanceConfiguration: { Cpu: '2 vCPU', Memory: '4 GB' }, SourceConfiguration: IMAGE_SOURCE }),
  'AppRunner.CreateAutoScalingConfiguration': () => ({ AutoScalingConfigurationName: fresh('fz'), MaxConcurrency: 10, MinSize: 1, MaxSize: 3, Tags: [{ Key: 'k', Value: 'v' }] }),
  'AppRunner.CreateObservabilityConfiguration': () => ({ ObservabilityConfigurationName: fresh('fz'), TraceConfiguration: { Vendor: 'AWSXRAY' } }),
  'AppRunner.CreateConnection': () => ({ ConnectionName: fresh('fz'), ProviderType: 'GITHUB', Tags: [{ Key: 'k', Value: 'v' }] }),
  'AppRunner.CreateVpcConnector': () => ({ VpcConnectorName: fresh('fz'), Subnets: ['subnet-0a1', 'subnet-0b2'], SecurityGroups: ['sg-0c3'] }),
  'AppRunner.CreateVpcIngressConnection': (n) => ({ ServiceArn: real('service', n), VpcIngressConnectionName: fresh('fz'), IngressVpcConfiguration: { VpcId: 'vpc-1', VpcEndpointId: 'vpce-1' } }),
  'AppRunner.AssociateCustomDomain': (n) => ({ ServiceArn: real('service', n), DomainName: `${fresh('d')}.example.com`, EnableWWWSubdomain: false }),
  'AppRunner.TagResource': (n) => ({ ResourceArn: real('service', n), Tags: [{ Key: 'k', Value: 'v' }] }),
  'AppRunner.ListOperations': (n) => ({ ServiceArn: real('service', n), MaxResults: 2 }),
  'AppRunner.DescribeCustomDomains': (n) => ({ ServiceArn: real('service', n), MaxResults: 1 }),
  'Berth.CreateUser': () => ({ UserName: fresh('fz') }),
  'Berth.PutUserPolicy': () => ({ UserName: fresh('fz'), PolicyName: 'list', PolicyDocument: POLICY }),
  'Berth.CompleteConnectionHandshake': (n) => ({ ConnectionArn: real('connection', n), Credential: { Token: 'ghp_0123456789abcdef' } }),
};

type Path = (string | number)[];

/** Every node of `value` that `shape` describes, with its shape and member name. */
function shapedNodes(shape: Shape, value: unknown, name = '', path: Path = []): { path: Path; shape: Shape; name: string }[] {
  const nodes = [{ path, shape, name }];
  if (shape.type === 'structure' && typeof value === 'object' && value !== null && !Array.isArray(value)) {
    for (const [member, child] of Object.entries(value)) {
      const memberShape = Object.hasOwn(shape.members, member) ? shape.members[member] : undefined;
      if (memberShape !== undefined) nodes.push(...shapedNodes(memberShape, child, member, [...path, member]));
    }
  } else if (shape.type === 'list' && Array.isArray(value)) {
    value.forEach((item, i) => nodes.push(...shapedNodes(shape.member, item, name, [...path, i])));
  } else if (shape.type === 'map' && typeof value === 'object' && value !== null) {
    for (const [key, child] of Object.entries(value)) nodes.push(...shapedNodes(shape.value, child, name, [...path, key]));
  }
  return nodes;
}

/** A copy of `root` with the node at `path` replaced. */
function replaceAt(root: unknown, path: Path, replacement: unknown): unknown {
  const [head, ...rest] = path;
  if (head === undefined) return replacement;
  if (Array.isArray(root)) return root.map((item, i) => (i === head ? replaceAt(item, rest, replacement) : item));
  const object = root as Record<string, unknown>;
  return withMember(object, String(head), replaceAt(object[String(head)], rest, replacement));
}

/** A template with one node replaced by a mutant, or by another valid-looking value. */
function mutatedTemplate(template: (pick: number) => Record<string, unknown>, shape: Shape): fc.Arbitrary<unknown> {
  return fc.nat().map(template).chain((body) =>
    fc.constantFrom(...shapedNodes(shape, body)).chain((node) =>
      fc.oneof({ weight: 3, arbitrary: mutantFor(node.shape, node.name, node.path.length) }, { weight: 1, arbitrary: validFor(node.shape, node.name, false, node.path.length) })
        .map((value) => replaceAt(body, node.path, value))));
}

/** Bodies for one operation: valid-looking, mutated anywhere, a mutant at the top, a template or a mutated template. */
function bodiesFor(target: string, shape: Shape): fc.Arbitrary<unknown> {
  const walked = [
    { weight: 2, arbitrary: validFor(shape, '', false, 0) },
    { weight: 4, arbitrary: validFor(shape, '', true, 0) },
    { weight: 1, arbitrary: mutantFor(shape, '', 0) },
  ];
  const template = TEMPLATES[target];
  if (template === undefined) return fc.oneof(...walked);
  return fc.oneof(...walked, { weight: 2, arbitrary: fc.nat().map(template) }, { weight: 5, arbitrary: mutatedTemplate(template, shape) });
}

// ---------------------------------------------------------------------------------------------
// Byte-level mutations of a valid-looking body.

type ByteMutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'replace'; at: number; byte: number }
  | { kind: 'bom' }
  | { kind: 'utf16' }
  | { kind: 'duplicate-key' }
  | { kind: 'odd-number'; text: string }
  | { kind: 'proto-key'; key: string; at: number }
  | { kind: 'lone-surrogate-escape'; at: number }
  | { kind: 'wrap'; how: 'array' | 'twice' | 'trailing' | 'string' | 'nul' };

const INVALID_UTF8 = [[0x80], [0xc0, 0xaf], [0xc3], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xff], [0xfe], [0xe2, 0x82], [0x00], [0xf0, 0x9f, 0x98]];

const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  fc.double({ min: 0, max: 1, noNaN: true }).map((at): ByteMutation => ({ kind: 'truncate', at })),
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(...INVALID_UTF8)).map(([at, bytes]): ByteMutation => ({ kind: 'insert', at, bytes })),
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 255 })).map(([at, byte]): ByteMutation => ({ kind: 'replace', at, byte })),
  fc.constant<ByteMutation>({ kind: 'bom' }),
  fc.constant<ByteMutation>({ kind: 'utf16' }),
  fc.constant<ByteMutation>({ kind: 'duplicate-key' }),
  fc.constantFrom('1e309', '-1e309', '1e-400', '-0', '123456789012345678901234567890', '0x10', '01', 'NaN', 'Infinity', '1.', '.5', '+1').map((text): ByteMutation => ({ kind: 'odd-number', text })),
  fc.tuple(fc.constantFrom('__proto__', 'constructor', 'prototype', '__defineSetter__'), fc.double({ min: 0, max: 1, noNaN: true })).map(([key, at]): ByteMutation => ({ kind: 'proto-key', key, at })),
  fc.double({ min: 0, max: 1, noNaN: true }).map((at): ByteMutation => ({ kind: 'lone-surrogate-escape', at })),
  fc.constantFrom<'array' | 'twice' | 'trailing' | 'string' | 'nul'>('array', 'twice', 'trailing', 'string', 'nul').map((how): ByteMutation => ({ kind: 'wrap', how })),
);

/** Positions just after a `{` outside strings: where a member can be spliced in. */
function objectOpenings(text: string): number[] {
  const positions: number[] = [];
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') positions.push(i + 1);
  }
  return positions;
}

function applyByteMutation(text: string, mutation: ByteMutation): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const pos = (at: number, length: number): number => Math.min(length, Math.floor(at * (length + 1)));
  switch (mutation.kind) {
    case 'truncate':
      return bytes.subarray(0, pos(mutation.at, bytes.length - 1));
    case 'insert': {
      const at = pos(mutation.at, bytes.length);
      return Buffer.concat([bytes.subarray(0, at), Buffer.from(mutation.bytes), bytes.subarray(at)]);
    }
    case 'replace': {
      const copy = Buffer.from(bytes);
      if (copy.length > 0) copy[pos(mutation.at, copy.length - 1)] = mutation.byte;
      return copy;
    }
    case 'bom':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]);
    case 'utf16':
      return Buffer.from(text, 'utf16le');
    case 'duplicate-key': {
      // The first member again, first with another value: JSON.parse keeps the last one.
      const match = /^\{("(?:[^"\\]|\\.)*"):/.exec(text);
      return Buffer.from(match === null ? text : `{${match[1]}:{"dup":[1,2,3]},${text.slice(1)}`, 'utf8');
    }
    case 'odd-number': {
      const replaced = text.replace(/(:\s*)-?\d+(\.\d+)?([eE][+-]?\d+)?/, `$1${mutation.text}`);
      return Buffer.from(replaced === text ? `{"MaxResults":${mutation.text}}` : replaced, 'utf8');
    }
    case 'proto-key': {
      const openings = objectOpenings(text);
      const at = openings.length === 0 ? -1 : (openings[Math.floor(mutation.at * openings.length) % openings.length] as number);
      const member = `"${mutation.key}":{"polluted":"yes","prototype":{"polluted":"yes"}}`;
      if (at === -1) return Buffer.from(`{${member}}`, 'utf8');
      const rest = text.slice(at);
      return Buffer.from(`${text.slice(0, at)}${member}${rest.startsWith('}') ? '' : ','}${rest}`, 'utf8');
    }
    case 'lone-surrogate-escape': {
      const quotes = [...text.matchAll(/"/g)].map((m) => m.index);
      const at = quotes.length === 0 ? 0 : ((quotes[Math.floor(mutation.at * quotes.length) % quotes.length] as number) + 1);
      return Buffer.from(`${text.slice(0, at)}\\ud800${text.slice(at)}`, 'utf8');
    }
    case 'wrap':
      switch (mutation.how) {
        case 'array': return Buffer.from(`[${text}]`, 'utf8');
        case 'twice': return Buffer.from(text + text, 'utf8');
        case 'trailing': return Buffer.from(`${text} x`, 'utf8');
        case 'string': return Buffer.from(JSON.stringify(text), 'utf8');
        case 'nul': return Buffer.concat([bytes, Buffer.from([0])]);
      }
  }
}

// ---------------------------------------------------------------------------------------------
// The checks every reply must pass.

const CATALOG = ERRORS as Readonly<Record<string, number>>;

interface Stats {
  sent: number;
  ok: Map<string, number>;
  errors: Map<string, number>;
  /** Why creates were refused, by operation: what keeps the fuzzer from going deeper. */
  createRefusals: Map<string, Map<string, number>>;
}
const stats: Stats = { sent: 0, ok: new Map(), errors: new Map(), createRefusals: new Map() };
const bump = (map: Map<string, number>, key: string): void => void map.set(key, (map.get(key) ?? 0) + 1);

function describeBody(body: Uint8Array): string {
  const text = Buffer.from(body).toString('utf8');
  return text.length > 400 ? `${JSON.stringify(text.slice(0, 300))}… (${body.byteLength} bytes)` : JSON.stringify(text);
}

/** Asserts the reply is well formed, and returns its JSON. */
function checkReply(target: string, body: Uint8Array, reply: RawReply): Record<string, unknown> {
  const where = `${target} with body ${describeBody(body)} → HTTP ${reply.status} ${reply.body.slice(0, 600)}`;
  assert.ok(reply.status < 500, `server error: ${where}`);
  assert.equal(reply.headers['content-type'], 'application/x-amz-json-1.0', `content type: ${where}`);
  let json: unknown;
  try {
    json = JSON.parse(reply.body);
  } catch {
    assert.fail(`the reply is not JSON: ${where}`);
  }
  assert.ok(typeof json === 'object' && json !== null && !Array.isArray(json), `the reply is not a JSON object: ${where}`);
  const reply_ = json as Record<string, unknown>;
  if (reply.status === 200) {
    assert.equal(reply_.__type, undefined, `an error inside a 200: ${where}`);
    bump(stats.ok, target);
    harvest(reply_);
  } else {
    const type = reply_.__type;
    assert.ok(typeof type === 'string' && Object.hasOwn(CATALOG, type), `__type ${JSON.stringify(type)} is not in the error catalog: ${where}`);
    assert.equal(reply.status, CATALOG[type], `HTTP status of ${type}: ${where}`);
    assert.equal(typeof reply_.Message, 'string', `no string Message: ${where}`);
    assert.ok((reply_.Message as string).length > 0 && (reply_.Message as string).length <= 600, `Message must be 1 to 600 characters: ${where}`);
    assert.equal(reply.headers['x-amzn-errortype'], type, `x-amzn-ErrorType header: ${where}`);
    bump(stats.errors, type);
    if (/\.Create/.test(target)) {
      const reason = `${type}: ${(reply_.Message as string).replace(/'[^']*'/g, "'…'").replace(/\d+/g, 'N').slice(0, 90)}`;
      const reasons = stats.createRefusals.get(target) ?? new Map<string, number>();
      stats.createRefusals.set(target, reasons);
      bump(reasons, reason);
    }
  }
  return reply_;
}

/** Admin credentials must survive the run: never send a body that names the admin user or key. */
function touchesAdmin(target: string, text: string, adminKeyId: string): boolean {
  return target.startsWith('Berth.') && (text.includes(adminKeyId) || /"admin"/i.test(text));
}

describe('API fuzzing: no input makes the server fail, answer outside the catalog, or stop answering', () => {
  let api: ApiHarness;
  let prototypeBefore: string[];

  const send = async (target: string, body: Uint8Array): Promise<Record<string, unknown> | undefined> => {
    if (touchesAdmin(target, Buffer.from(body).toString('utf8'), api.endpoint.credentials.accessKeyId)) return undefined;
    stats.sent++;
    const reply = await signedSendBytes(api.endpoint, target, body);
    return checkReply(target, body, reply);
  };
  const sendJson = (target: string, value: unknown): Promise<Record<string, unknown> | undefined> => send(target, Buffer.from(serialize(value), 'utf8'));

  async function stillServing(): Promise<void> {
    const listed = await api.call('ListServices', {});
    assert.ok(Array.isArray(listed.ServiceSummaryList), `ListServices answered ${JSON.stringify(listed)}`);
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype was polluted');
    assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), prototypeBefore, 'Object.prototype gained members');
  }

  before(async () => {
    prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();
    // Quotas high enough that creates keep succeeding through the whole run.
    api = await startApiHarness({
      quotas: {
        services: 10_000, connections: 10_000, autoScalingConfigurations: 10_000, autoScalingConfigurationRevisions: 10_000,
        observabilityConfigurations: 10_000, observabilityConfigurationRevisions: 10_000, vpcConnectors: 10_000,
        vpcIngressConnections: 10_000, customDomainsPerService: 10_000,
      },
    });
    // Real resources of every kind, so generated ARNs often name something that exists.
    const image = { ImageRepository: { ImageIdentifier: 'registry.example.com/team/app:1', ImageRepositoryType: 'ECR', ImageConfiguration: { Port: '8080' } } };
    const seeds: [string, Record<string, unknown>][] = [
      ['CreateAutoScalingConfiguration', { AutoScalingConfigurationName: 'fuzz-scaling', MinSize: 1, MaxSize: 2 }],
      ['CreateObservabilityConfiguration', { ObservabilityConfigurationName: 'fuzz-tracing', TraceConfiguration: { Vendor: 'AWSXRAY' } }],
      ['CreateConnection', { ConnectionName: 'fuzz-github', ProviderType: 'GITHUB' }],
      ['CreateVpcConnector', { VpcConnectorName: 'fuzz-egress', Subnets: ['subnet-1'] }],
      ['CreateService', { ServiceName: 'fuzz-one', SourceConfiguration: image }],
      ['CreateService', { ServiceName: 'fuzz-two', SourceConfiguration: image }],
    ];
    for (const [operation, input] of seeds) await sendJson(`AppRunner.${operation}`, input);
    await api.settle(20_000);
    const [service] = [...pool.arns].filter((arn) => arn.includes(':service/'));
    if (service !== undefined) {
      await sendJson('AppRunner.AssociateCustomDomain', { ServiceArn: service, DomainName: 'fuzz.example.com' });
      await sendJson('AppRunner.CreateVpcIngressConnection', { ServiceArn: service, VpcIngressConnectionName: 'fuzz-ingress', IngressVpcConfiguration: { VpcId: 'vpc-1', VpcEndpointId: 'vpce-1' } });
    }
    for (const target of ['AppRunner.ListServices', 'AppRunner.ListAutoScalingConfigurations', 'AppRunner.ListConnections']) await sendJson(target, { MaxResults: 1 });
  });

  after(async () => {
    await api?.close();
  });

  it('reports its seed, scale and operations', (t) => {
    t.diagnostic(`seed ${SEED} (BERTH_FUZZ_SEED=${SEED} reproduces this run), scale ${SCALE} (BERTH_FUZZ_SCALE)`);
    t.diagnostic(`${TARGETS.length} operations: ${TARGETS.map((x) => x.target).join(' ')}`);
    for (const note of TARGET_NOTES) t.diagnostic(note);
    assert.ok(TARGETS.length >= 37);
  });

  it('(a) any JSON value as the body of any operation', async (t) => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...TARGETS), fc.jsonValue({ maxDepth: 4 }), async ({ target }, value) => {
        await sendJson(target, value);
      }),
      { seed: SEED, numRuns: runs(400), plugins: [fc.interruptAfterTimeLimit(timeLimit(8_000))] },
    );
    await stillServing();
    t.diagnostic(`${stats.sent} requests so far`);
  });

  describe('(b) bodies derived from each operation\'s shape, valid-looking and mutated', () => {
    // One budget for all operations: each gets at most 1.5 s, and less when the machine is slow.
    let deadline = 0;
    before(() => {
      deadline = Date.now() + timeLimit(30_000);
    });
    TARGETS.forEach(({ target, shape }, index) => {
      it(target, async () => {
        const share = (deadline - Date.now()) / (TARGETS.length - index);
        await fc.assert(
          fc.asyncProperty(bodiesFor(target, shape), async (body) => {
            await sendJson(target, body);
          }),
          { seed: SEED + index + 1, numRuns: runs(80), plugins: [fc.interruptAfterTimeLimit(Math.max(100, Math.min(timeLimit(1_500), share)))] },
        );
      });
    });
    it('the server still answers afterwards', stillServing);
  });

  it('(c) byte-level mutations of valid-looking bodies', async () => {
    const arbitrary = fc.constantFrom(...TARGETS).chain(({ target, shape }) => fc.tuple(fc.constant(target), validFor(shape, '', false, 0), byteMutation));
    await fc.assert(
      fc.asyncProperty(arbitrary, async ([target, value, mutation]) => {
        await send(target, applyByteMutation(serialize(value), mutation));
      }),
      { seed: SEED, numRuns: runs(600), plugins: [fc.interruptAfterTimeLimit(timeLimit(10_000))] },
    );
    await stillServing();
  });

  // Inputs worth keeping whatever the seed: the bugs this fuzzer found (one test each, named
  // after the bug), and edges a generator reaches only by luck.
  describe('regressions and fixed hard cases', () => {
    const typeOf = async (target: string, body: Uint8Array | Record<string, unknown>): Promise<unknown> =>
      (body instanceof Uint8Array ? await send(target, body) : await sendJson(target, body))?.__type;

    it('deep nesting gave HTTP 500 (JSON.stringify overflowed the stack in a validation message); now SerializationException', async () => {
      // The shrunk counterexample: a list nested 4,390 deep where Tags belong.
      const found = { AutoScalingConfigurationName: 'a-__', Tags: nested(4_390, 'array') };
      assert.equal(await typeOf('AppRunner.CreateAutoScalingConfiguration', found), 'SerializationException');
      for (const depth of [65, 5_000, 100_000, 1_000_000]) {
        for (const kind of ['array', 'object'] as const) {
          assert.equal(await typeOf('AppRunner.ListServices', Buffer.from(nested(depth, kind).text)), 'SerializationException', `${kind} ${depth} deep`);
          assert.equal(await typeOf('AppRunner.CreateService', { ServiceName: nested(depth, kind), SourceConfiguration: {} }), 'SerializationException');
          assert.equal(await typeOf('AppRunner.CreateService', { ServiceName: 'deep-map', SourceConfiguration: { ImageRepository: { ImageIdentifier: 'a/b:1', ImageRepositoryType: 'ECR', ImageConfiguration: { RuntimeEnvironmentVariables: { A: nested(depth, kind) } } } } }), 'SerializationException');
        }
      }
      // 64 levels (the top object and 63 lists) is still read, and refused for what it says.
      assert.equal(await typeOf('AppRunner.ListServices', { Deep: nested(63, 'array') }), 'InvalidRequestException');
      assert.equal(await typeOf('AppRunner.ListServices', { Deep: nested(64, 'array') }), 'SerializationException');
      await stillServing();
    });

    it('a body over the 4 MiB limit got a connection reset (the socket was destroyed); now SerializationException', async () => {
      const big = Buffer.from(JSON.stringify({ ServiceName: 'x'.repeat(5 * 1024 * 1024) }));
      const reply = await send('AppRunner.CreateService', big);
      assert.equal(reply?.__type, 'SerializationException');
      assert.match(String(reply?.Message), /larger than 4194304 bytes/);
      await stillServing();
    });

    it('a NextToken decoding to JSON null gave HTTP 500 (TypeError in pagination); now InvalidRequestException', async () => {
      const lists: [string, Record<string, unknown>][] = [
        ['AppRunner.ListServices', {}], ['AppRunner.ListConnections', {}], ['AppRunner.ListAutoScalingConfigurations', {}],
        ['AppRunner.ListObservabilityConfigurations', {}], ['AppRunner.ListVpcConnectors', {}], ['AppRunner.ListVpcIngressConnections', {}],
      ];
      for (const decoded of ['null', 'true', '[]', '1', '"s"', '{"s":null,"k":null}', '{"__proto__":{"polluted":1}}']) {
        const NextToken = Buffer.from(decoded).toString('base64url');
        for (const [target, input] of lists) assert.equal(await typeOf(target, { ...input, NextToken }), 'InvalidRequestException', `${target} with a token of ${decoded}`);
      }
      await stillServing();
    });

    it('"NextToken": null gave HTTP 500 (null reached the token decoder); null now means absent, as for any member', async () => {
      // Settled, so that no service changes status between the listings compared.
      await api.settle(20_000);
      for (const target of ['AppRunner.ListServices', 'AppRunner.ListConnections', 'AppRunner.ListAutoScalingConfigurations', 'AppRunner.ListVpcConnectors']) {
        const plain = await sendJson(target, {});
        assert.equal(plain?.__type, undefined, `${target} {}`);
        assert.deepEqual(await sendJson(target, { NextToken: null }), plain, `${target} with NextToken null`);
        assert.deepEqual(await sendJson(target, { MaxResults: null, NextToken: null }), plain, `${target} with MaxResults null`);
      }
    });

    it('members named after Object.prototype\'s, at every level, are unknown members', async () => {
      for (const key of ODD_KEYS) {
        assert.equal(await typeOf('AppRunner.CreateService', withMember({ ServiceName: 'proto-keys', SourceConfiguration: withMember({}, key, 1) }, key, { polluted: 'yes' })), 'InvalidRequestException', key);
        await sendJson('AppRunner.CreateService', { ServiceName: 'proto-env', SourceConfiguration: { ImageRepository: { ImageIdentifier: 'a/b:1', ImageRepositoryType: 'ECR', ImageConfiguration: { RuntimeEnvironmentVariables: withMember({}, key, 'v') } } } });
        assert.equal(await typeOf('AppRunner.ListServices', Buffer.from(`{${JSON.stringify(key)}:{"polluted":"yes"}}`)), 'InvalidRequestException', key);
      }
      await stillServing();
    });
  });

  it('reports what succeeded', async (t: TestContext) => {
    await stillServing();
    const ok = [...stats.ok.entries()].sort(([a], [b]) => a.localeCompare(b));
    t.diagnostic(`${stats.sent} requests; 200 for ${ok.reduce((n, [, c]) => n + c, 0)}: ${ok.map(([op, n]) => `${op.replace(/^AppRunner\./, '')} ${n}`).join(', ')}`);
    t.diagnostic(`errors: ${[...stats.errors.entries()].map(([type, n]) => `${type} ${n}`).join(', ')}`);
    for (const [target, reasons] of stats.createRefusals) {
      const top = [...reasons.entries()].sort(([, a], [, b]) => b - a).slice(0, 3);
      t.diagnostic(`${target} refused mostly for: ${top.map(([reason, n]) => `${n}× ${reason}`).join(' | ')}`);
    }
    assert.ok(stats.sent > TARGETS.length, 'the fuzzer sent requests');
  });
});

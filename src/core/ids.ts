/**
 * @module
 * Identifiers and ARNs in App Runner's formats (app-runner-api.md §3.18).
 */
import { randomBytes } from 'node:crypto';

/** 32 lowercase hex characters: App Runner's ServiceId and OperationId form. */
export function newHexId(): string {
  return randomBytes(16).toString('hex');
}

export interface ArnContext {
  region: string;
  accountId: string;
}

export function serviceArn(ctx: ArnContext, name: string, id: string): string {
  return `arn:aws:apprunner:${ctx.region}:${ctx.accountId}:service/${name}/${id}`;
}

export interface ParsedArn {
  partition: string;
  service: string;
  region: string;
  accountId: string;
  resourceType: string;
  /** The parts of the resource after its type: `service/<name>/<id>` gives [name, id]. */
  resourceParts: string[];
}

// The model's AppRunnerResourceArn pattern, anchored (§3.1).
const ARN_PATTERN = /^arn:aws(-[\w]+)*:[a-z0-9-.]{0,63}:[a-z0-9-.]{0,63}:[0-9]{12}:(\w|\/|-){1,1011}$/;

export function parseArn(arn: string): ParsedArn | undefined {
  if (!ARN_PATTERN.test(arn)) return undefined;
  const [, partition, service, region, accountId, resource] = arn.match(/^arn:([^:]+):([^:]*):([^:]*):([^:]*):(.*)$/) ?? [];
  if (partition === undefined || service === undefined || region === undefined || accountId === undefined || resource === undefined) {
    return undefined;
  }
  const [resourceType = '', ...resourceParts] = resource.split('/');
  return { partition, service, region, accountId, resourceType, resourceParts };
}

const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** An access key pair in AWS's form: `AKIA` + 16 characters, and a 40-character secret. */
export function newAccessKey(): { accessKeyId: string; secretAccessKey: string } {
  const id = [...randomBytes(16)].map((b) => KEY_ALPHABET[b % 32]).join('');
  const secret = randomBytes(30).toString('base64').replaceAll('+', 'a').replaceAll('/', 'b');
  return { accessKeyId: `AKIA${id}`, secretAccessKey: secret };
}

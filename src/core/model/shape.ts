/**
 * @module
 * A small description language for API input shapes, mirroring the Smithy model's traits
 * (length, range, pattern, enum, required), and the validator that checks a request body
 * against it. Messages follow AWS's style: the member path in lower camel case, the bad value
 * and the constraint, e.g. `Value 'x' at 'serviceName' failed to satisfy constraint: ...`.
 */

import { invalidRequest } from '../errors.ts';

export type Shape =
  | { type: 'string'; min?: number; max?: number; pattern?: RegExp; enum?: readonly string[] }
  | { type: 'integer'; min?: number; max?: number }
  | { type: 'boolean' }
  | { type: 'structure'; members: Readonly<Record<string, Shape>>; required?: readonly string[] }
  | { type: 'list'; member: Shape; min?: number; max?: number }
  | { type: 'map'; key: Shape; value: Shape; min?: number; max?: number };

export const str = (c: Omit<Extract<Shape, { type: 'string' }>, 'type'> = {}): Shape => ({ type: 'string', ...c });
export const int = (c: Omit<Extract<Shape, { type: 'integer' }>, 'type'> = {}): Shape => ({ type: 'integer', ...c });
export const bool: Shape = { type: 'boolean' };
export const struct = (members: Record<string, Shape>, required: string[] = []): Shape => ({ type: 'structure', members, required });
export const list = (member: Shape, c: { min?: number; max?: number } = {}): Shape => ({ type: 'list', member, ...c });
export const map = (key: Shape, value: Shape): Shape => ({ type: 'map', key, value });

function lowerCamel(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function show(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** A value of the wrong JSON type, as JSON: the string "5" must not read as the number 5. */
function showJson(value: unknown): string {
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Checks `value` against `shape`; returns one message per violation (empty when valid). */
export function validateShape(shape: Shape, value: unknown, path = ''): string[] {
  const at = path === '' ? '' : ` at '${path}'`;
  const errors: string[] = [];
  switch (shape.type) {
    case 'string': {
      if (typeof value !== 'string') return [`Value ${showJson(value)}${at} must be a string`];
      if (shape.min !== undefined && value.length < shape.min) {
        errors.push(`Value '${show(value)}'${at} failed to satisfy constraint: Member must have length greater than or equal to ${shape.min}`);
      }
      if (shape.max !== undefined && value.length > shape.max) {
        errors.push(`Value '${show(value)}'${at} failed to satisfy constraint: Member must have length less than or equal to ${shape.max}`);
      }
      if (shape.pattern !== undefined && !shape.pattern.test(value)) {
        errors.push(`Value '${show(value)}'${at} failed to satisfy constraint: Member must satisfy regular expression pattern: ${shape.pattern.source.replace(/^\^|\$$/g, '')}`);
      }
      if (shape.enum !== undefined && !shape.enum.includes(value)) {
        errors.push(`Value '${show(value)}'${at} failed to satisfy constraint: Member must satisfy enum value set: [${shape.enum.join(', ')}]`);
      }
      return errors;
    }
    case 'integer': {
      if (typeof value !== 'number' || !Number.isInteger(value)) return [`Value ${showJson(value)}${at} must be an integer`];
      if (shape.min !== undefined && value < shape.min) {
        errors.push(`Value '${value}'${at} failed to satisfy constraint: Member must have value greater than or equal to ${shape.min}`);
      }
      if (shape.max !== undefined && value > shape.max) {
        errors.push(`Value '${value}'${at} failed to satisfy constraint: Member must have value less than or equal to ${shape.max}`);
      }
      return errors;
    }
    case 'boolean':
      return typeof value === 'boolean' ? [] : [`Value ${showJson(value)}${at} must be a boolean`];
    case 'list': {
      if (!Array.isArray(value)) return [`Value ${showJson(value)}${at} must be a list`];
      if (shape.min !== undefined && value.length < shape.min) {
        errors.push(`Value${at} failed to satisfy constraint: Member must have length greater than or equal to ${shape.min}`);
      }
      if (shape.max !== undefined && value.length > shape.max) {
        errors.push(`Value${at} failed to satisfy constraint: Member must have length less than or equal to ${shape.max}`);
      }
      value.forEach((item, i) => errors.push(...validateShape(shape.member, item, `${path}.${i + 1}.member`)));
      return errors;
    }
    case 'map': {
      if (!isPlainObject(value)) return [`Value ${showJson(value)}${at} must be an object`];
      for (const [k, v] of Object.entries(value)) {
        errors.push(...validateShape(shape.key, k, `${path}.key`));
        errors.push(...validateShape(shape.value, v, `${path}.${k}`));
      }
      return errors;
    }
    case 'structure': {
      if (!isPlainObject(value)) return [`Value ${showJson(value)}${at} must be an object`];
      for (const name of shape.required ?? []) {
        if (value[name] === undefined || value[name] === null) {
          errors.push(`Value null at '${join(path, name)}' failed to satisfy constraint: Member must not be null`);
        }
      }
      for (const [name, member] of Object.entries(value)) {
        // Own members only: `constructor` or `__proto__` in a body must not find Object.prototype's.
        const memberShape = Object.hasOwn(shape.members, name) ? shape.members[name] : undefined;
        if (memberShape === undefined) {
          errors.push(`Unknown member '${join(path, name)}'; expected one of: ${Object.keys(shape.members).join(', ') || '(none)'}`);
        } else if (member !== null && member !== undefined) {
          errors.push(...validateShape(memberShape, member, join(path, name)));
        }
      }
      return errors;
    }
  }
}

function join(path: string, name: string): string {
  return path === '' ? lowerCamel(name) : `${path}.${lowerCamel(name)}`;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Throws InvalidRequestException listing every way `input` breaks `shape`. */
export function assertShape(shape: Shape, input: unknown): void {
  const errors = validateShape(shape, input);
  if (errors.length > 0) throw invalidRequest(validationMessage(errors));
}

/** AWS's summary line: `2 validation errors detected: a; b`. */
export function validationMessage(errors: readonly string[]): string {
  return `${errors.length} validation error${errors.length === 1 ? '' : 's'} detected: ${errors.join('; ')}`;
}

/**
 * @module
 * Token pagination (§1.7): opaque tokens (base64url JSON naming the last item returned and the
 * list they belong to), `MaxResults` absent meaning everything in one page.
 */
import { createHash } from 'node:crypto';
import { invalidRequest } from './errors.ts';

export interface Page<T> {
  items: T[];
  nextToken?: string;
}

/**
 * Returns the page after `nextToken` of `items` (already in their final order, each with a
 * unique key). `scope` names the listing (operation and its other parameters); a token from
 * another listing is refused, as AWS requires the other parameters to stay the same.
 */
export function paginate<T>(items: readonly T[], keyOf: (item: T) => string, scope: string, maxResults?: number, nextToken?: string): Page<T> {
  const scopeHash = createHash('sha256').update(scope).digest('base64url').slice(0, 16);
  let start = 0;
  // typeof, not !== undefined: a JSON null member reaches here as null (it means absent).
  if (typeof nextToken === 'string' && nextToken !== '') {
    let decoded: unknown;
    try {
      decoded = JSON.parse(Buffer.from(nextToken, 'base64url').toString('utf8'));
    } catch {
      throw invalidRequest(`The NextToken '${nextToken.slice(0, 40)}' is invalid; pass the NextToken of the previous page unchanged`);
    }
    // A token that decodes to null, a number or a list is no token of ours either.
    if (typeof decoded !== 'object' || decoded === null || Array.isArray(decoded)) {
      throw invalidRequest(`The NextToken '${nextToken.slice(0, 40)}' is invalid; pass the NextToken of the previous page unchanged`);
    }
    const fields = decoded as { s?: unknown; k?: unknown };
    if (fields.s !== scopeHash || typeof fields.k !== 'string') {
      throw invalidRequest(`The NextToken '${nextToken.slice(0, 40)}' does not belong to this listing; keep the other parameters the same across pages`);
    }
    const index = items.findIndex((item) => keyOf(item) === fields.k);
    // The item the token names may have gone since; nothing after it can be placed, so start over
    // past the items that sort before it is not possible with opaque keys: end the listing.
    start = index === -1 ? items.length : index + 1;
  }
  const end = typeof maxResults !== 'number' ? items.length : Math.min(items.length, start + maxResults);
  const page = items.slice(start, end);
  const last = page.at(-1);
  if (end >= items.length || last === undefined) return { items: page };
  return { items: page, nextToken: Buffer.from(JSON.stringify({ s: scopeHash, k: keyOf(last) })).toString('base64url') };
}

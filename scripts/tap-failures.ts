/**
 * @module
 * The failed tests of a node:test TAP stream, for the closing summary of `npm test`: a CI log is
 * often seen only by its tail, so the tail must name what failed, where, and why.
 *
 * Only tests that failed themselves are listed; a suite or file that failed because a subtest did
 * (failureType 'subtestsFailed') adds nothing the subtest's line does not say.
 */

export interface TapFailure {
  /** The test's name, prefixed by the names of the suites it is in ("suite > test"). */
  name: string;
  /** file:line:column of the test, when TAP gives one. */
  location?: string;
  /** The first line of the error message. */
  error?: string;
}

const testLine = /^(\s*)(not ok|ok) \d+ - (.*?)(?: # (?:SKIP|TODO).*)?$/;
const subtestLine = /^(\s*)# Subtest: (.*)$/;

/** Unquotes a YAML scalar node:test writes: 'single quoted' or bare. */
function scalar(text: string): string {
  const trimmed = text.trim();
  return trimmed.startsWith("'") && trimmed.endsWith("'") ? trimmed.slice(1, -1).replaceAll("''", "'") : trimmed;
}

export function tapFailures(tap: string): TapFailure[] {
  const lines = tap.split('\n');
  const failures: TapFailure[] = [];
  /** Names of the subtests open at each indentation depth, for the "suite > test" path. */
  const open: Array<{ indent: number; name: string }> = [];
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index] ?? '';
    const subtest = subtestLine.exec(line);
    if (subtest) {
      const indent = subtest[1]?.length ?? 0;
      while (open.length > 0 && (open.at(-1)?.indent ?? 0) >= indent) open.pop();
      open.push({ indent, name: subtest[2] ?? '' });
      continue;
    }
    const result = testLine.exec(line);
    if (!result) continue;
    const indent = result[1]?.length ?? 0;
    const parents = open.filter((entry) => entry.indent < indent).map((entry) => entry.name);
    while (open.length > 0 && (open.at(-1)?.indent ?? 0) >= indent) open.pop();
    if (result[2] !== 'not ok') continue;
    // The YAML block follows, indented two more, between '---' and '...'.
    const failure: TapFailure = { name: [...parents, result[3] ?? ''].join(' > ') };
    let failureType = '';
    const fieldIndent = ' '.repeat(indent + 2);
    if ((lines[index + 1] ?? '').trim() === '---') {
      for (let at = index + 2; at < lines.length; at++) {
        const field = lines[at] ?? '';
        if (field.trim() === '...' && field.startsWith(fieldIndent) && !field.startsWith(`${fieldIndent} `)) break;
        if (!field.startsWith(fieldIndent) || field.startsWith(`${fieldIndent} `)) continue;
        const [key, ...rest] = field.slice(fieldIndent.length).split(':');
        const value = rest.join(':');
        if (key === 'location') failure.location = scalar(value);
        else if (key === 'failureType') failureType = scalar(value);
        else if (key === 'error') {
          // Either inline ('message') or a block (|-) whose first line follows, indented further.
          const inline = scalar(value);
          failure.error = inline === '|-' || inline === '|' ? (lines[at + 1] ?? '').trim() : inline;
        }
      }
    }
    if (failureType !== 'subtestsFailed') failures.push(failure);
  }
  return failures;
}

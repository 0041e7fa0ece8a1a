/**
 * @module
 * The error of a git fetch or listing that failed on the remote side, with a stable `reason`
 * read from git's own words, and git's last stderr lines scrubbed of every secret it was given.
 */

export type SourceFetchReason =
  /** The server refused the token or the deploy key. */
  | 'AUTHENTICATION_FAILED'
  /** The SSH server's host key is not among the pinned ones. */
  | 'HOST_KEY_MISMATCH'
  /** The repository exists and answered, but has no such branch. */
  | 'BRANCH_NOT_FOUND'
  /** The server answered that there is no repository at that path. */
  | 'REPOSITORY_NOT_FOUND'
  /** Name resolution, connection or timeout: the server was not reached. */
  | 'UNREACHABLE'
  /** The checkout has no such source directory, or it leaves the checkout. */
  | 'SOURCE_DIRECTORY_INVALID'
  /** Anything else git reported. */
  | 'FAILED';

export class SourceFetchError extends Error {
  readonly code = 'SOURCE_FETCH_FAILED';
  readonly reason: SourceFetchReason;
  /** git's last stderr lines, secrets replaced by `***`. */
  readonly gitMessage: string;

  constructor(reason: SourceFetchReason, message: string, gitMessage = '') {
    super(message);
    this.name = 'SourceFetchError';
    this.reason = reason;
    this.gitMessage = gitMessage;
  }
}

/** Reads the reason from git's (and ssh's) stderr; the patterns are their C-locale messages. */
export function classifyGitFailure(stderr: string): SourceFetchReason {
  if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|host key for .* has changed|No \S+ host key is known/i.test(stderr)) {
    return 'HOST_KEY_MISMATCH';
  }
  if (/Authentication failed|Permission denied \(|returned error: 40[13]|could not read (Username|Password)|terminal prompts disabled/i.test(stderr)) {
    return 'AUTHENTICATION_FAILED';
  }
  if (/couldn't find remote ref|Remote branch .* not found/i.test(stderr)) return 'BRANCH_NOT_FOUND';
  if (/repository '.*' not found|does not appear to be a git repository|returned error: 404|not a git repository/i.test(stderr)) {
    return 'REPOSITORY_NOT_FOUND';
  }
  if (/Could not resolve host|Failed to connect|Connection refused|Connection timed out|timed out|Network is unreachable|No route to host|Connection closed by|Could not read from remote repository/i.test(stderr)) {
    return 'UNREACHABLE';
  }
  return 'FAILED';
}

/** The last `lines` non-empty lines of `text`, each secret (and its base64 form) replaced by `***`. */
export function scrubbedTail(text: string, secrets: readonly string[], lines = 6): string {
  let scrubbed = text;
  // Longest first, so that a secret containing another is replaced whole.
  for (const secret of [...secrets].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length)) {
    scrubbed = scrubbed.split(secret).join('***');
  }
  return scrubbed
    .split(/\r?\n|\r/)
    .map((line) => line.trimEnd())
    .filter((line) => line !== '')
    .slice(-lines)
    .join('\n');
}

/**
 * @module
 * Which repository addresses Berth hands to `git`, and which branch names and source
 * directories it accepts (app-runner-api.md §3.4). Everything here is checked before any git
 * process starts: git itself would run `ext::` commands, read `-`-prefixed "URLs" as options,
 * and keep credentials written into a URL in its config and error messages.
 */
import { posix } from 'node:path';
import { invalidRequest, showValue } from './errors.ts';

/** The transport a repository address uses; it decides which credential form fits it. */
export type GitTransport = 'http' | 'ssh' | 'file';

export interface ParsedGitUrl {
  /** The address as given (it is passed to git unchanged once accepted). */
  url: string;
  transport: GitTransport;
  /** `https` or `http` for the http transport; the token header is scoped to this origin. */
  scheme?: 'https' | 'http';
  /** Host name without brackets, for http and ssh addresses. */
  host?: string;
  /** `scheme://host[:port]` of an http address. */
  origin?: string;
}

const FORMS =
  'https://host/path, http://host/path, ssh://user@host[:port]/path, user@host:path, an absolute local path or file:///path';

/**
 * Accepts the address forms of FORMS and refuses the rest with a message that names the bad
 * value. Credentials in the address are refused rather than stripped: the caller should learn
 * that they belong in a connection, not have them silently dropped.
 */
export function parseGitUrl(url: string): ParsedGitUrl {
  const refuse = (why: string): never => {
    throw invalidRequest(`Repository URL ${showValue(url)} ${why}; use one of: ${FORMS}`);
  };
  if (url.length === 0 || url.length > 2048) refuse('must be 1 to 2048 characters long');
  // git reads an argument starting with '-' as an option even where a URL is expected
  // (CVE-2017-1000117 smuggled `-oProxyCommand` through ssh host names this way).
  if (url.startsWith('-')) refuse('starts with "-", which git would read as an option');
  // Whitespace and control characters have no place in an address and could split a log line
  // or a config value.
  if (hasCharBelow(url, 0x21)) refuse('contains whitespace or a control character');
  // `<transport>::<address>` runs a remote helper: `ext::` runs any command, `fd::` reads file descriptors.
  if (/^[A-Za-z][A-Za-z0-9+.-]*::/.test(url)) refuse('uses a git remote helper ("<transport>::"), which Berth does not run');

  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url)?.[1]?.toLowerCase();
  if (scheme !== undefined) {
    if (scheme === 'file') {
      if (!url.startsWith('file:///')) refuse('is a file URL with a host; write it as file:///absolute/path');
      return { url, transport: 'file' };
    }
    if (scheme !== 'https' && scheme !== 'http' && scheme !== 'ssh') refuse(`uses the scheme ${showValue(scheme)}, which Berth does not fetch from`);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return refuse('is not a valid URL');
    }
    if (parsed.hostname === '') refuse('has no host');
    const host = parsed.hostname.replace(/^\[|\]$/g, '');
    if (host.startsWith('-')) refuse('has a host starting with "-", which ssh would read as an option');
    if (scheme === 'ssh') {
      if (parsed.password !== '') refuse('contains a password; put the SSH private key in a connection (Berth.CompleteConnectionHandshake) instead');
      if (parsed.username.startsWith('-')) refuse('has a user starting with "-", which ssh would read as an option');
      return { url, transport: 'ssh', host };
    }
    if (parsed.username !== '' || parsed.password !== '') {
      refuse('contains credentials; remove them and put the token in a connection (Berth.CompleteConnectionHandshake) instead');
    }
    return { url, transport: 'http', scheme: scheme === 'http' ? 'http' : 'https', host, origin: `${scheme}://${parsed.host}` };
  }

  if (url.startsWith('/')) return { url, transport: 'file' };

  // git's scp-like syntax: `[user@]host:path`, recognised when a ':' comes before any '/'.
  const scp = /^(?:([^@/:]+)@)?(\[[^\]/]+\]|[^@/:[\]]+):(.*)$/.exec(url);
  if (scp !== null) {
    const [, user, bracketed = '', path = ''] = scp;
    const host = bracketed.replace(/^\[|\]$/g, '');
    if (user?.startsWith('-') === true || host.startsWith('-')) refuse('has a user or host starting with "-", which ssh would read as an option');
    if (path === '') refuse('has no repository path after ":"');
    return { url, transport: 'ssh', host };
  }
  return refuse('is not a git address Berth accepts (a relative local path is ambiguous: make it absolute)');
}

/** Loopback hosts: the only ones a token may be sent to over plain http. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * A branch name as `git check-ref-format --branch` would accept it, minus the `@{-1}`
 * shorthands, and never starting with '-' (it is passed inside a refspec and ls-remote pattern).
 */
export function checkBranchName(branch: string): void {
  const ok =
    branch.length > 0 &&
    branch.length <= 255 &&
    !branch.startsWith('-') &&
    !hasCharBelow(branch, 0x21) &&
    !/[~^:?*[\\]/.test(branch) &&
    !branch.includes('..') &&
    !branch.includes('@{') &&
    branch !== '@' &&
    !branch.split('/').some((part) => part === '' || part.startsWith('.') || part.endsWith('.lock')) &&
    !branch.endsWith('.');
  if (!ok) {
    throw invalidRequest(
      `Branch ${showValue(branch)} is not a valid git branch name; use a name such as 'main' or 'release/1.2' (no spaces, '..', '~', '^', ':', '?', '*', '[', '\\', and no leading '-')`,
    );
  }
}

/**
 * The source directory as a normalized relative path ('.' for the repository root). A leading
 * '/' means the repository root, as in App Runner's console ('/services/api'); '..' escapes are
 * refused here, symlinks that leave the checkout after checkout, when they can be resolved.
 */
export function normalizeSourceDirectory(sourceDirectory: string | undefined): string {
  if (sourceDirectory === undefined || sourceDirectory === '' || sourceDirectory === '/') return '.';
  const refuse = (why: string): never => {
    throw invalidRequest(`SourceDirectory ${showValue(sourceDirectory)} ${why}; give a path from the repository root, such as 'services/api'`);
  };
  if (sourceDirectory.length > 4096) refuse('is longer than 4096 characters');
  if (hasCharBelow(sourceDirectory, 0x20) || sourceDirectory.includes('\\')) refuse('contains a control character or a backslash');
  const normalized = posix.normalize(sourceDirectory.replace(/^\/+/, '')).replace(/\/+$/, '');
  if (normalized === '..' || normalized.startsWith('../')) refuse('leads outside the repository');
  return normalized === '' ? '.' : normalized;
}

/** True if `text` has a character below `limit` or DEL: control characters (and space for 0x21). */
function hasCharBelow(text: string, limit: number): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < limit || c === 0x7f) return true;
  }
  return false;
}

/**
 * @module
 * The error catalog. Every error Berth returns carries a stable code (App Runner's exception
 * names where the App Runner API speaks, the generic AWS JSON ones elsewhere) and its HTTP
 * status, so the API's error handler needs no mapping table.
 */

export const ERRORS = {
  // App Runner's modeled errors (app-runner-api.md §1.4).
  InvalidRequestException: 400,
  InvalidStateException: 400,
  ResourceNotFoundException: 400,
  ServiceQuotaExceededException: 402,
  InternalServiceErrorException: 500,
  // Generic AWS JSON 1.0 errors.
  UnknownOperationException: 400,
  SerializationException: 400,
  MissingAuthenticationTokenException: 403,
  IncompleteSignatureException: 400,
  InvalidSignatureException: 403,
  UnrecognizedClientException: 403,
  AccessDeniedException: 403,
  // A session's temporary credentials outlived their Expiration (STS answers 400 too).
  ExpiredTokenException: 400,
} as const;

export type ErrorCode = keyof typeof ERRORS;

/** An error meant for the client: a code from the catalog and a message that names the bad value. */
export class BerthError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, message: string) {
    // App Runner's ErrorMessage is at most 600 characters.
    super(message.length > 600 ? `${message.slice(0, 597)}...` : message);
    this.name = code;
    this.code = code;
    this.status = ERRORS[code];
  }
}

export const invalidRequest = (message: string): BerthError => new BerthError('InvalidRequestException', message);
export const invalidState = (message: string): BerthError => new BerthError('InvalidStateException', message);
export const notFound = (message: string): BerthError => new BerthError('ResourceNotFoundException', message);

/** Shows a value in a message the way AWS does: quoted, shortened when long. */
export function showValue(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  return text.length > 100 ? `'${text.slice(0, 97)}...'` : `'${text}'`;
}

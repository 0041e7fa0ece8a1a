/**
 * @module
 * The one error type of the Docker Engine client. `code` is stable and says which of four things
 * went wrong; `engineMessage` is the engine's own words, for callers that compose messages for
 * users (a failed pull should say "manifest unknown", not an HTTP status).
 */

export type DockerEngineErrorCode =
  /** The socket is absent or refuses connections: no engine runs there. */
  | 'DOCKER_ENGINE_UNREACHABLE'
  /** The engine answered with an HTTP error status. */
  | 'DOCKER_ENGINE_HTTP'
  /** The engine answered 200 but a progress stream (pull, push, build) reported an error. */
  | 'DOCKER_ENGINE_STREAM'
  /** The connection failed or timed out in the middle of a call. */
  | 'DOCKER_ENGINE_TRANSPORT';

export class DockerEngineError extends Error {
  readonly code: DockerEngineErrorCode;
  /** HTTP status for `DOCKER_ENGINE_HTTP`. */
  readonly statusCode: number | undefined;
  /** What the engine said, without Berth's context. */
  readonly engineMessage: string;

  constructor(code: DockerEngineErrorCode, message: string, engineMessage: string, statusCode?: number, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DockerEngineError';
    this.code = code;
    this.engineMessage = engineMessage;
    this.statusCode = statusCode;
  }
}

/** True for an engine answer with this HTTP status (404 no such object, 409 conflict, ...). */
export function isEngineStatus(error: unknown, statusCode: number): error is DockerEngineError {
  return error instanceof DockerEngineError && error.code === 'DOCKER_ENGINE_HTTP' && error.statusCode === statusCode;
}

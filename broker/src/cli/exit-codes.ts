/**
 * Exit codes of the `switchyard` client commands (spec/management.md §CLI), so scripts can
 * tell "not there" from "broker down" without parsing text.
 */
export const EXIT = {
  OK: 0,
  /** Bad flags, a server error, anything not listed below. */
  FAILURE: 1,
  /** The queue, exchange, binding or connection does not exist (HTTP 404). */
  NOT_FOUND: 2,
  /** In use, not empty, declared differently, exclusive to another connection, already exists (HTTP 409/412). */
  CONFLICT: 3,
  /** Credentials or access refused (HTTP 401/403). */
  REFUSED: 4,
  /** The management API could not be reached. */
  UNREACHABLE: 5,
  /** The broker rejected the request as invalid (HTTP 400/413/415). */
  BAD_REQUEST: 6,
  /** `publish --mandatory`: the message matched no queue. */
  UNROUTABLE: 7,
} as const;

export function exitCodeForStatus(status: number): number {
  if (status === 404) return EXIT.NOT_FOUND;
  if (status === 409 || status === 412) return EXIT.CONFLICT;
  if (status === 401 || status === 403) return EXIT.REFUSED;
  if (status === 400 || status === 413 || status === 415) return EXIT.BAD_REQUEST;
  return EXIT.FAILURE;
}

/** A failure the CLI reports as one line on stderr, exiting with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.FAILURE,
  ) {
    super(message.replace(/\s*\n\s*/g, ' '));
    this.name = 'CliError';
  }
}

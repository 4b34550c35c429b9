/**
 * Reply codes, as AMQP 0-9-1 defines them. Clients switch on `code` (or `name`), never on
 * message text. Every code here is documented in spec/protocol.md ("Reply codes").
 */
export const ErrorCode = {
  CONTENT_TOO_LARGE: 311,
  NO_ROUTE: 312,
  NO_CONSUMERS: 313,
  CONNECTION_FORCED: 320,
  INVALID_PATH: 402,
  ACCESS_REFUSED: 403,
  NOT_FOUND: 404,
  RESOURCE_LOCKED: 405,
  PRECONDITION_FAILED: 406,
  FRAME_ERROR: 501,
  SYNTAX_ERROR: 502,
  COMMAND_INVALID: 503,
  CHANNEL_ERROR: 504,
  UNEXPECTED_FRAME: 505,
  RESOURCE_ERROR: 506,
  NOT_ALLOWED: 530,
  NOT_IMPLEMENTED: 540,
  INTERNAL_ERROR: 541,
} as const;

export type ErrorName = keyof typeof ErrorCode;
export type ErrorCodeValue = (typeof ErrorCode)[ErrorName];

const NAME_BY_CODE = new Map<number, ErrorName>(
  (Object.entries(ErrorCode) as [ErrorName, number][]).map(([name, code]) => [code, name]),
);

/** The reply-code name for a numeric code, or `UNKNOWN_ERROR` for a code this version does not know. */
export function errorNameOf(code: number): string {
  return NAME_BY_CODE.get(code) ?? 'UNKNOWN_ERROR';
}

/**
 * Soft errors close only the channel they happened on; every other code closes the whole
 * connection (AMQP 0-9-1 §1.2 "soft" vs "hard" errors).
 */
export function isChannelError(code: number): boolean {
  return (
    code === ErrorCode.CONTENT_TOO_LARGE ||
    code === ErrorCode.NO_ROUTE ||
    code === ErrorCode.NO_CONSUMERS ||
    code === ErrorCode.ACCESS_REFUSED ||
    code === ErrorCode.NOT_FOUND ||
    code === ErrorCode.RESOURCE_LOCKED ||
    code === ErrorCode.PRECONDITION_FAILED
  );
}

/**
 * An error the broker reported (or the client detected) carrying an AMQP reply code.
 * `name` is the reply-code name (`NOT_FOUND`, `PRECONDITION_FAILED`, ...), so
 * `err.name === 'NOT_FOUND'` and `err.code === 404` both work.
 */
export class BrokerError extends Error {
  readonly code: number;
  constructor(code: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = errorNameOf(code);
  }
}

/**
 * A frame that cannot be decoded: bad length, unknown type, a field of the wrong type.
 * Always a connection error (501 FRAME_ERROR or 502 SYNTAX_ERROR), since after a framing
 * error the peer cannot trust anything else on the connection.
 */
export class ProtocolError extends BrokerError {
  constructor(message: string, code: number = ErrorCode.FRAME_ERROR, options?: ErrorOptions) {
    super(code, message, options);
  }
}

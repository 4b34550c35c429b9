import { BrokerError, ErrorCode, ProtocolError } from '@switchyard/client/protocol';
import { HttpError } from './http-util.js';

/**
 * HTTP status for each AMQP reply code the topology and publish paths raise
 * (spec/management.md §Errors). The body keeps the AMQP name and code.
 */
export const HTTP_STATUS_BY_REPLY_CODE: Readonly<Record<number, number>> = {
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.ACCESS_REFUSED]: 403,
  [ErrorCode.NOT_ALLOWED]: 403,
  // Exclusive queue of another connection, exclusive consumer: the resource is taken.
  [ErrorCode.RESOURCE_LOCKED]: 409,
  // Inequivalent redeclare, in use, not empty: a conflict with the resource's current state.
  [ErrorCode.PRECONDITION_FAILED]: 409,
  [ErrorCode.CONTENT_TOO_LARGE]: 413,
  [ErrorCode.COMMAND_INVALID]: 400,
  [ErrorCode.SYNTAX_ERROR]: 400,
  [ErrorCode.FRAME_ERROR]: 400,
  [ErrorCode.NOT_IMPLEMENTED]: 501,
};

/** Turns whatever a handler threw into the HttpError the API answers with. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof BrokerError || err instanceof ProtocolError) {
    const status = HTTP_STATUS_BY_REPLY_CODE[err.code] ?? 500;
    return new HttpError(status, err.name, err.message, { code: err.code });
  }
  return new HttpError(500, 'internal_error', err instanceof Error ? err.message : String(err));
}

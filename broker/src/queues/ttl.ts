import { BrokerError, ErrorCode } from '@switchyard/client/protocol';

/**
 * Parses a message's `expiration` property: a string of non-negative integer milliseconds,
 * as AMQP defines it. Anything else is 406 PRECONDITION_FAILED, as RabbitMQ answers.
 */
export function parseExpiration(expiration: string | undefined): number | undefined {
  if (expiration === undefined) return undefined;
  if (!/^\d{1,15}$/.test(expiration)) {
    throw new BrokerError(
      ErrorCode.PRECONDITION_FAILED,
      `invalid expiration '${expiration}': expected a string of non-negative integer milliseconds`,
    );
  }
  return Number(expiration);
}

/** When a message expires: the earlier of the queue's TTL and its own; 0 = never. */
export function expiryOf(now: number, queueTtlMs: number | undefined, messageTtlMs: number | undefined): number {
  const ttl =
    queueTtlMs === undefined
      ? messageTtlMs
      : messageTtlMs === undefined
        ? queueTtlMs
        : Math.min(queueTtlMs, messageTtlMs);
  return ttl === undefined ? 0 : now + ttl;
}

import { BrokerError, ErrorCode, type FieldTable } from '@switchyard/client/protocol';

/** The queue arguments (RabbitMQ's `x-` names) that change how a queue behaves, parsed. */
export interface QueuePolicy {
  /** `x-consumer-timeout`: ms a delivery may stay unacked before its channel is closed. */
  consumerTimeoutMs: number | undefined;
  /** `x-single-active-consumer`: one consumer gets everything; the next takes over in order. */
  singleActiveConsumer: boolean;
}

function invalid(queue: string, arg: string, expected: string, value: unknown): BrokerError {
  return new BrokerError(
    ErrorCode.PRECONDITION_FAILED,
    `invalid arg '${arg}' for queue '${queue}': expected ${expected}, got ${JSON.stringify(value)}`,
  );
}

function nonNegativeInt(queue: string, args: FieldTable, arg: string): number | undefined {
  const v = args[arg];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw invalid(queue, arg, 'a non-negative integer', v);
  return v;
}

function bool(queue: string, args: FieldTable, arg: string): boolean {
  const v = args[arg];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw invalid(queue, arg, 'a boolean', v);
  return v;
}

/**
 * Validates and parses a queue's arguments. Unknown arguments are kept but ignored, as
 * RabbitMQ does; a known argument of the wrong type or range is 406 PRECONDITION_FAILED
 * naming it.
 */
export function parseQueueArguments(queue: string, args: FieldTable): QueuePolicy {
  return {
    consumerTimeoutMs: nonNegativeInt(queue, args, 'x-consumer-timeout'),
    singleActiveConsumer: bool(queue, args, 'x-single-active-consumer'),
  };
}

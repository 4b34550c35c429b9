import { BrokerError, ErrorCode, isFieldTable, type FieldTable } from '@switchyard/client/protocol';
import type { RetryPolicy } from './retry-policy.js';

export type Overflow = 'drop-head' | 'reject-publish' | 'reject-publish-dlx';
const OVERFLOWS: readonly Overflow[] = ['drop-head', 'reject-publish', 'reject-publish-dlx'];

/** RabbitMQ's cap for `x-max-priority`. */
export const MAX_PRIORITY = 255;

/** The queue arguments (RabbitMQ's `x-` names, plus Switchyard's own) that shape a queue, parsed. */
export interface QueuePolicy {
  /** `x-consumer-timeout`: ms a delivery may stay unacked before its channel is closed. */
  consumerTimeoutMs: number | undefined;
  /** `x-single-active-consumer`: one consumer gets everything; the next takes over in order. */
  singleActiveConsumer: boolean;
  /** `x-message-ttl`: ms a message may wait in the queue. */
  messageTtlMs: number | undefined;
  /** `x-expires`: ms an unused queue lives. */
  expiresMs: number | undefined;
  /** `x-max-length`: most ready messages. */
  maxLength: number | undefined;
  /** `x-max-length-bytes`: most ready body bytes. */
  maxLengthBytes: number | undefined;
  /** `x-overflow`: what happens at a length limit. Default `drop-head`. */
  overflow: Overflow;
  /** `x-dead-letter-exchange`. */
  deadLetterExchange: string | undefined;
  /** `x-dead-letter-routing-key`; undefined keeps the message's own routing key. */
  deadLetterRoutingKey: string | undefined;
  /** `x-delivery-limit`: failed deliveries allowed before the message is dead-lettered. */
  deliveryLimit: number | undefined;
  /** `x-max-priority`: 0 = not a priority queue. */
  maxPriority: number;
  /** `x-retry-delays`: delay before a requeued message is ready again. */
  retry: RetryPolicy | undefined;
  /** `x-deduplication-window`: ms within which a repeated messageId is dropped. */
  dedupWindowMs: number | undefined;
}

class ArgumentReader {
  constructor(
    private readonly queue: string,
    private readonly args: FieldTable,
  ) {}

  invalid(arg: string, expected: string): BrokerError {
    return new BrokerError(
      ErrorCode.PRECONDITION_FAILED,
      `invalid arg '${arg}' for queue '${this.queue}': expected ${expected}, got ${JSON.stringify(this.args[arg])}`,
    );
  }

  private value(arg: string): unknown {
    const v = this.args[arg];
    return v === null ? undefined : v;
  }

  int(arg: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const v = this.value(arg);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      throw this.invalid(
        arg,
        max === Number.MAX_SAFE_INTEGER ? `an integer of at least ${min}` : `an integer from ${min} to ${max}`,
      );
    }
    return v;
  }

  bool(arg: string): boolean {
    const v = this.value(arg);
    if (v === undefined) return false;
    if (typeof v !== 'boolean') throw this.invalid(arg, 'a boolean');
    return v;
  }

  str(arg: string): string | undefined {
    const v = this.value(arg);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw this.invalid(arg, 'a string');
    return v;
  }

  overflow(): Overflow {
    const v = this.value('x-overflow');
    if (v === undefined) return 'drop-head';
    if (!OVERFLOWS.includes(v as Overflow)) throw this.invalid('x-overflow', `one of ${OVERFLOWS.join(', ')}`);
    return v as Overflow;
  }

  retry(): RetryPolicy | undefined {
    const v = this.value('x-retry-delays');
    if (v === undefined) return undefined;
    const expected = 'a non-empty list of delays in ms, or { initial, multiplier, max, jitter }';
    if (Array.isArray(v)) {
      if (v.length === 0 || !v.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0))
        throw this.invalid('x-retry-delays', expected);
      return { kind: 'list', delays: v as number[] };
    }
    if (!isFieldTable(v)) throw this.invalid('x-retry-delays', expected);
    const num = (k: string, dflt: number): number => {
      const x = v[k] ?? dflt;
      if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) throw this.invalid('x-retry-delays', expected);
      return x;
    };
    const initial = num('initial', NaN);
    if (Number.isNaN(initial)) throw this.invalid('x-retry-delays', expected);
    const jitter = num('jitter', 0);
    if (jitter > 1) throw this.invalid('x-retry-delays', 'jitter as a fraction from 0 to 1');
    return { kind: 'exponential', initial, multiplier: num('multiplier', 2), max: num('max', 3_600_000), jitter };
  }
}

/**
 * Validates and parses a queue's arguments. Unknown arguments are kept but ignored, as
 * RabbitMQ does; a known argument of the wrong type or range is 406 PRECONDITION_FAILED
 * naming it.
 */
export function parseQueueArguments(queue: string, args: FieldTable): QueuePolicy {
  const r = new ArgumentReader(queue, args);
  const policy: QueuePolicy = {
    consumerTimeoutMs: r.int('x-consumer-timeout', 0),
    singleActiveConsumer: r.bool('x-single-active-consumer'),
    messageTtlMs: r.int('x-message-ttl', 0),
    expiresMs: r.int('x-expires', 1),
    maxLength: r.int('x-max-length', 0),
    maxLengthBytes: r.int('x-max-length-bytes', 0),
    overflow: r.overflow(),
    deadLetterExchange: r.str('x-dead-letter-exchange'),
    deadLetterRoutingKey: r.str('x-dead-letter-routing-key'),
    deliveryLimit: r.int('x-delivery-limit', 0),
    maxPriority: r.int('x-max-priority', 0, MAX_PRIORITY) ?? 0,
    retry: r.retry(),
    dedupWindowMs: r.int('x-deduplication-window', 1),
  };
  if (policy.deadLetterRoutingKey !== undefined && policy.deadLetterExchange === undefined) {
    throw new BrokerError(
      ErrorCode.PRECONDITION_FAILED,
      `invalid arg 'x-dead-letter-routing-key' for queue '${queue}': it needs x-dead-letter-exchange too`,
    );
  }
  return policy;
}

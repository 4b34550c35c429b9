import { BrokerError, ErrorCode, type FieldTable } from '@switchyard/client/protocol';

/** RabbitMQ's default `x-stream-max-segment-size-bytes` (500 MB). */
export const DEFAULT_SEGMENT_BYTES = 500_000_000;

/** True when queue arguments declare a stream (`x-queue-type: stream`). */
export function isStreamArguments(args: FieldTable): boolean {
  return args['x-queue-type'] === 'stream';
}

/** A stream's retention settings, parsed from its queue arguments. spec/semantics.md §Streams. */
export interface StreamPolicy {
  /** `x-max-length-bytes`: most bytes kept (whole segments removed beyond it). */
  maxLengthBytes: number | undefined;
  /** `x-max-age` in ms: segments whose newest message is older are removed. */
  maxAgeMs: number | undefined;
  /** `x-stream-max-segment-size-bytes`: a segment closes once it holds this many bytes. */
  segmentBytes: number;
}

const UNIT_MS: Record<string, number> = {
  Y: 365 * 86_400_000,
  M: 30 * 86_400_000,
  D: 86_400_000,
  h: 3_600_000,
  m: 60_000,
  s: 1000,
};

/**
 * RabbitMQ's interval syntax (`x-max-age`, and `x-stream-offset` intervals): a positive
 * integer and one unit of Y, M, D, h, m, s (`'7D'`, `'12h'`). Undefined when malformed.
 */
export function parseInterval(v: string): number | undefined {
  const m = /^([0-9]{1,12})([YMDhms])$/.exec(v);
  if (m === null) return undefined;
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

function invalid(queue: string, arg: string, expected: string, got: unknown): BrokerError {
  return new BrokerError(
    ErrorCode.PRECONDITION_FAILED,
    `invalid arg '${arg}' for queue '${queue}': expected ${expected}, got ${JSON.stringify(got) ?? typeof got}`,
  );
}

function positiveInt(queue: string, args: FieldTable, arg: string): number | undefined {
  const v = args[arg];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw invalid(queue, arg, 'a positive integer', v);
  return v;
}

/**
 * Validates a stream's declaration as RabbitMQ does: durable only (exclusive, auto-delete
 * or non-durable is 406), retention arguments well-formed, classic-only arguments refused.
 */
export function parseStreamPolicy(
  queue: string,
  settings: { durable: boolean; autoDelete: boolean; exclusive: boolean },
  args: FieldTable,
): StreamPolicy {
  const refuse = (what: string): BrokerError =>
    new BrokerError(
      ErrorCode.PRECONDITION_FAILED,
      `invalid property '${what}' for queue '${queue}': a stream (x-queue-type stream) must be durable, not exclusive, not auto-delete`,
    );
  if (!settings.durable) throw refuse('non-durable');
  if (settings.exclusive) throw refuse('exclusive');
  if (settings.autoDelete) throw refuse('auto-delete');
  for (const arg of ['x-max-length', 'x-message-ttl', 'x-max-priority', 'x-dead-letter-exchange', 'x-expires']) {
    if (args[arg] !== undefined && args[arg] !== null)
      throw new BrokerError(
        ErrorCode.PRECONDITION_FAILED,
        `invalid arg '${arg}' for queue '${queue}': streams do not support it; use x-max-length-bytes or x-max-age`,
      );
  }
  const age = args['x-max-age'];
  let maxAgeMs: number | undefined;
  if (age !== undefined && age !== null) {
    maxAgeMs = typeof age === 'string' ? parseInterval(age) : undefined;
    if (maxAgeMs === undefined || maxAgeMs <= 0)
      throw invalid(queue, 'x-max-age', "an interval like '7D' or '12h'", age);
  }
  return {
    maxLengthBytes: positiveInt(queue, args, 'x-max-length-bytes'),
    maxAgeMs,
    segmentBytes: positiveInt(queue, args, 'x-stream-max-segment-size-bytes') ?? DEFAULT_SEGMENT_BYTES,
  };
}

/** Where a stream consumer starts (`x-stream-offset`), parsed. */
export type StartSpec =
  | { kind: 'first' | 'last' | 'next' }
  | { kind: 'offset'; offset: number }
  /** The first message appended at or after this time (ms since the epoch). */
  | { kind: 'time'; at: number };

/**
 * Parses the `x-stream-offset` consume argument with RabbitMQ's meanings: `'first'`,
 * `'last'`, `'next'` (also when absent), a non-negative integer offset, an AMQP timestamp
 * (`{ '!': 'timestamp', value: seconds }`, as amqplib sends it), or an interval string
 * (`'1h'`: messages appended in the last hour). `now` resolves intervals.
 */
export function parseStartSpec(v: unknown, now: number): StartSpec {
  if (v === undefined || v === null) return { kind: 'next' };
  if (v === 'first' || v === 'last' || v === 'next') return { kind: v };
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return { kind: 'offset', offset: v };
  if (typeof v === 'string') {
    const ms = parseInterval(v);
    if (ms !== undefined) return { kind: 'time', at: now - ms };
  }
  if (typeof v === 'object' && !Array.isArray(v)) {
    const t = v as Record<string, unknown>;
    if (t['!'] === 'timestamp' && typeof t['value'] === 'number' && Number.isFinite(t['value']))
      return { kind: 'time', at: t['value'] * 1000 };
  }
  throw new BrokerError(
    ErrorCode.PRECONDITION_FAILED,
    `invalid x-stream-offset ${JSON.stringify(v) ?? typeof v}: expected 'first', 'last', 'next', an offset (integer >= 0), a timestamp or an interval like '1h'`,
  );
}

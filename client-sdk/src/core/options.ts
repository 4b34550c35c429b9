/**
 * Option bags of the channel's topology and consume operations (amqplib's names and
 * defaults), and their translation into wire arguments.
 */
import { fieldTableError } from '../protocol/field-table.js';
import { isFieldTable, type FieldTable } from '../protocol/properties.js';

/** The broker's exchange types. Any other string is sent as is and refused by the broker. */
export type { ExchangeType } from '../protocol/exchange-types.js';

/** Options of `assertExchange`. */
export interface AssertExchangeOptions {
  /** Survives a broker restart. Default true. */
  durable?: boolean;
  /** Deleted when its last binding (as source) is removed. Default false. */
  autoDelete?: boolean;
  /** Cannot be published to directly, only through exchange-to-exchange bindings. Default false. */
  internal?: boolean;
  /** Exchange that receives messages this one cannot route (`alternate-exchange` argument). */
  alternateExchange?: string;
  /** Further exchange arguments. */
  arguments?: FieldTable;
}

/** Options of `assertQueue`; the shorthands become RabbitMQ's `x-` arguments, as in amqplib. */
export interface AssertQueueOptions {
  /** Survives a broker restart. Default true. */
  durable?: boolean;
  /** Used by this connection only and deleted when it closes. Default false. */
  exclusive?: boolean;
  /** Deleted when its last consumer is cancelled. Default false. */
  autoDelete?: boolean;
  /** Queue arguments (`x-message-ttl`, `x-max-length`, ...). The shorthands below win over these. */
  arguments?: FieldTable;
  /** `x-message-ttl`: ms a message may wait in the queue. */
  messageTtl?: number;
  /** `x-expires`: ms the queue may stay unused before it is deleted. */
  expires?: number;
  /** `x-dead-letter-exchange`. */
  deadLetterExchange?: string;
  /** `x-dead-letter-routing-key`. */
  deadLetterRoutingKey?: string;
  /** `x-max-length`: most ready messages the queue holds. */
  maxLength?: number;
  /** `x-max-priority`: makes this a priority queue with priorities 0..maxPriority. */
  maxPriority?: number;
  /** `x-overflow`: what a full queue does (`drop-head`, `reject-publish`, `reject-publish-dlx`). */
  overflow?: string;
  /** `x-queue-mode`, accepted for amqplib compatibility; ignored by the broker (as by RabbitMQ 3.12+). */
  queueMode?: string;
}

/** Options of `deleteExchange`. */
export interface DeleteExchangeOptions {
  /** Only delete if the exchange has no bindings. Default false. */
  ifUnused?: boolean;
}

/** Options of `deleteQueue`. */
export interface DeleteQueueOptions {
  /** Only delete if the queue has no consumers. Default false. */
  ifUnused?: boolean;
  /** Only delete if the queue has no messages. Default false. */
  ifEmpty?: boolean;
}

/** Options of `consume`. */
export interface ConsumeOptions {
  /** The broker considers messages acknowledged once sent. Default false. */
  noAck?: boolean;
  /** No other consumer may consume from the queue meanwhile. Default false. */
  exclusive?: boolean;
  /** Consumers of higher priority receive messages first. Default 0. */
  priority?: number;
  /** The consumer's tag; '' (the default) lets the broker generate one. Kept across automatic recovery. */
  consumerTag?: string;
  /** Further consumer arguments. */
  arguments?: FieldTable;
  /**
   * Most calls of the callback running at once (an async callback runs until its promise
   * settles); further deliveries wait their turn, in order. 0 (the default) means no limit:
   * every delivery calls the callback at once, as amqplib does. Bound what the broker
   * sends ahead with `prefetch`.
   */
  concurrency?: number;
  /**
   * When the callback throws or rejects, the message (unless the callback already settled
   * it) is nacked: requeued if true, dropped - or dead-lettered, if the queue has a
   * dead-letter exchange - if false. Default true.
   */
  requeueOnError?: boolean;
}

/** Options of `get`. */
export interface GetOptions {
  /** The broker considers the message acknowledged once sent. Default false. */
  noAck?: boolean;
}

/** Result of `assertQueue` and `checkQueue`. */
export interface QueueInfo {
  /** The queue's name (the generated one, when declared with ''). */
  queue: string;
  /** Ready messages. */
  messageCount: number;
  consumerCount: number;
}

/**
 * Checks a `string` argument.
 * @throws TypeError `<name> must be a string`
 */
export function requireString(value: unknown, name: string): string {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string`);
  return value;
}

/**
 * Copies an arguments table (so the caller's object is never modified), or `{}`.
 * @throws TypeError `<name> must be a plain object`
 */
export function copyTable(value: unknown, name: string): FieldTable {
  if (value === undefined || value === null) return {};
  if (!isFieldTable(value)) throw new TypeError(`${name} must be a plain object`);
  assertFieldTable(value, name);
  return { ...value };
}

/**
 * Refuses a table the broker would refuse (spec/protocol.md §Field tables), here, at the call,
 * rather than as a connection-closing 502 later.
 * @throws TypeError naming the field: `options.headers.h[0]: a Date is not a field value; ...`
 */
export function assertFieldTable(value: FieldTable, name: string): void {
  const error = fieldTableError(value, name);
  if (error !== undefined) throw new TypeError(error);
}

/** Exchange arguments: `options.arguments` plus `alternate-exchange`. */
export function exchangeArguments(o: AssertExchangeOptions): FieldTable {
  const args = copyTable(o.arguments, 'options.arguments');
  if (o.alternateExchange !== undefined) {
    args['alternate-exchange'] = requireString(o.alternateExchange, 'options.alternateExchange');
  }
  return args;
}

const QUEUE_SHORTHANDS = [
  ['messageTtl', 'x-message-ttl'],
  ['expires', 'x-expires'],
  ['deadLetterExchange', 'x-dead-letter-exchange'],
  ['deadLetterRoutingKey', 'x-dead-letter-routing-key'],
  ['maxLength', 'x-max-length'],
  ['maxPriority', 'x-max-priority'],
  ['overflow', 'x-overflow'],
  ['queueMode', 'x-queue-mode'],
] as const;

/** Queue arguments: `options.arguments` overlaid with the shorthands that are set. */
export function queueArguments(o: AssertQueueOptions): FieldTable {
  const args = copyTable(o.arguments, 'options.arguments');
  for (const [option, argument] of QUEUE_SHORTHANDS) {
    const value = o[option];
    if (value !== undefined) args[argument] = value;
  }
  assertFieldTable(args, 'options');
  return args;
}

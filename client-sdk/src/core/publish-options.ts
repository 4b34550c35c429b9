/**
 * Publish options → wire `properties`. On the hot path: no allocation when there are no
 * options, one object when there are, and only typeof checks. Types are checked here
 * because the broker would answer a mistyped property with a connection-level syntax
 * error, killing every channel for what is a local programming mistake.
 */
import { isFieldTable, type FieldTable, type MessageProperties } from '../protocol/properties.js';
import { assertFieldTable } from './options.js';

/** Options of `publish` / `sendToQueue`; amqplib's names. Unset options are not sent. */
export interface PublishOptions {
  /** Store the message durably in durable queues (AMQP delivery-mode 2). Default false. */
  persistent?: boolean;
  /** amqplib's alias of `persistent`: 2 (or true) means persistent. */
  deliveryMode?: boolean | number;
  /** Return the message (channel 'return' event) if no queue receives it. Default false. */
  mandatory?: boolean;
  /** Application headers; also what headers exchanges match on. */
  headers?: FieldTable;
  messageId?: string;
  correlationId?: string;
  replyTo?: string;
  contentType?: string;
  contentEncoding?: string;
  /** Per-message TTL in milliseconds; a number is sent as its decimal string, as in AMQP. */
  expiration?: string | number;
  /** 0-255; only meaningful for queues declared with `maxPriority`. */
  priority?: number;
  /** Carried unchanged (seconds or milliseconds since the epoch, the publisher's choice). */
  timestamp?: number;
  type?: string;
  appId?: string;
  userId?: string;
}

const encoder = new TextEncoder();

/**
 * The body to send: a Uint8Array (Buffer included) as is, a string UTF-8 encoded.
 * @throws TypeError `content must be a Uint8Array or a string`
 */
export function toContent(content: unknown): Uint8Array {
  if (content instanceof Uint8Array) return content;
  if (typeof content === 'string') return encoder.encode(content);
  throw new TypeError('content must be a Uint8Array or a string');
}

/**
 * The body of a JSON publish: `JSON.stringify(value)`, UTF-8 encoded.
 * @throws TypeError `value cannot be serialized as JSON` (undefined, a function, a symbol,
 *   or a value JSON.stringify throws on: a BigInt, a cycle)
 */
export function toJsonContent(value: unknown): Uint8Array {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new TypeError(`value cannot be serialized as JSON: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (text === undefined) throw new TypeError('value cannot be serialized as JSON');
  return encoder.encode(text);
}

function str(value: unknown, name: string): string {
  if (typeof value !== 'string') throw new TypeError(`options.${name} must be a string`);
  return value;
}

function expirationOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return String(value);
  throw new TypeError('options.expiration must be a string or a non-negative integer of milliseconds');
}

/**
 * The `properties` of a publish frame: only the options that are set, or null for none.
 * @throws TypeError / RangeError for an option of the wrong type or out of range
 */
export function toProperties(o: PublishOptions | undefined): MessageProperties | null {
  if (o === undefined || o === null) return null;
  let p: MessageProperties | null = null;
  if (o.persistent !== undefined) (p ??= {}).persistent = o.persistent === true;
  else if (o.deliveryMode !== undefined) (p ??= {}).persistent = o.deliveryMode === 2 || o.deliveryMode === true;
  if (o.headers !== undefined) {
    if (!isFieldTable(o.headers)) throw new TypeError('options.headers must be a plain object');
    assertFieldTable(o.headers, 'options.headers');
    (p ??= {}).headers = o.headers;
  }
  if (o.messageId !== undefined) (p ??= {}).messageId = str(o.messageId, 'messageId');
  if (o.correlationId !== undefined) (p ??= {}).correlationId = str(o.correlationId, 'correlationId');
  if (o.replyTo !== undefined) (p ??= {}).replyTo = str(o.replyTo, 'replyTo');
  if (o.contentType !== undefined) (p ??= {}).contentType = str(o.contentType, 'contentType');
  if (o.contentEncoding !== undefined) (p ??= {}).contentEncoding = str(o.contentEncoding, 'contentEncoding');
  if (o.expiration !== undefined) (p ??= {}).expiration = expirationOf(o.expiration);
  if (o.priority !== undefined) {
    const v = o.priority;
    if (!Number.isInteger(v) || v < 0 || v > 255) {
      throw new RangeError('options.priority must be an integer from 0 to 255');
    }
    (p ??= {}).priority = v;
  }
  if (o.timestamp !== undefined) {
    if (typeof o.timestamp !== 'number' || !Number.isFinite(o.timestamp)) {
      throw new TypeError('options.timestamp must be a finite number');
    }
    (p ??= {}).timestamp = o.timestamp;
  }
  if (o.type !== undefined) (p ??= {}).type = str(o.type, 'type');
  if (o.appId !== undefined) (p ??= {}).appId = str(o.appId, 'appId');
  if (o.userId !== undefined) (p ??= {}).userId = str(o.userId, 'userId');
  return p;
}

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
  /**
   * amqplib's alias of `persistent`: 2 or true means persistent, 1 or false transient.
   * Given with `persistent`, the two must agree (else TypeError).
   */
  deliveryMode?: boolean | 1 | 2;
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

/**
 * amqplib's ConfirmChannel callback, the optional last argument of `publish` /
 * `sendToQueue`: called once, with `(null, {})` when the broker confirms the message or
 * with the error (the broker's nack as BrokerError, ChannelClosedError ...) when it does not.
 */
export type PublishCallback = (err: Error | null, ok: object) => void;

const encoder = new TextEncoder();

/**
 * Checks the optional confirm callback of `publish` / `sendToQueue`.
 * @throws TypeError `callback must be a function`
 */
export function callbackOf(callback: unknown): PublishCallback | undefined {
  if (callback === undefined) return undefined;
  if (typeof callback !== 'function')
    throw new TypeError(
      'callback must be a function (called with (err) once the broker confirms or refuses the message)',
    );
  return callback as PublishCallback;
}

/**
 * Calls `callback` when `confirmed` settles, as amqplib's ConfirmChannel does: `(null, {})`
 * on the confirm, `(err, {})` otherwise. The promise counts as handled, so an application that
 * only passes a callback never sees an unhandled rejection. A callback that throws
 * surfaces as an uncaught exception, as a throwing event listener does, not as a rejection.
 */
export function notifyCallback(confirmed: Promise<void>, callback: PublishCallback): void {
  const call = (err: Error | null): void => {
    try {
      callback(err, {});
    } catch (thrown) {
      queueMicrotask(() => {
        throw thrown;
      });
    }
  };
  confirmed.then(
    () => call(null),
    (err: unknown) => call(err instanceof Error ? err : new Error(String(err))),
  );
}

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
    throw new TypeError(`value cannot be serialized as JSON: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
  if (text === undefined) throw new TypeError('value cannot be serialized as JSON');
  return encoder.encode(text);
}

function str(value: unknown, name: string): string {
  if (typeof value !== 'string') throw new TypeError(`options.${name} must be a string`);
  return value;
}

/**
 * `persistent`, or its amqplib alias `deliveryMode` (2/true persistent, 1/false transient).
 * @throws TypeError for another deliveryMode, or for the two options disagreeing
 */
function persistenceOf(o: PublishOptions): boolean {
  const persistent = o.persistent === undefined ? undefined : o.persistent === true;
  const mode: unknown = o.deliveryMode;
  if (mode === undefined) return persistent!;
  let fromMode: boolean;
  if (mode === 2 || mode === true) fromMode = true;
  else if (mode === 1 || mode === false) fromMode = false;
  else
    throw new TypeError(
      `options.deliveryMode must be 1 or false (transient), 2 or true (persistent); got ${JSON.stringify(mode) ?? typeof mode}`,
    );
  if (persistent !== undefined && persistent !== fromMode) {
    throw new TypeError(
      `options.persistent (${String(o.persistent)}) and options.deliveryMode (${String(mode)}) disagree: give only one of them`,
    );
  }
  return fromMode;
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
  if (typeof o !== 'object')
    throw new TypeError(
      'options must be an object (a confirm callback goes after it: publish(exchange, routingKey, content, options, callback))',
    );
  if (o.persistent !== undefined || o.deliveryMode !== undefined) (p ??= {}).persistent = persistenceOf(o);
  const cc = o as { CC?: unknown; BCC?: unknown };
  if (cc.CC !== undefined || cc.BCC !== undefined) {
    // amqplib turns these into RabbitMQ's sender-selected distribution headers; dropping them
    // silently would lose every copy but one.
    throw new TypeError(
      'options.CC / options.BCC (sender-selected distribution) are not supported: publish once per routing key',
    );
  }
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

import { ProtocolError, ErrorCode } from './errors.js';

/** A field table: AMQP's `arguments` / `headers` map. Values are any msgpack-encodable value. */
export type FieldTable = Record<string, unknown>;

/**
 * Message properties, named as amqplib names them. All optional; absent means unset.
 * `expiration` is a string of milliseconds, as in AMQP.
 */
export interface MessageProperties {
  contentType?: string;
  contentEncoding?: string;
  headers?: FieldTable;
  /** Stored durably in durable queues (AMQP delivery-mode 2). */
  persistent?: boolean;
  priority?: number;
  correlationId?: string;
  replyTo?: string;
  expiration?: string;
  messageId?: string;
  /** Seconds or milliseconds since the epoch, as the publisher chose; carried unchanged. */
  timestamp?: number;
  type?: string;
  userId?: string;
  appId?: string;
}

type PropertyKind = 'string' | 'boolean' | 'number' | 'table';

const PROPERTY_KINDS: Record<keyof MessageProperties, PropertyKind> = {
  contentType: 'string',
  contentEncoding: 'string',
  headers: 'table',
  persistent: 'boolean',
  priority: 'number',
  correlationId: 'string',
  replyTo: 'string',
  expiration: 'string',
  messageId: 'string',
  timestamp: 'number',
  type: 'string',
  userId: 'string',
  appId: 'string',
};

/** True for a plain object usable as a field table (not an array, buffer or null). */
export function isFieldTable(value: unknown): value is FieldTable {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array) &&
    !(value instanceof Map)
  );
}

/**
 * Checks a decoded properties map: known names only, each of its type. Unknown names are a
 * syntax error rather than silently dropped, so a typo in a client surfaces at once.
 */
export function validateProperties(value: unknown, where: string): MessageProperties | null {
  if (value === null || value === undefined) return null;
  if (!isFieldTable(value)) {
    throw new ProtocolError(`${where}: properties must be a map`, ErrorCode.SYNTAX_ERROR);
  }
  for (const key in value) {
    const kind = PROPERTY_KINDS[key as keyof MessageProperties];
    const v = value[key];
    if (kind === undefined) {
      throw new ProtocolError(`${where}: unknown message property "${key}"`, ErrorCode.SYNTAX_ERROR);
    }
    if (v === undefined || v === null) continue;
    const ok =
      kind === 'table'
        ? isFieldTable(v)
        : kind === 'number'
          ? typeof v === 'number' && Number.isFinite(v)
          : typeof v === kind;
    if (!ok) {
      throw new ProtocolError(
        `${where}: message property "${key}" must be a ${kind === 'table' ? 'map' : kind}`,
        ErrorCode.SYNTAX_ERROR,
      );
    }
  }
  return value as MessageProperties;
}

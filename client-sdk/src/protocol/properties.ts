import { ProtocolError, ErrorCode } from './errors.js';
import { fieldTableError, isPlainObject } from './field-table.js';

/**
 * A field table: AMQP's `arguments` / `headers` map. Values are AMQP field values
 * (field-table.ts `fieldTableError`; spec/protocol.md §Field tables).
 */
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

/**
 * True for a plain object (`{}`, JSON, a msgpack map): the shape of a field table. Its values
 * are checked by `fieldTableError`.
 */
export function isFieldTable(value: unknown): value is FieldTable {
  return isPlainObject(value);
}

/**
 * Checks a decoded properties map: known names only, each of its type; `headers` a field
 * table (fieldTableError) unless `checkTables` is false. Unknown names are a
 * syntax error rather than silently dropped, so a typo in a client surfaces at once.
 */
export function validateProperties(
  value: unknown,
  where: string,
  path = 'properties',
  checkTables = true,
): MessageProperties | null {
  if (value === null || value === undefined) return null;
  if (!isFieldTable(value)) {
    throw new ProtocolError(`${where}: properties must be a map`, ErrorCode.SYNTAX_ERROR);
  }
  for (const key in value) {
    const kind = Object.prototype.hasOwnProperty.call(PROPERTY_KINDS, key)
      ? PROPERTY_KINDS[key as keyof MessageProperties]
      : undefined;
    const v = value[key];
    if (kind === undefined) {
      throw new ProtocolError(`${where}: unknown message property "${key}"`, ErrorCode.SYNTAX_ERROR);
    }
    if (v === undefined || v === null) continue;
    if (kind === 'table') {
      // checkTables is false only for the codec, whose scan applied the same rules to the bytes.
      const error = checkTables
        ? fieldTableError(v, `${path}.${key}`)
        : isFieldTable(v)
          ? undefined
          : `${path}.${key}: expected a map`;
      if (error !== undefined) throw new ProtocolError(error, ErrorCode.SYNTAX_ERROR);
      continue;
    }
    const ok = kind === 'number' ? typeof v === 'number' && Number.isFinite(v) : typeof v === kind;
    if (!ok) throw new ProtocolError(`${where}: message property "${key}" must be a ${kind}`, ErrorCode.SYNTAX_ERROR);
  }
  return value;
}

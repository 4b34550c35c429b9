import type { FieldTable } from '@switchyard/client/protocol';

export type { FieldTable };

/** What a binding delivers to: a queue, or another exchange (exchange-to-exchange binding). */
export type DestinationKind = 'queue' | 'exchange';

/**
 * A binding: messages published to `source` that match `routingKey` / `arguments` under the
 * source exchange's type go to `destination`. Identity covers all five fields (see
 * {@link bindingKey}); as in RabbitMQ, two bindings that differ only in `arguments` coexist.
 */
export interface Binding {
  /** Name of the exchange the binding hangs off. */
  source: string;
  /** Name of the queue or exchange that receives matching messages. */
  destination: string;
  destinationKind: DestinationKind;
  /** Binding key: equal to (direct), a pattern for (topic) or ignored by (fanout, headers). */
  routingKey: string;
  /** Binding arguments: the match spec for headers exchanges, otherwise only part of identity. */
  arguments: FieldTable;
}

/**
 * The identity of a binding as a string: equal for bindings with the same source,
 * destination, destination kind, routing key and arguments. Arguments are compared
 * canonically, so `{ a: 1, b: 2 }` and `{ b: 2, a: 1 }` give the same key (RabbitMQ sorts
 * binding arguments before storing them, with the same effect).
 */
export function bindingKey(b: Binding): string {
  // NUL cannot appear in a JSON-quoted string unescaped, so the parts cannot run together.
  return [
    b.destinationKind,
    JSON.stringify(b.source),
    JSON.stringify(b.destination),
    JSON.stringify(b.routingKey),
    canonicalValue(b.arguments ?? {}),
  ].join('\u0000');
}

/**
 * A deterministic text form of a field value: tables with sorted keys, each value tagged by
 * kind so that the string '1' and the number 1 stay distinct. `null` and `undefined` are both
 * AMQP "void". An integer-valued number and the bigint of the same value share a form, because
 * msgpack may decode the same integer either way.
 */
export function canonicalValue(value: unknown): string {
  if (value === null || value === undefined) return 'v';
  switch (typeof value) {
    case 'string':
      return 's' + JSON.stringify(value);
    case 'boolean':
      return value ? 't' : 'f';
    case 'bigint':
      return 'n' + value.toString();
    case 'number':
      return 'n' + canonicalNumber(value);
    default:
      break;
  }
  if (value instanceof Uint8Array) return 'b' + Buffer.from(value).toString('hex');
  if (value instanceof Date) return 'd' + String(value.getTime());
  if (Array.isArray(value)) return '[' + value.map(canonicalValue).join(',') + ']';
  if (typeof value === 'object') {
    const table = value as Record<string, unknown>;
    const keys = Object.keys(table).sort();
    const entries = keys.map((k) => JSON.stringify(k) + ':' + canonicalValue(table[k]));
    return '{' + entries.join(',') + '}';
  }
  // Functions and symbols cannot come off the wire; give them a stable, non-colliding form.
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a function's or symbol's own text is the point
  return 'x' + String(value);
}

function canonicalNumber(n: number): string {
  if (Object.is(n, -0)) return '0';
  // Large integers print in exponent form; write them as bigint does so both forms agree.
  if (Number.isInteger(n) && Math.abs(n) >= 1e21) return BigInt(n).toString();
  return String(n);
}

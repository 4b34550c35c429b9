/**
 * The exchange types a broker knows (spec/semantics.md §Exchange types): AMQP's four and
 * `x-consistent-hash` (RabbitMQ's consistent-hash plugin, built in). The one list: the
 * broker's declare checks, its management API and CLI, and the SDK's types all read it.
 */
export const EXCHANGE_TYPES = Object.freeze(['direct', 'fanout', 'topic', 'headers', 'x-consistent-hash'] as const);

/** One of {@link EXCHANGE_TYPES}. */
export type ExchangeType = (typeof EXCHANGE_TYPES)[number];

/** True when `value` names a built-in exchange type. */
export function isExchangeType(value: unknown): value is ExchangeType {
  return typeof value === 'string' && (EXCHANGE_TYPES as readonly string[]).includes(value);
}

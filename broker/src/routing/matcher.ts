import type { ExchangeType } from '@switchyard/client/protocol';
import type { Binding, FieldTable } from './binding.js';
import { DirectMatcher } from './direct.js';
import { FanoutMatcher } from './fanout.js';
import { HeadersMatcher, validateHeadersArguments } from './headers.js';
import { TopicMatcher, type TopicMatcherOptions } from './topic.js';
import { ConsistentHashMatcher, MAX_HASH_WEIGHT, parseHashWeight } from './consistent-hash.js';

// The exchange types are listed once, in the protocol module the SDK shares.
export { EXCHANGE_TYPES, isExchangeType, type ExchangeType } from '@switchyard/client/protocol';

/**
 * The bindings of one exchange, indexed for its type's matching rule. Pure and synchronous:
 * no I/O, no timers. Not safe for re-entrant use from inside `match` (nothing calls back).
 */
export interface BindingMatcher {
  /** Number of bindings held. */
  readonly size: number;
  /** Adds a binding; false (and no change) if one with the same {@link bindingKey} exists. */
  add(b: Binding): boolean;
  /** Removes the binding with the same {@link bindingKey}; false if there was none. */
  remove(b: Binding): boolean;
  /**
   * Pushes onto `out` every binding that matches a message with this routing key and these
   * headers (`undefined` headers = an empty table), each binding once, in no promised order.
   */
  match(routingKey: string, headers: FieldTable | undefined, out: Binding[]): void;
  /** Every binding held, in no promised order. Do not add or remove while iterating. */
  bindings(): Iterable<Binding>;
}

/** Tunables for {@link createMatcher}: the topic cache, and what a consistent-hash exchange hashes. */
export type MatcherOptions = TopicMatcherOptions & {
  /** `x-consistent-hash`: hash this header instead of the routing key (`hash-header` argument). */
  hashHeader?: string | undefined;
};

/**
 * Creates an empty matcher for an exchange of the given type.
 * @throws TypeError for a type that is not one of {@link EXCHANGE_TYPES}.
 */
export function createMatcher(type: ExchangeType, options: MatcherOptions = {}): BindingMatcher {
  switch (type) {
    case 'direct':
      return new DirectMatcher();
    case 'fanout':
      return new FanoutMatcher();
    case 'topic':
      return new TopicMatcher(options);
    case 'headers':
      return new HeadersMatcher();
    case 'x-consistent-hash':
      return new ConsistentHashMatcher({ header: options.hashHeader });
    default:
      throw new TypeError(`Unknown exchange type: ${String(type)}`);
  }
}

/**
 * Checks a binding's arguments the way RabbitMQ's `validate_binding` does for the exchange
 * type, before the binding is added. Returns the error text (to be sent as 406
 * PRECONDITION_FAILED, as RabbitMQ does for an invalid binding), or `undefined` when valid.
 * Only headers exchanges constrain arguments (`x-match`).
 */
export function validateBindingArguments(
  type: ExchangeType,
  args: FieldTable | undefined,
  routingKey?: string,
): string | undefined {
  if (type === 'x-consistent-hash' && routingKey !== undefined && parseHashWeight(routingKey) === undefined) {
    return `invalid binding key '${routingKey}' for an x-consistent-hash exchange: it is the weight, an integer from 1 to ${MAX_HASH_WEIGHT}`;
  }
  return type === 'headers' ? validateHeadersArguments(args ?? {}) : undefined;
}

import type { ExchangeType } from '@switchyard/client/protocol';
import type { FieldTable } from './binding.js';
import type { BindingMatcher } from './binding-matcher.js';
import { DirectMatcher } from './direct.js';
import { FanoutMatcher } from './fanout.js';
import { HeadersMatcher, validateHeadersArguments } from './headers.js';
import { TopicMatcher, type TopicMatcherOptions } from './topic.js';
import { ConsistentHashMatcher, MAX_HASH_WEIGHT, parseHashWeight } from './consistent-hash.js';

// The exchange types are listed once, in the protocol module the SDK shares.
export { EXCHANGE_TYPES, isExchangeType, type ExchangeType } from '@switchyard/client/protocol';

export type { BindingMatcher } from './binding-matcher.js';

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

/**
 * Routing: exchange types' binding matchers and the exchange-graph traversal. Pure and
 * synchronous, no I/O; see spec/semantics.md "Routing".
 */
export { type Binding, type DestinationKind, type FieldTable, bindingKey, canonicalValue } from './binding.js';
export {
  type BindingMatcher,
  type ExchangeType,
  type MatcherOptions,
  EXCHANGE_TYPES,
  createMatcher,
  isExchangeType,
  validateBindingArguments,
} from './matcher.js';
export { DirectMatcher } from './direct.js';
export { FanoutMatcher } from './fanout.js';
export { TopicMatcher, type TopicMatcherOptions, splitTopicKey } from './topic.js';
export {
  HeadersMatcher,
  type XMatchMode,
  X_MATCH_MODES,
  fieldValuesEqual,
  headersMatch,
  validateHeadersArguments,
} from './headers.js';
export { type RouteResult, type RoutableExchange, route } from './router.js';

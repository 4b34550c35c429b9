import type { Binding, FieldTable } from './binding.js';

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

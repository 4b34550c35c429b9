import { type Binding, type FieldTable, bindingKey } from './binding.js';
import type { BindingMatcher } from './binding-matcher.js';

/**
 * Direct exchange: a binding matches when its routing key equals the message's routing key,
 * byte for byte (no wildcards, case-sensitive). One map lookup per message.
 */
export class DirectMatcher implements BindingMatcher {
  /** Routing key -> bindings with that key; arrays so `match` copies without iterator overhead. */
  readonly #byRoutingKey = new Map<string, Binding[]>();
  readonly #byIdentity = new Map<string, Binding>();

  get size(): number {
    return this.#byIdentity.size;
  }

  add(b: Binding): boolean {
    const id = bindingKey(b);
    if (this.#byIdentity.has(id)) return false;
    this.#byIdentity.set(id, b);
    const list = this.#byRoutingKey.get(b.routingKey);
    if (list === undefined) this.#byRoutingKey.set(b.routingKey, [b]);
    else list.push(b);
    return true;
  }

  remove(b: Binding): boolean {
    const id = bindingKey(b);
    const stored = this.#byIdentity.get(id);
    if (stored === undefined) return false;
    this.#byIdentity.delete(id);
    const list = this.#byRoutingKey.get(stored.routingKey);
    if (list !== undefined) {
      const at = list.indexOf(stored);
      if (at >= 0) list.splice(at, 1);
      if (list.length === 0) this.#byRoutingKey.delete(stored.routingKey);
    }
    return true;
  }

  match(routingKey: string, _headers: FieldTable | undefined, out: Binding[]): void {
    const list = this.#byRoutingKey.get(routingKey);
    if (list === undefined) return;
    for (let i = 0; i < list.length; i++) out.push(list[i]!);
  }

  bindings(): Iterable<Binding> {
    return this.#byIdentity.values();
  }
}

import { type Binding, type FieldTable, bindingKey } from './binding.js';
import type { BindingMatcher } from './matcher.js';

/** Fanout exchange: every binding matches every message; routing key and headers are ignored. */
export class FanoutMatcher implements BindingMatcher {
  readonly #byIdentity = new Map<string, Binding>();
  /** Snapshot of the bindings for `match`, rebuilt lazily after a change (publish >> bind). */
  #snapshot: Binding[] | undefined = [];

  get size(): number {
    return this.#byIdentity.size;
  }

  add(b: Binding): boolean {
    const id = bindingKey(b);
    if (this.#byIdentity.has(id)) return false;
    this.#byIdentity.set(id, b);
    this.#snapshot = undefined;
    return true;
  }

  remove(b: Binding): boolean {
    if (!this.#byIdentity.delete(bindingKey(b))) return false;
    this.#snapshot = undefined;
    return true;
  }

  match(_routingKey: string, _headers: FieldTable | undefined, out: Binding[]): void {
    const all = (this.#snapshot ??= [...this.#byIdentity.values()]);
    for (let i = 0; i < all.length; i++) out.push(all[i]!);
  }

  bindings(): Iterable<Binding> {
    return this.#byIdentity.values();
  }
}

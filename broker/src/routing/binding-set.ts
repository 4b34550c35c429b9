import { type Binding, bindingKey } from './binding.js';

/**
 * Bindings by identity ({@link bindingKey}), for matchers that do not index by key: add
 * refuses duplicates, remove reports absence, `version` changes on every change so a
 * matcher can rebuild derived state lazily.
 */
export class BindingSet {
  readonly #byIdentity = new Map<string, Binding>();
  version = 0;

  get size(): number {
    return this.#byIdentity.size;
  }

  add(b: Binding): boolean {
    const id = bindingKey(b);
    if (this.#byIdentity.has(id)) return false;
    this.#byIdentity.set(id, b);
    this.version++;
    return true;
  }

  remove(b: Binding): boolean {
    if (!this.#byIdentity.delete(bindingKey(b))) return false;
    this.version++;
    return true;
  }

  values(): IterableIterator<Binding> {
    return this.#byIdentity.values();
  }
}

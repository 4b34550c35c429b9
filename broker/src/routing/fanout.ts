import type { Binding, FieldTable } from './binding.js';
import { BindingSet } from './binding-set.js';
import type { BindingMatcher } from './binding-matcher.js';

/** Fanout exchange: every binding matches every message; routing key and headers are ignored. */
export class FanoutMatcher implements BindingMatcher {
  readonly #set = new BindingSet();
  /** Snapshot of the bindings for `match`, rebuilt lazily after a change (publish >> bind). */
  #snapshot: Binding[] = [];
  #snapshotVersion = 0;

  get size(): number {
    return this.#set.size;
  }

  add(b: Binding): boolean {
    return this.#set.add(b);
  }

  remove(b: Binding): boolean {
    return this.#set.remove(b);
  }

  match(_routingKey: string, _headers: FieldTable | undefined, out: Binding[]): void {
    if (this.#snapshotVersion !== this.#set.version) {
      this.#snapshot = [...this.#set.values()];
      this.#snapshotVersion = this.#set.version;
    }
    const all = this.#snapshot;
    for (let i = 0; i < all.length; i++) out.push(all[i]!);
  }

  bindings(): Iterable<Binding> {
    return this.#set.values();
  }
}

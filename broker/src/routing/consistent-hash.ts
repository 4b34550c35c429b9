import { canonicalValue, type Binding, type FieldTable } from './binding.js';
import { BindingSet } from './binding-set.js';
import type { BindingMatcher } from './binding-matcher.js';

/** Largest weight a binding may give itself (points on the ring). */
export const MAX_HASH_WEIGHT = 1000;

/** FNV-1a, 32 bits: fast, and stable across processes and restarts. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // finalise so that keys differing in their last characters still spread
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

/** The binding key of a consistent-hash binding is its weight: a positive integer. */
export function parseHashWeight(routingKey: string): number | undefined {
  if (!/^\d{1,4}$/.test(routingKey)) return undefined;
  const w = Number(routingKey);
  return w >= 1 && w <= MAX_HASH_WEIGHT ? w : undefined;
}

/** Which part of a message is hashed: the routing key, or the header named here. */
export interface HashSource {
  header?: string | undefined;
}

interface Point {
  hash: number;
  binding: Binding;
}

/**
 * `x-consistent-hash` exchange, as RabbitMQ's plugin: each binding puts `weight` points on a
 * hash ring (its binding key is the weight); a message goes to the one binding owning the
 * first point at or after the hash of its routing key (or of the header the exchange's
 * `hash-header` argument names; RabbitMQ's `hash-property` is not supported). All messages with the same key
 * reach the same queue while the bindings stay the same, and adding a queue moves only about
 * 1/n of the keys — the basis of per-key ordering with several ordered consumers.
 */
export class ConsistentHashMatcher implements BindingMatcher {
  readonly #set = new BindingSet();
  #ring: Point[] = [];
  #ringVersion = 0;

  constructor(private readonly source: HashSource = {}) {}

  get size(): number {
    return this.#set.size;
  }

  add(b: Binding): boolean {
    return this.#set.add(b);
  }

  remove(b: Binding): boolean {
    return this.#set.remove(b);
  }

  #buildRing(): Point[] {
    const ring: Point[] = [];
    for (const b of this.#set.values()) {
      const weight = parseHashWeight(b.routingKey) ?? 1;
      for (let i = 0; i < weight; i++)
        ring.push({ hash: fnv1a(`${b.destinationKind}:${b.destination}:${i}`), binding: b });
    }
    // ties broken by destination so the ring is the same whatever the binding order
    ring.sort((a, b) => a.hash - b.hash || (a.binding.destination < b.binding.destination ? -1 : 1));
    return ring;
  }

  #keyOf(routingKey: string, headers: FieldTable | undefined): string | undefined {
    if (this.source.header !== undefined) {
      const v = headers?.[this.source.header];
      if (v === undefined || v === null) return undefined;
      // A table or an array hashes by its contents (its default text would be the same
      // '[object Object]' for all of them); scalars and bytes by their text, as before.
      if (typeof v === 'string') return v;
      if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
      if (v instanceof Uint8Array) return v.toString();
      return canonicalValue(v);
    }
    return routingKey;
  }

  match(routingKey: string, headers: FieldTable | undefined, out: Binding[]): void {
    if (this.#ringVersion !== this.#set.version) {
      this.#ring = this.#buildRing();
      this.#ringVersion = this.#set.version;
    }
    const ring = this.#ring;
    if (ring.length === 0) return;
    const key = this.#keyOf(routingKey, headers);
    if (key === undefined) return; // nothing to hash: unroutable, as in RabbitMQ
    const h = fnv1a(key);
    let lo = 0;
    let hi = ring.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ring[mid]!.hash < h) lo = mid + 1;
      else hi = mid;
    }
    out.push(ring[lo === ring.length ? 0 : lo]!.binding);
  }

  bindings(): Iterable<Binding> {
    return this.#set.values();
  }
}

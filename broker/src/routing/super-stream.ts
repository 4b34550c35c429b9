import type { Binding, FieldTable } from './binding.js';
import type { BindingMatcher } from './binding-matcher.js';
import { DirectMatcher } from './direct.js';
import { partitionOf } from '../streams/partition-hash.js';

/** The binding argument giving a partition's place in a super stream (RabbitMQ's name). */
export const PARTITION_ORDER_ARG = 'x-stream-partition-order';

function orderOf(b: Binding): number {
  const v = b.arguments[PARTITION_ORDER_ARG];
  return typeof v === 'number' && Number.isFinite(v) ? v : Number.MAX_SAFE_INTEGER;
}

/**
 * A super stream's exchange (a direct exchange declared with `x-super-stream: true`, as
 * RabbitMQ's): a message whose routing key equals a binding key goes to that partition, as a
 * direct exchange (routing by explicit binding keys, RabbitMQ's "key" strategy); any other
 * key goes to one partition picked by murmur3 hash of the key (RabbitMQ stream clients'
 * "hash" strategy, done here by the broker so any client gets it). Partitions are the
 * distinct binding keys ordered by `x-stream-partition-order`, then by key.
 */
export class SuperStreamMatcher implements BindingMatcher {
  readonly #direct = new DirectMatcher();
  /** Binding keys in partition order; rebuilt lazily after a change. */
  #partitions: string[] | undefined;

  get size(): number {
    return this.#direct.size;
  }

  add(b: Binding): boolean {
    const added = this.#direct.add(b);
    if (added) this.#partitions = undefined;
    return added;
  }

  remove(b: Binding): boolean {
    const removed = this.#direct.remove(b);
    if (removed) this.#partitions = undefined;
    return removed;
  }

  /** The partitions' binding keys, in partition order. */
  partitions(): readonly string[] {
    if (this.#partitions === undefined) {
      const order = new Map<string, number>();
      for (const b of this.#direct.bindings())
        order.set(b.routingKey, Math.min(order.get(b.routingKey) ?? Infinity, orderOf(b)));
      this.#partitions = [...order].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1)).map(([k]) => k);
    }
    return this.#partitions;
  }

  match(routingKey: string, headers: FieldTable | undefined, out: Binding[]): void {
    const before = out.length;
    this.#direct.match(routingKey, headers, out);
    if (out.length > before) return;
    const parts = this.partitions();
    if (parts.length === 0) return;
    this.#direct.match(parts[partitionOf(routingKey, parts.length)]!, headers, out);
  }

  bindings(): Iterable<Binding> {
    return this.#direct.bindings();
  }
}

import type { MessageProperties } from '@switchyard/client/protocol';
import type { Clock } from '../queues/clock.js';
import { DedupWindow, dedupIdOf } from '../queues/dedup-window.js';
import type { QueueStore } from '../store/store.js';

/**
 * Exchange-level deduplication (`x-deduplication-window` on an exchange): a publish whose
 * dedup id (`x-deduplication-header`, else messageId) the exchange saw within the window is confirmed but not routed at all. The ids
 * are stored, so the window survives a restart.
 */
export class ExchangeDedup {
  private readonly windows = new Map<string, DedupWindow>();

  constructor(
    private readonly store: QueueStore,
    private readonly clock: Clock,
  ) {}

  /** Starts (or restores, after a restart) the window of an exchange declared with one. */
  configure(exchange: string, windowMs: number | undefined, durable: boolean): void {
    if (windowMs === undefined) {
      this.windows.delete(exchange);
      return;
    }
    const w = new DedupWindow(windowMs);
    if (durable) for (const [id, at] of this.store.loadDedup(scopeOf(exchange))) w.restore(id, at);
    this.windows.set(exchange, w);
  }

  forget(exchange: string): void {
    this.windows.delete(exchange);
  }

  /** True when the publish is a duplicate; otherwise remembers its messageId. */
  isDuplicate(exchange: string, properties: MessageProperties | null, durable: boolean): boolean {
    const w = this.windows.get(exchange);
    const id = dedupIdOf(properties);
    if (w === undefined || id === undefined) return false;
    const now = this.clock.now();
    const gone = w.prune(now);
    if (durable) for (const g of gone) this.store.removeDedup(scopeOf(exchange), g);
    if (w.has(id, now)) return true;
    const at = w.remember(id, now);
    if (durable) this.store.putDedup(scopeOf(exchange), id, at);
    return false;
  }
}

function scopeOf(exchange: string): string {
  return `x:${exchange}`;
}

/** Parses an exchange's `x-deduplication-window` argument; undefined when absent or invalid. */
export function exchangeDedupWindow(args: Record<string, unknown>): number | undefined {
  const v = args['x-deduplication-window'];
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : undefined;
}

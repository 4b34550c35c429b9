/**
 * Message ids seen within a time window (`x-deduplication-window`). Ids expire in insertion
 * order because the window is the same for all, so pruning walks a FIFO from the front and
 * never scans the whole set.
 */
export class DedupWindow {
  private readonly expiresAt = new Map<string, number>();

  constructor(readonly windowMs: number) {}

  get size(): number {
    return this.expiresAt.size;
  }

  /** True if `id` was remembered and its window has not passed. */
  has(id: string, now: number): boolean {
    const at = this.expiresAt.get(id);
    return at !== undefined && at > now;
  }

  /** Remembers `id` until now + window; returns the expiry, for persisting. */
  remember(id: string, now: number): number {
    const at = now + this.windowMs;
    this.expiresAt.delete(id); // re-insert so Map order stays expiry order
    this.expiresAt.set(id, at);
    return at;
  }

  /** Restores an id from the store (restart). */
  restore(id: string, at: number): void {
    this.expiresAt.set(id, at);
  }

  /** Forgets expired ids; returns them so their stored copies can be removed. */
  prune(now: number): string[] {
    const gone: string[] = [];
    for (const [id, at] of this.expiresAt) {
      if (at > now) break;
      gone.push(id);
    }
    for (const id of gone) this.expiresAt.delete(id);
    return gone;
  }
}

/**
 * The id a deduplication window keys on: the `x-deduplication-header` header when it is a
 * string (RabbitMQ's message-deduplication plugin; what shovels stamp, spec/links.md
 * §Deduplication), else the messageId.
 */
export function dedupIdOf(
  properties: { messageId?: string; headers?: Record<string, unknown> } | null | undefined,
): string | undefined {
  const h = properties?.headers?.['x-deduplication-header'];
  if (typeof h === 'string' && h !== '') return h;
  return properties?.messageId;
}

import type { DelayedMessageStore, MessageRecord, RecoveredDelayed } from '../store/store.js';

/**
 * `x-delay` messages of one vhost on a cluster node: kept in this node's memory only (not yet
 * in JetStream; spec/cluster.md §Not yet built), so they are lost with the node.
 */
export class MemoryDelayed implements DelayedMessageStore {
  private readonly messages = new Map<number, { record: MessageRecord; dueAt: number }>();

  put(seq: number, record: MessageRecord, dueAt: number): void {
    this.messages.set(seq, { record: { ...record, content: Uint8Array.prototype.slice.call(record.content) }, dueAt });
  }

  read(seq: number): MessageRecord | undefined {
    return this.messages.get(seq)?.record;
  }

  remove(seq: number): void {
    this.messages.delete(seq);
  }

  recover(): RecoveredDelayed[] {
    return [...this.messages].sort((a, b) => a[0] - b[0]).map(([seq, m]) => ({ seq, dueAt: m.dueAt }));
  }

  clear(): void {
    this.messages.clear();
  }
}

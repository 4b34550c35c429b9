import type { JetStreamManager } from '@nats-io/jetstream';
import type { KV, KvEntry } from '@nats-io/kv';
import type { Logger } from '../logging.js';

/*
 * Follows the definitions bucket from a known revision on, and keeps following it across
 * JetStream failovers (spec/cluster.md §Definitions). A KV watch is an ephemeral push
 * consumer on one server: when that server is killed the watch can go silent without ending
 * (measured: a declare made after a kill -9 and restart of a server never reached the other
 * node within 60 s). So the bucket's last sequence is checked every `checkMs`: when it is
 * ahead of what the watch delivered on two checks in a row, with nothing delivered in between,
 * the watch is replaced by a new one that starts after the last revision delivered. A watch
 * that ends is replaced the same way.
 */

/** Default interval of the stall check (ms). */
const CHECK_MS = 2_000;

export class DefinitionsWatch {
  /** The next revision to deliver. */
  private next: number;
  private current: { stop(): void } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stalledAt: number | undefined;
  private closed = false;

  constructor(
    private readonly kv: KV,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    /** Called once per entry, in revision order (a restart may repeat none that was delivered). */
    private readonly onEntry: (e: KvEntry) => void,
    private readonly logger: Logger,
    private readonly checkMs = CHECK_MS,
  ) {
    this.next = 1;
  }

  /** Delivers every entry after revision `after` from now on. */
  start(after: number): void {
    this.next = after + 1;
    void this.run();
    this.timer = setInterval(() => void this.check(), this.checkMs);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      try {
        const w = await this.kv.watch({ resumeFromRevision: this.next });
        this.current = w;
        for await (const e of w) {
          if (this.closed) break;
          if (e.revision < this.next) continue; // already delivered by the watch this one replaced
          this.next = e.revision + 1;
          this.onEntry(e);
        }
      } catch (err) {
        if (this.closed) return;
        this.logger.warn('definitions watch failed; starting it again', {
          component: 'cluster',
          error: (err as Error).message,
        });
      }
      if (!this.closed) await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Replaces a watch that has fallen silent while the bucket moved on. */
  private async check(): Promise<void> {
    const last = await this.jsm.streams.info(this.stream).then(
      (i) => i.state.last_seq,
      () => undefined,
    );
    if (last === undefined || last < this.next) {
      this.stalledAt = undefined;
      return;
    }
    if (this.stalledAt !== this.next) {
      this.stalledAt = this.next; // behind: give it one more interval
      return;
    }
    this.logger.warn('definitions watch fell behind the bucket; starting it again', {
      component: 'cluster',
      delivered: this.next - 1,
      bucket: last,
    });
    this.stalledAt = undefined;
    this.current?.stop();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.current?.stop();
  }
}

import { TagRing } from '../protocol/tag-ring.js';

/**
 * Delivery tags of one channel, across automatic recoveries. The broker numbers a
 * channel's deliveries 1, 2, 3 ... and starts again at 1 on a new connection; the SDK adds
 * an offset (the highest tag handed out before the drop), so the tags an application sees
 * keep growing and a tag from before a recovery is recognisable - and never acks the new
 * session's delivery that happens to carry the same broker tag.
 */
export class DeliveryTags {
  private offset = 0;
  private max = 0;
  /** Highest tag handed out that needs an ack (for ackAll/nackAll). */
  last = 0;
  /** Every tag up to this one was acked or nacked with `multiple`. */
  settledUpTo = 0;
  /**
   * Tags delivered on the current session and not yet acked or nacked. A ring, not a Set:
   * a Set settled oldest-first reallocates its table every few deletes (tag-ring.ts).
   */
  private readonly unsettled = new TagRing<true>();

  /** The SDK-side tag for broker tag `wireTag`, recorded as unsettled unless `noAck`. */
  register(wireTag: number, noAck: boolean): number {
    const tag = wireTag + this.offset;
    if (tag > this.max) this.max = tag;
    if (!noAck) {
      if (tag > this.last) this.last = tag;
      this.unsettled.set(tag, true);
    }
    return tag;
  }

  /** Tags up to here were voided by `ch.recover()`: the broker requeued those deliveries. */
  private floor = 0;

  /** The broker's tag for SDK-side `tag`, or 0 if it is from before the last recovery or `recover()`. */
  wire(tag: number): number {
    if (tag <= this.floor) return 0;
    const wire = tag - this.offset;
    return wire < 1 ? 0 : wire;
  }

  /** True if `tag` was delivered on this session and not yet settled. */
  isUnsettled(tag: number): boolean {
    return this.unsettled.has(tag);
  }

  /** True if `tag` is unsettled and every tag below it is settled (or was never acknowledgeable). */
  isOldestUnsettled(tag: number): boolean {
    return this.unsettled.first === tag;
  }

  /** An ack or nack for `tag` (with `multiple`: for every tag up to it) was sent. */
  settled(tag: number, multiple: boolean): void {
    if (!multiple) {
      this.unsettled.delete(tag);
      return;
    }
    if (tag > this.settledUpTo) this.settledUpTo = tag;
    this.unsettled.deleteUpTo(tag);
  }

  /** The session ended: its deliveries are void; new ones get tags above every old one. */
  sessionLost(): void {
    this.offset = this.max;
    this.unsettled.clear();
  }

  /**
   * `basic.recover`: every delivery so far is void (the broker requeued them and will
   * deliver them again under new tags), so settling one of them is a no-op.
   */
  voidAll(): void {
    this.floor = this.max;
    this.unsettled.clear();
  }

  /** The channel closed. */
  clear(): void {
    this.unsettled.clear();
  }
}

/**
 * Outgoing frames of one session (one WebSocket). Frames are packed into a FrameBatch as
 * they are queued and the batch is sent as one WebSocket message at the end of the
 * event-loop turn (or as soon as it passes BATCH_TARGET_BYTES), because `ws` carries
 * several times more frames per second when many share a message.
 *
 * Flow control (broker `blocked`, `maxUnconfirmed`, a connection being recovered) is the
 * channels' business (channel-outgoing.ts): frames reaching the outbox are sent.
 *
 * Acks are folded: an ack is held back until the next frame or the flush, and an ack with
 * `multiple` on the same channel that follows it directly replaces it (it covers every tag up
 * to its own, the held one included). A consumer acking each message in order (the channel
 * sends the oldest unsettled tag's ack with `multiple`) so costs one ack frame per turn on
 * both sides instead of one per message, as amqplib users get by acking with allUpTo.
 */
import { FrameBatch } from '../protocol/codec.js';
import type { Frame, FrameOf } from '../protocol/frames.js';
import { BATCH_TARGET_BYTES } from '../protocol/limits.js';

/** Batches the frames a session sends. */
export class Outbox {
  private readonly batch = new FrameBatch();
  private scheduled = false;
  /** The last frame pushed, if it is an ack: not in the batch yet, so a later ack can replace it. */
  private heldAck: FrameOf<'ack'> | undefined;
  private closed = false;
  /** Set whenever a message goes out; the heartbeat timer reads and clears it. */
  sentSinceTick = false;
  private readonly flushNow = (): void => {
    this.scheduled = false;
    this.flush();
  };

  /** `send` hands one WebSocket message to the transport; `schedule` runs a function at the end of the turn. */
  constructor(
    private readonly send: (bytes: Uint8Array) => void,
    private readonly schedule: (fn: () => void) => void,
  ) {}

  /**
   * Queues a frame. Packs its fields at once, so an unencodable value throws here, in the
   * caller's stack (a held ack, numbers the channel computed, is packed when released).
   * Dropped silently after `close()`.
   */
  push(frame: Frame): void {
    if (this.closed) return;
    if (frame.type === 'ack') {
      const held = this.heldAck;
      this.heldAck = frame;
      if (
        held !== undefined &&
        !(frame.multiple && frame.channel === held.channel && frame.deliveryTag > held.deliveryTag)
      )
        this.add(held);
      this.scheduleFlush();
      return;
    }
    this.releaseAck();
    this.add(frame);
  }

  private add(frame: Frame): void {
    this.batch.add(frame);
    if (this.batch.byteLength >= BATCH_TARGET_BYTES) this.flush();
    else this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(this.flushNow);
    }
  }

  /** Moves a held ack into the batch (before any later frame, or at the flush). */
  private releaseAck(): void {
    const held = this.heldAck;
    if (held === undefined) return;
    this.heldAck = undefined;
    this.batch.add(held);
  }

  /** Sends whatever is batched now, without waiting for the end of the turn. */
  flush(): void {
    if (this.closed) return;
    this.releaseAck();
    if (this.batch.frameCount === 0) return;
    this.send(this.batch.finish());
    this.sentSinceTick = true;
  }

  /** Stops sending for good; batched frames are discarded. */
  close(): void {
    this.closed = true;
    this.heldAck = undefined;
    if (this.batch.frameCount > 0) this.batch.finish();
  }
}

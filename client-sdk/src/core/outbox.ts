/**
 * Outgoing frames of one connection. Frames are packed into a FrameBatch as they are
 * queued and the batch is sent as one WebSocket message at the end of the event-loop turn
 * (or as soon as it passes BATCH_TARGET_BYTES), because `ws` carries several times more
 * frames per second when many share a message.
 *
 * Flow control: while the broker has the connection blocked, publishes are held back
 * (not sent) until it unblocks. To keep each channel's frames in order, any later frame
 * of a channel that has held publishes is held too - except acks/nacks, whose order
 * relative to publishes does not matter and which the broker may need to free memory,
 * and channelCloseOk, which answers the broker. Channel 0 frames are never held.
 */
import { FrameBatch } from '../protocol/codec.js';
import type { Frame } from '../protocol/frames.js';
import { BATCH_TARGET_BYTES } from '../protocol/limits.js';

/** Queues, holds and batches the frames a connection sends. */
export class Outbox {
  private readonly batch = new FrameBatch();
  private scheduled = false;
  private closed = false;
  private blocked = false;
  private held: Frame[] = [];
  private readonly heldChannels = new Set<number>();
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
   * caller's stack. Dropped silently after `close()`.
   */
  push(frame: Frame): void {
    if (this.closed) return;
    if (this.blocked && frame.channel !== 0 && this.mustHold(frame)) {
      this.held.push(frame);
      this.heldChannels.add(frame.channel);
      return;
    }
    this.add(frame);
  }

  /** Sends whatever is batched now, without waiting for the end of the turn. */
  flush(): void {
    if (this.closed || this.batch.frameCount === 0) return;
    this.send(this.batch.finish());
    this.sentSinceTick = true;
  }

  /** Starts or stops holding publishes (broker `blocked` / `unblocked`). */
  setBlocked(blocked: boolean): void {
    this.blocked = blocked;
    if (blocked || this.held.length === 0) return;
    const held = this.held;
    this.held = [];
    this.heldChannels.clear();
    for (const frame of held) {
      if (this.closed) return;
      this.add(frame);
    }
  }

  /** Forgets held frames of a channel that closed: they can no longer be sent. */
  dropChannel(channel: number): void {
    if (!this.heldChannels.delete(channel)) return;
    this.held = this.held.filter((f) => f.channel !== channel);
  }

  /** Stops sending for good; batched and held frames are discarded. */
  close(): void {
    this.closed = true;
    this.held = [];
    this.heldChannels.clear();
    if (this.batch.frameCount > 0) this.batch.finish();
  }

  private mustHold(frame: Frame): boolean {
    if (frame.type === 'publish') return true;
    if (!this.heldChannels.has(frame.channel)) return false;
    return frame.type !== 'ack' && frame.type !== 'nack' && frame.type !== 'channelCloseOk';
  }

  private add(frame: Frame): void {
    this.batch.add(frame);
    if (this.batch.byteLength >= BATCH_TARGET_BYTES) {
      this.flush();
    } else if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(this.flushNow);
    }
  }
}

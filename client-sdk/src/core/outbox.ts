/**
 * Outgoing frames of one session (one WebSocket). Frames are packed into a FrameBatch as
 * they are queued and the batch is sent as one WebSocket message at the end of the
 * event-loop turn (or as soon as it passes BATCH_TARGET_BYTES), because `ws` carries
 * several times more frames per second when many share a message.
 *
 * Flow control (broker `blocked`, `maxUnconfirmed`, a connection being recovered) is the
 * channels' business (channel-outgoing.ts): frames reaching the outbox are sent.
 */
import { FrameBatch } from '../protocol/codec.js';
import type { Frame } from '../protocol/frames.js';
import { BATCH_TARGET_BYTES } from '../protocol/limits.js';

/** Batches the frames a session sends. */
export class Outbox {
  private readonly batch = new FrameBatch();
  private scheduled = false;
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
   * caller's stack. Dropped silently after `close()`.
   */
  push(frame: Frame): void {
    if (this.closed) return;
    this.batch.add(frame);
    if (this.batch.byteLength >= BATCH_TARGET_BYTES) {
      this.flush();
    } else if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(this.flushNow);
    }
  }

  /** Sends whatever is batched now, without waiting for the end of the turn. */
  flush(): void {
    if (this.closed || this.batch.frameCount === 0) return;
    this.send(this.batch.finish());
    this.sentSinceTick = true;
  }

  /** Stops sending for good; batched frames are discarded. */
  close(): void {
    this.closed = true;
    if (this.batch.frameCount > 0) this.batch.finish();
  }
}

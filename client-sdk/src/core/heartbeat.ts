/**
 * Heartbeats (spec: negotiated `heartbeatMs` > 0). Every heartbeatMs/2 the client sends a
 * `heartbeat` frame if it sent nothing since the previous tick, so an idle connection
 * still shows the broker it is alive; and if nothing at all arrived for 2 * heartbeatMs
 * the broker (or the network) is presumed dead.
 */
import type { Outbox } from './outbox.js';

/** Heartbeat timer of one open connection. */
export class Heartbeat {
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastReceived = Date.now();

  constructor(
    private readonly intervalMs: number,
    private readonly outbox: Outbox,
    private readonly onDead: (silentMs: number) => void,
  ) {}

  /** Starts the timer (no-op when heartbeats are disabled, i.e. intervalMs is 0). */
  start(): void {
    if (this.intervalMs <= 0) return;
    this.lastReceived = Date.now();
    this.outbox.sentSinceTick = true;
    this.timer = setInterval(() => this.tick(), Math.max(1, Math.floor(this.intervalMs / 2)));
    // In Node, an idle heartbeat timer alone should not keep the process alive (duck-typed
    // so that the core stays free of Node types at runtime).
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** Records incoming traffic; called for every WebSocket message received. */
  received(): void {
    this.lastReceived = Date.now();
  }

  /** Stops the timer. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const silentMs = Date.now() - this.lastReceived;
    if (silentMs > 2 * this.intervalMs) {
      this.stop();
      this.onDead(silentMs);
      return;
    }
    if (!this.outbox.sentSinceTick) {
      this.outbox.push({ type: 'heartbeat', channel: 0 });
      this.outbox.flush();
    }
    this.outbox.sentSinceTick = false;
  }
}

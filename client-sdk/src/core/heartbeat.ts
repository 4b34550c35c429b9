/**
 * Heartbeats (spec/protocol.md §3. Connection: negotiated `heartbeatMs` > 0). Every heartbeatMs/2 the client sends
 * a `heartbeat` frame if it sent nothing since the previous tick, so an idle connection
 * still shows the broker it is alive. Independently, a deadline timer fires exactly
 * 2 * heartbeatMs after the last message received: if nothing arrived meanwhile, the
 * broker (or the network) is presumed dead, so a dead peer is detected within two
 * intervals of silence, not two and a half as a tick-based check would allow.
 */
import type { Outbox } from './outbox.js';

/** Heartbeat timers of one open session. */
export class Heartbeat {
  private sendTimer: ReturnType<typeof setInterval> | undefined;
  private deadTimer: ReturnType<typeof setTimeout> | undefined;
  private lastReceived = Date.now();

  constructor(
    private readonly intervalMs: number,
    private readonly outbox: Outbox,
    private readonly onDead: (silentMs: number) => void,
  ) {}

  /** Starts the timers (no-op when heartbeats are disabled, i.e. intervalMs is 0). */
  start(): void {
    if (this.intervalMs <= 0) return;
    this.lastReceived = Date.now();
    this.outbox.sentSinceTick = true;
    this.sendTimer = setInterval(() => this.tick(), Math.max(1, Math.floor(this.intervalMs / 2)));
    this.armDeadline(2 * this.intervalMs);
    // In Node, idle heartbeat timers alone should not keep the process alive (duck-typed
    // so that the core stays free of Node types at runtime).
    (this.sendTimer as { unref?: () => void }).unref?.();
  }

  /** Records incoming traffic; called for every WebSocket message received. */
  received(): void {
    this.lastReceived = Date.now();
  }

  /** Stops the timers. */
  stop(): void {
    if (this.sendTimer !== undefined) clearInterval(this.sendTimer);
    if (this.deadTimer !== undefined) clearTimeout(this.deadTimer);
    this.sendTimer = undefined;
    this.deadTimer = undefined;
  }

  private armDeadline(ms: number): void {
    this.deadTimer = setTimeout(() => this.checkDeadline(), ms);
    (this.deadTimer as { unref?: () => void }).unref?.();
  }

  private checkDeadline(): void {
    const silentMs = Date.now() - this.lastReceived;
    const limit = 2 * this.intervalMs;
    if (silentMs >= limit) {
      this.stop();
      this.onDead(silentMs);
      return;
    }
    // Something arrived since the timer was set: wait for the new deadline.
    this.armDeadline(limit - silentMs);
  }

  private tick(): void {
    if (!this.outbox.sentSinceTick) {
      this.outbox.push({ type: 'heartbeat', channel: 0 });
      this.outbox.flush();
    }
    this.outbox.sentSinceTick = false;
  }
}

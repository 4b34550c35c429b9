/**
 * What every link kind shares (spec/links.md): the status state machine, the run loop that
 * reconnects forever with backoff, stop and restart, and the status fields they all report.
 * A subclass connects and moves messages in `runOnce`.
 */
import type { Logger } from '../logging.js';
import { backoffDelay } from './backoff.js';
import { InOrderAckWindow } from './ack-window.js';
import type { LinkClient, LinkMessage } from './link-client.js';
import { LinkState, needsOperator, type LinkStatus } from './link-status.js';
import type { AckMode } from './shovel-params.js';

/** The status fields the run loop keeps, for a subclass's `status()`. */
export type RunStatus = Pick<
  LinkStatus,
  'state' | 'since' | 'messagesMoved' | 'inFlight' | 'lastError' | 'lastErrorAt' | 'nextAttemptAt' | 'attempts'
>;

export abstract class LinkRunner {
  protected state: LinkState = LinkState.Starting;
  protected since = Date.now();
  protected moved = 0;
  protected inFlight = 0;
  protected lastError: Error | undefined;
  protected lastErrorAt: number | undefined;
  protected nextAttemptAt: number | undefined;
  protected attempts = 0;
  protected stopped = false;
  /** The connections of the current run, closed when it ends. */
  protected clients: LinkClient[] = [];
  /** Resolves the current run early (stop, restart, a subclass's own end). */
  protected endRun: ((err: Error) => void) | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  /** This run's published, unacked source messages; `moved` says whether one was forwarded. */
  private readonly unacked = new InOrderAckWindow<{ m: LinkMessage; moved: boolean }>();

  protected constructor(
    protected readonly logger: Logger,
    private readonly reconnectDelayMs: number,
  ) {}

  /** Fields naming this link in its log lines. */
  protected abstract logFields(): Record<string, unknown>;

  /** One connected run: resolves with why it ended (never rejects). */
  protected abstract runOnce(): Promise<Error>;

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops for good (delete, broker close); unacked source messages go back to the source. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.endRun?.(new Error('link stopped'));
    this.wake?.();
    await this.loop;
    this.setState(LinkState.Terminated);
  }

  /** Drops the current connections and connects again at once. */
  restart(): void {
    this.attempts = 0;
    this.endRun?.(new Error('restarted by an operator'));
    this.wake?.();
  }

  /**
   * Settles a source message the link handed to the destination as `published`
   * (spec/links.md §Ack modes). on-confirm: acked once the destination confirmed it and every
   * earlier one, the run acked with `multiple`, so many deliveries are in flight at once (up
   * to the source prefetch) and the source still sees acks in its delivery order; a refused
   * publish ends the run (the source requeues what is unacked). on-publish and no-ack: acked
   * at once. `onMoved(n)` is called as n messages count as moved.
   */
  protected settle(m: LinkMessage, published: Promise<void>, ackMode: AckMode, onMoved: (n: number) => void): void {
    if (ackMode !== 'on-confirm') {
      published.catch((err: Error) => this.endRun?.(err));
      m.ack();
      onMoved(1);
      return;
    }
    const slot = this.unacked.add({ m, moved: true });
    this.inFlight++;
    published.then(
      () => this.acked(this.unacked.confirm(slot), onMoved),
      (err: Error) => this.endRun?.(err),
    );
  }

  /** Acks a source message the link does not forward, in its place in the ack order. */
  protected settleUnforwarded(m: LinkMessage, ackMode: AckMode): void {
    if (ackMode !== 'on-confirm') return m.ack();
    this.acked(this.unacked.confirm(this.unacked.add({ m, moved: false })), () => undefined);
  }

  private acked(run: { m: LinkMessage; moved: boolean }[], onMoved: (n: number) => void): void {
    if (run.length === 0) return;
    run[run.length - 1]!.m.ack(true);
    const moved = run.filter((r) => r.moved).length;
    this.inFlight -= moved;
    if (moved > 0) onMoved(moved);
  }

  protected runStatus(): RunStatus {
    const iso = (t: number | undefined): string | undefined =>
      t === undefined ? undefined : new Date(t).toISOString();
    return {
      state: this.state,
      since: new Date(this.since).toISOString(),
      messagesMoved: this.moved,
      inFlight: this.inFlight,
      lastError: this.lastError?.message,
      lastErrorAt: iso(this.lastErrorAt),
      nextAttemptAt: this.state === LinkState.Running ? undefined : iso(this.nextAttemptAt),
      attempts: this.attempts,
    };
  }

  /** The run is connected and set up: `running`, and the backoff starts over. */
  protected running(): void {
    this.attempts = 0;
    this.lastError = undefined;
    this.setState(LinkState.Running);
  }

  protected setState(s: LinkState): void {
    if (s === this.state) return;
    this.logger.info('link state', { component: 'links', ...this.logFields(), from: this.state, to: s });
    this.state = s;
    this.since = Date.now();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const err = await this.runOnce();
      await Promise.all(this.clients.map((c) => c.close()));
      this.clients = [];
      this.inFlight = 0;
      this.unacked.clear(); // the closed source requeued them; late confirms of this run are ignored
      if (this.stopped) break;
      const delay = backoffDelay(this.reconnectDelayMs, this.attempts++);
      this.lastError = err;
      this.lastErrorAt = Date.now();
      this.nextAttemptAt = Date.now() + delay;
      this.logger.warn('link down; retrying', {
        component: 'links',
        ...this.logFields(),
        error: err.message,
        retryInMs: delay,
      });
      this.setState(needsOperator(err) ? LinkState.Failed : LinkState.Reconnecting);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }
}

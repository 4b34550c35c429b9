import type { BrokerHistograms } from '../metrics/histogram.js';
import type { QueueStore } from '../store/store.js';

/** A channel with publishes waiting for their confirms. */
export interface ConfirmSource {
  /** Highest publish sequence number to confirm once this turn's writes are durable. */
  captureConfirms(): number;
  /** Sends the confirms (publishAck, multiple) up to `seqNo`. */
  sendConfirms(seqNo: number): void;
  /** The commit failed: nack everything up to `seqNo`. */
  failConfirms(seqNo: number, error: Error): void;
}

/**
 * The group commit, seen from the publishers' side. Channels register at most once per
 * event-loop turn; at the end of the turn (setImmediate, after all socket reads of the turn)
 * the scheduler records how far each channel got, asks the store for the turn's durability
 * point — one LMDB transaction holds every write of the turn — and sends each channel's
 * confirms, as one multiple-ack, once that point is on disk.
 */
export class ConfirmScheduler {
  private waiting: ConfirmSource[] = [];
  private scheduled = false;
  private turnStartedAt = 0;

  constructor(
    private readonly store: QueueStore,
    private readonly histograms: BrokerHistograms,
    /** Runs once per turn with publishes, before the commit: the disk alarm's early check. */
    private readonly beforeCommit: () => void = () => undefined,
  ) {}

  register(source: ConfirmSource): void {
    this.waiting.push(source);
    this.noteWrites();
  }

  /**
   * A publish on a channel without confirms: nothing to confirm, but the turn's writes still
   * get the disk alarm's early check (beforeCommit). No durability point is asked for.
   */
  noteWrites(): void {
    if (!this.scheduled) {
      this.scheduled = true;
      this.turnStartedAt = performance.now();
      setImmediate(this.endOfTurn);
    }
  }

  private readonly endOfTurn = (): void => {
    this.scheduled = false;
    const sources = this.waiting;
    this.waiting = [];
    const upTo = sources.map((s) => s.captureConfirms());
    this.beforeCommit();
    if (sources.length === 0) return;
    const turnStartedAt = this.turnStartedAt;
    const askedAt = performance.now();
    this.store.durable().then(
      () => {
        const now = performance.now();
        this.histograms.commitLatency.observe((now - askedAt) / 1000);
        this.histograms.confirmLatency.observe((now - turnStartedAt) / 1000);
        for (let i = 0; i < sources.length; i++) sources[i]!.sendConfirms(upTo[i]!);
      },
      (err: Error) => {
        for (let i = 0; i < sources.length; i++) sources[i]!.failConfirms(upTo[i]!, err);
      },
    );
  };
}

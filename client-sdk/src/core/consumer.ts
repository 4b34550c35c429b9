/**
 * A channel's consumers, by tag, and the calling of their callbacks.
 *
 * A callback may be async. With `concurrency` N, at most N calls of one consumer run at a
 * time; deliveries beyond that wait here, in order (the channel's prefetch bounds how many
 * the broker sends ahead). Without it, each delivery calls the callback at once, as amqplib
 * does. A callback that throws or rejects must not break frame processing (other
 * consumers' messages may follow in the same WebSocket message): its error goes to
 * `onError`, which nacks the message and emits 'consumer-error'.
 */
import type { FieldTable } from '../protocol/properties.js';
import { Fifo } from './fifo.js';
import type { ConsumeMessage } from './message.js';

/**
 * A consumer callback: called with each message, and once with `null` if the broker cancels
 * the consumer (queue deleted ...), as amqplib does. May return a promise.
 */
export type OnMessage<C extends Uint8Array> = (msg: ConsumeMessage<C> | null) => unknown;

/** How a consumer was started: what recovery needs to start it again. */
export interface ConsumerSpec<C extends Uint8Array> {
  /** The queue, as the application named it (renamed server-named queues are translated). */
  readonly queue: string;
  readonly noAck: boolean;
  readonly exclusive: boolean;
  readonly priority: number;
  readonly arguments: FieldTable;
  readonly onMessage: OnMessage<C>;
  /** Most callbacks running at once; 0 for no limit. */
  readonly concurrency: number;
  /** Requeue a message whose callback threw (true) or drop / dead-letter it (false). */
  readonly requeueOnError: boolean;
}

/** One registered consumer. */
export class Consumer<C extends Uint8Array> {
  /** Callbacks running (started, promise not yet settled). */
  running = 0;
  /** Deliveries waiting for a free slot (with `concurrency`). */
  readonly backlog = new Fifo<ConsumeMessage<C> | null>();

  constructor(
    public tag: string,
    readonly spec: ConsumerSpec<C>,
  ) {}

  /** Whether the consumer acknowledges (i.e. is not noAck). */
  get noAck(): boolean {
    return this.spec.noAck;
  }
}

/** Reports a failed callback: the consumer and the message (null for the cancel call). */
export type OnConsumerError<C extends Uint8Array> = (
  err: unknown,
  msg: ConsumeMessage<C> | null,
  consumer: Consumer<C>,
) => void;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== undefined && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

/** Consumers of one channel. */
export class ConsumerSet<C extends Uint8Array> {
  private readonly byTag = new Map<string, Consumer<C>>();

  constructor(private readonly onError: OnConsumerError<C>) {}

  /** The consumer with this tag, if registered. */
  get(tag: string): Consumer<C> | undefined {
    return this.byTag.get(tag);
  }

  /** Registers a consumer (on consumeOk, before any of its deliveries is processed). */
  add(consumer: Consumer<C>): void {
    this.byTag.set(consumer.tag, consumer);
  }

  /** Unregisters and returns the consumer with this tag. */
  remove(tag: string): Consumer<C> | undefined {
    const consumer = this.byTag.get(tag);
    this.byTag.delete(tag);
    return consumer;
  }

  /** Every registered consumer, in registration order. */
  all(): Consumer<C>[] {
    return [...this.byTag.values()];
  }

  /** Forgets every consumer and the deliveries they have waiting (channel closed). */
  clear(): void {
    for (const c of this.byTag.values()) c.backlog.drain();
    this.byTag.clear();
  }

  /**
   * The connection dropped: deliveries still waiting for a slot can no longer be
   * acknowledged (the broker requeues them), so they are dropped; the consumers stay.
   */
  dropBacklogs(): void {
    for (const c of this.byTag.values()) c.backlog.filter((m) => m === null);
  }

  /** Hands a delivery (or the cancel notification, `null`) to the consumer's callback. */
  dispatch(consumer: Consumer<C>, msg: ConsumeMessage<C> | null): void {
    const limit = consumer.spec.concurrency;
    if (limit > 0 && (consumer.running >= limit || consumer.backlog.length > 0)) {
      consumer.backlog.push(msg);
      return;
    }
    this.run(consumer, msg);
  }

  private run(consumer: Consumer<C>, msg: ConsumeMessage<C> | null): void {
    consumer.running++;
    let result: unknown;
    try {
      result = consumer.spec.onMessage(msg);
    } catch (err) {
      // No pumping here: dispatch only runs with an empty backlog, and finish() keeps pumping.
      consumer.running--;
      this.onError(err, msg, consumer);
      return;
    }
    if (isThenable(result)) {
      result.then(
        () => this.finish(consumer),
        (err: unknown) => {
          this.onError(err, msg, consumer);
          this.finish(consumer);
        },
      );
    } else {
      consumer.running--;
    }
  }

  private finish(consumer: Consumer<C>): void {
    consumer.running--;
    const limit = consumer.spec.concurrency;
    while (consumer.backlog.length > 0 && (limit === 0 || consumer.running < limit)) {
      this.run(consumer, consumer.backlog.shift()!);
    }
  }
}

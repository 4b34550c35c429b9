/**
 * A channel's consumers, by tag, and the calling of their callbacks. A callback that throws
 * or returns a rejected promise must not break frame processing (other consumers' messages
 * may follow in the same WebSocket message), so its error is routed to `onError`.
 */
import type { ConsumeMessage } from './message.js';

/**
 * A consumer callback: called with each message, and once with `null` if the broker cancels
 * the consumer (queue deleted ...), as amqplib does. May return a promise.
 */
export type OnMessage<C extends Uint8Array> = (msg: ConsumeMessage<C> | null) => unknown;

/** One registered consumer. */
export interface Consumer<C extends Uint8Array> {
  readonly tag: string;
  readonly noAck: boolean;
  readonly onMessage: OnMessage<C>;
}

/** Consumers of one channel. */
export class ConsumerSet<C extends Uint8Array> {
  private readonly byTag = new Map<string, Consumer<C>>();
  private readonly onRejected = (msg: ConsumeMessage<C> | null) => (err: unknown) => this.onError(err, msg);

  constructor(private readonly onError: (err: unknown, msg: ConsumeMessage<C> | null) => void) {}

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

  /** Forgets every consumer (channel closed). */
  clear(): void {
    this.byTag.clear();
  }

  /** Calls the consumer's callback; a throw or a rejection goes to `onError`. */
  dispatch(consumer: Consumer<C>, msg: ConsumeMessage<C> | null): void {
    try {
      const result = consumer.onMessage(msg);
      // Only async callbacks pay for a rejection handler.
      if (result !== undefined && result !== null && typeof (result as PromiseLike<unknown>).then === 'function') {
        (result as PromiseLike<unknown>).then(undefined, this.onRejected(msg));
      }
    } catch (err) {
      this.onError(err, msg);
    }
  }
}

/**
 * What a connection declared, recorded for automatic recovery: exchanges, queues and
 * bindings, as RabbitMQ's Java client records them. Entries are recorded when the broker
 * confirms them (declareOk/bindOk) and forgotten when the application deletes or unbinds
 * them, so recovery re-declares exactly what the application has, not what it once had.
 *
 * Server-named queues (declared with '') get a new name when re-declared; the old name
 * becomes an alias that every later operation of this connection translates (queue
 * arguments of declares, binds, consumes, gets, purges and deletes; the routing key of
 * publishes through the default exchange; the `replyTo` property), so code that kept the
 * old name, as amqplib code does, keeps working.
 */
import type { Frame } from '../protocol/frames.js';
import type { FieldTable } from '../protocol/properties.js';

/** A recorded exchange. */
export interface RecordedExchange {
  name: string;
  type: string;
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  arguments: FieldTable;
}

/** A recorded queue, under its current name. */
export interface RecordedQueue {
  name: string;
  /** Declared with '': re-declared with '' (a new name) on recovery. */
  serverNamed: boolean;
  durable: boolean;
  exclusive: boolean;
  autoDelete: boolean;
  arguments: FieldTable;
}

/** A recorded binding: of a queue (`kind: 'queue'`) or an exchange to a source exchange. */
export interface RecordedBinding {
  kind: 'queue' | 'exchange';
  destination: string;
  source: string;
  routingKey: string;
  arguments: FieldTable;
}

function bindingKey(b: RecordedBinding): string {
  return JSON.stringify([b.kind, b.destination, b.source, b.routingKey, b.arguments]);
}

/** The recorded topology of one connection. */
export class Topology {
  readonly exchanges = new Map<string, RecordedExchange>();
  readonly queues = new Map<string, RecordedQueue>();
  readonly bindings = new Map<string, RecordedBinding>();
  /** Old name of a server-named queue → its current name. */
  private readonly aliases = new Map<string, string>();
  /** Consumers of this connection per queue (current name), for auto-delete queues. */
  private readonly consumerCounts = new Map<string, number>();

  /** The current name of a queue that may have been renamed by recovery. */
  resolve(queue: string): string {
    return this.aliases.size === 0 ? queue : (this.aliases.get(queue) ?? queue);
  }

  /** True once some queue was renamed, i.e. frames may need translating. */
  get hasAliases(): boolean {
    return this.aliases.size > 0;
  }

  recordExchange(e: RecordedExchange): void {
    // The default exchange and amq.* exist on every broker and cannot be declared anew.
    if (e.name === '' || e.name.startsWith('amq.')) return;
    this.exchanges.set(e.name, e);
  }

  /** Forgets an exchange and every binding it takes part in. */
  deleteExchange(name: string): void {
    this.exchanges.delete(name);
    for (const [key, b] of this.bindings) {
      if (b.source === name || (b.kind === 'exchange' && b.destination === name)) this.bindings.delete(key);
    }
  }

  recordQueue(q: RecordedQueue): void {
    this.queues.set(q.name, q);
  }

  /** Forgets a queue (by any of its names) and its bindings. */
  deleteQueue(name: string): void {
    const current = this.resolve(name);
    this.queues.delete(current);
    this.consumerCounts.delete(current);
    for (const [key, b] of this.bindings) {
      if (b.kind === 'queue' && b.destination === current) this.bindings.delete(key);
    }
  }

  recordBinding(b: RecordedBinding): void {
    this.bindings.set(bindingKey(b), b);
  }

  deleteBinding(b: RecordedBinding): void {
    this.bindings.delete(bindingKey(b));
  }

  /** A consumer of this connection started on `queue`. */
  consumerAdded(queue: string): void {
    const current = this.resolve(queue);
    this.consumerCounts.set(current, (this.consumerCounts.get(current) ?? 0) + 1);
  }

  /**
   * A consumer was cancelled by the application. When the last one of an auto-delete queue
   * goes, the broker deletes the queue, so it is forgotten too (RabbitMQ's rule).
   */
  consumerCancelled(queue: string): void {
    const current = this.resolve(queue);
    const left = (this.consumerCounts.get(current) ?? 1) - 1;
    if (left > 0) {
      this.consumerCounts.set(current, left);
      return;
    }
    this.consumerCounts.delete(current);
    if (this.queues.get(current)?.autoDelete === true) this.deleteQueue(current);
  }

  /** A server-named queue was re-declared as `to`: record the alias and move everything over. */
  renameQueue(from: string, to: string): void {
    const q = this.queues.get(from);
    if (q !== undefined) {
      this.queues.delete(from);
      this.queues.set(to, { ...q, name: to });
    }
    for (const [old, current] of this.aliases) if (current === from) this.aliases.set(old, to);
    this.aliases.set(from, to);
    const count = this.consumerCounts.get(from);
    if (count !== undefined) {
      this.consumerCounts.delete(from);
      this.consumerCounts.set(to, count);
    }
    for (const [key, b] of [...this.bindings]) {
      if (b.kind === 'queue' && b.destination === from) {
        this.bindings.delete(key);
        this.recordBinding({ ...b, destination: to });
      }
    }
  }

  /** `frame` with renamed queues translated (the same object when nothing changes). */
  translate(frame: Frame): Frame {
    switch (frame.type) {
      case 'publish': {
        const routingKey = frame.exchange === '' ? this.resolve(frame.routingKey) : frame.routingKey;
        const replyTo = frame.properties?.replyTo;
        const newReplyTo = replyTo === undefined ? undefined : this.resolve(replyTo);
        if (routingKey === frame.routingKey && newReplyTo === replyTo) return frame;
        const properties = newReplyTo === replyTo ? frame.properties : { ...frame.properties, replyTo: newReplyTo };
        return { ...frame, routingKey, properties };
      }
      case 'queueDeclare':
      case 'queueBind':
      case 'queueUnbind':
      case 'queuePurge':
      case 'queueDelete':
      case 'consume':
      case 'streamOffsetStore':
      case 'streamOffsetQuery':
      case 'get': {
        const queue = this.resolve(frame.queue);
        return queue === frame.queue ? frame : { ...frame, queue };
      }
      default:
        return frame;
    }
  }
}

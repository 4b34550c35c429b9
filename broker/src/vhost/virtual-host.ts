import { randomBytes } from 'node:crypto';
import { BrokerError, ErrorCode, type FieldTable, type MessageProperties } from '@switchyard/client/protocol';
import { bindingKey, type Binding } from '../routing/binding.js';
import { EXCHANGE_TYPES, isExchangeType, validateBindingArguments, type ExchangeType } from '../routing/matcher.js';
import { route } from '../routing/router.js';
import { Queue } from '../queues/queue.js';
import { guardedClock, systemClock, type Clock } from '../queues/clock.js';
import type { MessageRecord, QueueDefinition, QueueStore } from '../store/store.js';
import { DeadLetterer, type DeadLetterGuard } from './dead-lettering.js';
import { DelayedMessages } from './delayed-messages.js';
import type { SchemaGate } from '../schemas/exchange-gate.js';
import type { NodeLocalQueues } from './node-local.js';
import { ExchangeDedup, exchangeDedupWindow } from './publish-gate.js';
import { isStreamArguments } from '../streams/stream-arguments.js';
import { StreamQueue } from '../streams/stream-queue.js';
import { assertEquivalent, assertEquivalentArguments } from './equivalence.js';
import { Exchange } from './exchange.js';
import { parseExpiration } from '../queues/ttl.js';
import { routeAndEnqueue } from './publisher.js';
import { checkName, checkNewName, checkShortString } from './names.js';

/** The exchanges every vhost has, as in RabbitMQ. `''` is the default exchange. */
const BUILT_IN_EXCHANGES: readonly [string, ExchangeType][] = [
  ['', 'direct'],
  ['amq.direct', 'direct'],
  ['amq.fanout', 'fanout'],
  ['amq.topic', 'topic'],
  ['amq.headers', 'headers'],
  ['amq.match', 'headers'],
];

export interface ExchangeDeclare {
  exchange: string;
  exchangeType: string;
  passive: boolean;
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  arguments: FieldTable;
}

export interface QueueDeclare {
  queue: string;
  passive: boolean;
  durable: boolean;
  exclusive: boolean;
  autoDelete: boolean;
  arguments: FieldTable;
}

/**
 * One virtual host's topology: exchanges, queues and bindings, with RabbitMQ's rules for
 * declaring, binding and deleting them. Errors are BrokerErrors with AMQP reply codes;
 * the caller turns them into channel or connection closes.
 */
export class VirtualHost {
  private readonly exchanges = new Map<string, Exchange>();
  private readonly queues = new Map<string, Queue>();
  /** Bindings per destination queue, so deleting a queue removes them. */
  private readonly queueBindings = new Map<string, Map<string, Binding>>();
  /** Messages published with `x-delay`, waiting to be routed. */
  readonly delayed: DelayedMessages;
  /** Exchanges' `x-deduplication-window`s. */
  readonly exchangeDedup: ExchangeDedup;
  /** Validates publishes on exchanges that declare a schema; set by the broker (spec/schemas.md). */
  schemaGate: SchemaGate | undefined;
  /** Routes dead-lettered copies, flat and bounded (vhost/dead-lettering.ts). */
  private readonly deadLetterer: DeadLetterer;
  /** Called after a queue is deleted (consumers cancelled). */
  onQueueDeleted: ((queue: Queue) => void) | undefined;
  /** Cluster nodes: node-local queues other nodes forward to (spec/cluster.md §Node-local queues). */
  nodeLocal: NodeLocalQueues | undefined;

  /**
   * @param onTimerError called with an unexpected error thrown by a timer of this vhost (TTL
   *   expiry, dead-lettering, delayed messages, queue expiry) and where it happened; the broker
   *   logs it and carries on. Default: ignore.
   */
  constructor(
    readonly name: string,
    private readonly store: QueueStore,
    private readonly clock: Clock = systemClock,
    private readonly onTimerError: (err: unknown, context: Record<string, string>) => void = () => undefined,
    deadLetterGuard: DeadLetterGuard = { alarmRaised: () => false, dropped: () => undefined },
  ) {
    this.deadLetterer = new DeadLetterer(
      this,
      () => this.clock.now(),
      () => deadLetterGuard.alarmRaised(),
      (q, reason) => deadLetterGuard.dropped(q.name, reason),
    );
    this.delayed = new DelayedMessages(
      store,
      name,
      guardedClock(clock, (err) => onTimerError(err, { component: 'delayed-messages' })),
      (record) => this.routeDue(record),
    );
    this.exchangeDedup = new ExchangeDedup(store, clock);
    for (const [xname, type] of BUILT_IN_EXCHANGES) {
      this.exchanges.set(
        xname,
        new Exchange({ name: xname, type, durable: true, autoDelete: false, internal: false, arguments: {} }),
      );
    }
  }

  /** Rebuilds durable topology and stored messages from the store (broker start). */
  recover(): void {
    const defs = this.store.loadDefinitions();
    for (const x of defs.exchanges) {
      if (isExchangeType(x.type)) this.exchanges.set(x.name, new Exchange({ ...x, type: x.type }));
    }
    for (const q of defs.queues) {
      const queue = this.createQueue(q.name, q.id, true, q.autoDelete, undefined, q.arguments);
      queue.recover();
    }
    for (const b of defs.bindings) {
      if (this.recoverable(b)) this.addBinding(b, false);
      // A record whose queue or exchange is gone (an exclusive queue's, say, after a crash) is
      // dropped, so it cannot attach itself to a later queue or exchange of the same name.
      else this.forgetBinding(bindingKey(b));
    }
    for (const x of this.exchanges.values())
      this.exchangeDedup.configure(x.name, exchangeDedupWindow(x.arguments), x.durable);
    this.delayed.recover();
  }

  /**
   * Deletes everything in the vhost (vhost deleted): queues with their messages, exchanges,
   * bindings, and the delayed messages waiting to be routed.
   */
  destroy(): void {
    for (const q of [...this.queues.values()]) this.removeQueue(q, `vhost '${this.name}' was deleted`);
    for (const x of [...this.exchanges.values()])
      if (x.name !== '' && !x.name.startsWith('amq.')) this.deleteExchange(x.name, false);
    this.delayed.destroy();
  }

  /** Stops timers (broker shutdown). */
  stop(): void {
    this.delayed.stop();
    for (const q of this.queues.values()) q.stopTimers();
  }

  /**
   * Publishes with `x-delay`: the exchange must exist and accept client publishes now; the
   * message is routed when due (spec/semantics.md §Delayed messages).
   */
  publishDelayed(
    exchangeName: string,
    routingKey: string,
    properties: MessageProperties | null,
    content: Uint8Array,
    delayMs: number,
  ): void {
    this.publishTarget(exchangeName);
    this.delayed.schedule(exchangeName, routingKey, properties, content, delayMs);
  }

  /** A delayed message is due: route it as if published now; dropped if its exchange is gone. */
  private routeDue(record: MessageRecord): void {
    if (record.exchange !== '' && !this.exchanges.has(record.exchange)) return;
    routeAndEnqueue(
      this,
      this.publishTarget(record.exchange),
      record.exchange,
      record.routingKey,
      record.properties,
      record.content,
      parseExpiration(record.properties?.expiration),
    );
  }

  exchange(name: string): Exchange | undefined {
    return this.exchanges.get(name);
  }

  queue(name: string): Queue | undefined {
    return this.queues.get(name);
  }

  get queueCount(): number {
    return this.queues.size;
  }

  allQueues(): IterableIterator<Queue> {
    return this.queues.values();
  }

  allExchanges(): IterableIterator<Exchange> {
    return this.exchanges.values();
  }

  *allBindings(): Generator<Binding> {
    for (const x of this.exchanges.values()) yield* x.matcher.bindings();
  }

  /** The exchange, or 404 NOT_FOUND in RabbitMQ's words. */
  requireExchange(name: string): Exchange {
    const x = this.exchanges.get(name);
    if (x === undefined) throw new BrokerError(ErrorCode.NOT_FOUND, `no exchange '${name}' in vhost '${this.name}'`);
    return x;
  }

  /** The queue, or 404; 405 RESOURCE_LOCKED when it is exclusive to another connection. */
  requireQueue(name: string, connectionId: string | undefined): Queue {
    const q = this.queues.get(name);
    if (q === undefined) throw new BrokerError(ErrorCode.NOT_FOUND, `no queue '${name}' in vhost '${this.name}'`);
    if (q.exclusiveOwner !== undefined && q.exclusiveOwner !== connectionId) {
      throw new BrokerError(
        ErrorCode.RESOURCE_LOCKED,
        `cannot obtain exclusive access to locked queue '${name}' in vhost '${this.name}'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.`,
      );
    }
    return q;
  }

  /**
   * exchange.declare with RabbitMQ's checks, in its order: the type (503), the default
   * exchange (403), an existing exchange's equivalence (406; passive: existence, 404), then for
   * a new exchange the reserved `amq.` prefix (403) and the argument types (406).
   */
  declareExchange(d: ExchangeDeclare): Exchange {
    checkName('exchange', d.exchange);
    if (d.passive) {
      refuseDefaultExchange(d.exchange);
      return this.requireExchange(d.exchange);
    }
    if (!isExchangeType(d.exchangeType)) {
      throw new BrokerError(
        ErrorCode.COMMAND_INVALID,
        `invalid exchange type '${d.exchangeType}': use ${EXCHANGE_TYPES.join(', ')}`,
      );
    }
    refuseDefaultExchange(d.exchange);
    const existing = this.exchanges.get(d.exchange);
    if (existing !== undefined) {
      // An existing exchange, built-in `amq.*` ones included, may be redeclared equivalently.
      assertEquivalent(
        'exchange',
        d.exchange,
        this.name,
        { type: d.exchangeType, durable: d.durable, auto_delete: d.autoDelete, internal: d.internal },
        {
          type: existing.type,
          durable: existing.durable,
          auto_delete: existing.autoDelete,
          internal: existing.internal,
        },
      );
      assertEquivalentArguments(
        'exchange',
        d.exchange,
        this.name,
        pick(d.arguments, COMPARED_EXCHANGE_ARGUMENTS),
        pick(existing.arguments, COMPARED_EXCHANGE_ARGUMENTS),
      );
      return existing;
    }
    if (d.exchange.startsWith('amq.')) {
      throw new BrokerError(ErrorCode.ACCESS_REFUSED, `exchange name '${d.exchange}' contains reserved prefix 'amq.*'`);
    }
    checkNewName('exchange', d.exchange);
    const ae = d.arguments['alternate-exchange'];
    if (ae !== undefined && typeof ae !== 'string') {
      throw new BrokerError(
        ErrorCode.PRECONDITION_FAILED,
        `invalid type '${fieldType(ae)}' for arg 'alternate-exchange' in exchange '${d.exchange}' in vhost '${this.name}': expected a string (an exchange name)`,
      );
    }
    const window = d.arguments['x-deduplication-window'];
    if (window !== undefined && exchangeDedupWindow(d.arguments) === undefined) {
      throw new BrokerError(
        ErrorCode.PRECONDITION_FAILED,
        `invalid arg 'x-deduplication-window' for exchange '${d.exchange}': expected a positive integer of milliseconds, got ${JSON.stringify(window)}`,
      );
    }
    const x = new Exchange({
      name: d.exchange,
      type: d.exchangeType,
      durable: d.durable,
      autoDelete: d.autoDelete,
      internal: d.internal,
      arguments: d.arguments,
    });
    // Stored before it exists: a store write that throws leaves no exchange behind.
    if (x.durable) storeOrFail('exchange', x.name, () => this.store.putExchange(x.toDefinition()));
    this.exchanges.set(x.name, x);
    this.exchangeDedup.configure(x.name, exchangeDedupWindow(x.arguments), x.durable);
    return x;
  }

  /**
   * exchange.delete: 403 for the default and `amq.*` exchanges; a missing exchange is fine
   * (idempotent, as RabbitMQ). `ifUnused` refuses (406) while the exchange is the SOURCE of a
   * binding; being the destination of exchange-to-exchange bindings does not count, as in
   * RabbitMQ (those bindings are removed with it).
   */
  deleteExchange(name: string, ifUnused: boolean): void {
    checkName('exchange', name);
    refuseDefaultExchange(name);
    if (name.startsWith('amq.')) {
      throw new BrokerError(
        ErrorCode.ACCESS_REFUSED,
        `deletion of system exchange '${name}' in vhost '${this.name}' not allowed`,
      );
    }
    const x = this.exchanges.get(name);
    if (x === undefined) return;
    if (ifUnused && x.matcher.size > 0) {
      throw new BrokerError(ErrorCode.PRECONDITION_FAILED, `exchange '${name}' in vhost '${this.name}' in use`);
    }
    this.removeExchange(x);
  }

  private removeExchange(x: Exchange): void {
    for (const b of [...x.matcher.bindings()]) this.removeBinding(b, false);
    for (const other of this.exchanges.values()) {
      for (const b of [...other.matcher.bindings()]) {
        if (b.destinationKind === 'exchange' && b.destination === x.name) this.removeBinding(b, true);
      }
    }
    this.exchanges.delete(x.name);
    this.exchangeDedup.forget(x.name);
    if (x.durable) this.store.removeExchange(x.name);
  }

  declareQueue(d: QueueDeclare, connectionId: string): Queue {
    checkName('queue', d.queue);
    if (d.passive) {
      const q = this.requireQueue(d.queue, connectionId);
      q.touch();
      return q;
    }
    let name = d.queue;
    if (name === '') name = `amq.gen-${randomBytes(16).toString('base64url')}`;
    else if (name.startsWith('amq.')) {
      throw new BrokerError(
        ErrorCode.ACCESS_REFUSED,
        `queue name '${name}' contains reserved prefix 'amq.'; choose another name`,
      );
    }
    const existing = this.queues.get(name);
    if (existing === undefined) checkNewName('queue', name);
    else {
      this.requireQueue(name, connectionId);
      assertEquivalent(
        'queue',
        name,
        this.name,
        { durable: d.durable, exclusive: d.exclusive, auto_delete: d.autoDelete },
        {
          durable: existing.durable,
          exclusive: existing.exclusiveOwner !== undefined,
          auto_delete: existing.autoDelete,
        },
      );
      assertEquivalentArguments('queue', name, this.name, d.arguments, existing.arguments);
      existing.touch();
      return existing;
    }
    // Exclusive queues die with their connection, so they are never stored (as RabbitMQ).
    const durable = d.durable && !d.exclusive;
    const queue = this.createQueue(
      name,
      this.store.allocateQueueId(),
      d.durable,
      d.autoDelete,
      d.exclusive ? connectionId : undefined,
      d.arguments,
    );
    if (durable) {
      try {
        storeOrFail('queue', name, () =>
          this.store.putQueue({ name, id: queue.id, durable: true, autoDelete: d.autoDelete, arguments: d.arguments }),
        );
      } catch (err) {
        // A durable queue whose record could not be written must not exist until a restart.
        this.queues.delete(name);
        queue.stopTimers();
        throw err;
      }
    }
    return queue;
  }

  private createQueue(
    name: string,
    id: number,
    durable: boolean,
    autoDelete: boolean,
    owner: string | undefined,
    args: FieldTable,
  ): Queue {
    // Streams (x-queue-type stream) are queues to everything above them. spec/semantics.md §Streams.
    const QueueClass = isStreamArguments(args) ? StreamQueue : Queue;
    const queue = new QueueClass(
      { name, id, durable, autoDelete, exclusiveOwner: owner, arguments: args },
      {
        store: durable && owner === undefined ? this.store : undefined,
        clock: guardedClock(this.clock, (err) => this.onTimerError(err, { component: 'queue', queue: name })),
        deadLetter: (q, record, reason) => this.deadLetterer.deadLetter(q, record, reason),
        remove: (q, reason) => this.removeQueue(q, reason),
      },
    );
    this.queues.set(name, queue);
    if (queue.exclusiveOwner !== undefined || !durable) this.nodeLocal?.added(this.name, name);
    return queue;
  }

  deleteQueue(name: string, ifUnused: boolean, ifEmpty: boolean, connectionId: string | undefined): number {
    checkName('queue', name);
    if (!this.queues.has(name)) return 0; // idempotent, as RabbitMQ
    const q = this.requireQueue(name, connectionId);
    if (ifUnused && q.consumerCount > 0) {
      throw new BrokerError(ErrorCode.PRECONDITION_FAILED, `queue '${name}' in vhost '${this.name}' in use`);
    }
    if (ifEmpty && q.messageCount + q.unacked > 0) {
      throw new BrokerError(ErrorCode.PRECONDITION_FAILED, `queue '${name}' in vhost '${this.name}' is not empty`);
    }
    return this.removeQueue(q, `queue '${name}' was deleted`);
  }

  /**
   * Cluster stores: settles when the definition written for a queue just declared is the
   * stored one; resolves to another node's definition when that node won the declare race
   * with other arguments (spec/cluster.md §Declare races). Undefined when nothing is pending.
   */
  queueStored(name: string): Promise<QueueDefinition | undefined> | undefined {
    return this.store.queueStored?.(name, this.name);
  }

  /**
   * Another node's definition of queue `name` stands (it won a declare race, or this node
   * missed a change): this node's queue object is rebuilt with its arguments under the same
   * id and bindings; nothing stored changes. Consumers of the old object are cancelled (they
   * consumed under arguments that do not hold). False when nothing differs.
   */
  adoptQueueDefinition(name: string, autoDelete: boolean, args: FieldTable): boolean {
    const old = this.queues.get(name);
    if (old === undefined || old.exclusiveOwner !== undefined) return false;
    try {
      assertEquivalentArguments('queue', name, this.name, args, old.arguments);
      if (old.autoDelete === autoDelete) return false;
    } catch {
      // differs: rebuild below
    }
    old.delete(`queue '${name}' in vhost '${this.name}' was declared on another node with other arguments`);
    this.queues.delete(name);
    this.createQueue(name, old.id, old.durable, autoDelete, undefined, args);
    return true;
  }

  /** Deletes a queue for any reason (request, auto-delete, owner gone). Returns its ready count. */
  removeQueue(q: Queue, reason: string): number {
    if (q.isDeleted) return 0;
    const bindings = this.queueBindings.get(q.name);
    if (bindings !== undefined) for (const b of [...bindings.values()]) this.removeBinding(b, true);
    this.queues.delete(q.name);
    this.queueBindings.delete(q.name);
    const count = q.delete(reason);
    if (q.durable && q.exclusiveOwner === undefined) {
      this.store.removeQueue({
        name: q.name,
        id: q.id,
        durable: true,
        autoDelete: q.autoDelete,
        arguments: q.arguments,
      });
    }
    if (q.exclusiveOwner !== undefined || !q.durable) this.nodeLocal?.removed(this.name, q.name);
    this.onQueueDeleted?.(q);
    return count;
  }

  /** Deletes the exclusive queues of a closed connection. */
  releaseOwner(connectionId: string): void {
    for (const q of [...this.queues.values()]) {
      if (q.exclusiveOwner === connectionId) this.removeQueue(q, `exclusive queue '${q.name}' owner closed`);
    }
  }

  bind(b: Binding, connectionId: string | undefined): void {
    const source = this.checkBindable(b, connectionId);
    const error = validateBindingArguments(source.type, b.arguments, b.routingKey);
    if (error !== undefined) throw new BrokerError(ErrorCode.PRECONDITION_FAILED, error);
    this.addBinding(b, true);
  }

  unbind(b: Binding, connectionId: string | undefined): void {
    this.checkBindable(b, connectionId);
    this.removeBinding(b, true);
  }

  /**
   * The checks of queue.bind / exchange.bind and their unbinds, in RabbitMQ's order: the
   * default exchange (403), the source exchange (404), the destination (404), then exclusive
   * access to a destination queue (405).
   */
  private checkBindable(b: Binding, connectionId: string | undefined): Exchange {
    checkName('exchange', b.source);
    checkName(b.destinationKind, b.destination);
    checkShortString('routing key', b.routingKey);
    refuseDefaultExchange(b.source);
    if (b.destinationKind === 'exchange') refuseDefaultExchange(b.destination);
    const source = this.requireExchange(b.source);
    if (b.destinationKind === 'queue') this.requireQueue(b.destination, connectionId);
    else this.requireExchange(b.destination);
    return source;
  }

  private addBinding(b: Binding, persist: boolean): void {
    const source = this.exchanges.get(b.source);
    if (source === undefined) return;
    const dest = b.destinationKind === 'queue' ? this.queues.get(b.destination) : this.exchanges.get(b.destination);
    if (dest === undefined) return;
    if (!source.matcher.add(b)) return;
    const key = bindingKey(b);
    // Durable when both ends are (RabbitMQ): a durable exchange and a stored queue or exchange.
    if (persist && source.durable && isStored(dest)) {
      try {
        storeOrFail('binding', `${b.source} -> ${b.destination}`, () => this.store.putBinding(key, b));
      } catch (err) {
        source.matcher.remove(b);
        throw err;
      }
    }
    if (b.destinationKind === 'queue') {
      let m = this.queueBindings.get(b.destination);
      if (m === undefined) this.queueBindings.set(b.destination, (m = new Map<string, Binding>()));
      m.set(key, b);
    } else (dest as Exchange).inbound++;
  }

  /** Whether a stored binding's source and destination were both recovered as stored. */
  private recoverable(b: Binding): boolean {
    const source = this.exchanges.get(b.source);
    const dest = b.destinationKind === 'queue' ? this.queues.get(b.destination) : this.exchanges.get(b.destination);
    return source !== undefined && source.durable && dest !== undefined && isStored(dest);
  }

  /** Removes a binding's record from the store (the store keys records by the identity). */
  private forgetBinding(key: string): void {
    this.store.removeBinding(key);
  }

  private removeBinding(b: Binding, autoDeleteSource: boolean): void {
    const source = this.exchanges.get(b.source);
    if (source === undefined || !source.matcher.remove(b)) return;
    const key = bindingKey(b);
    let dest: Queue | Exchange | undefined;
    if (b.destinationKind === 'queue') {
      this.queueBindings.get(b.destination)?.delete(key);
      dest = this.queues.get(b.destination);
    } else {
      dest = this.exchanges.get(b.destination);
      if (dest !== undefined) dest.inbound--;
    }
    if (source.durable && (dest === undefined || isStored(dest))) this.forgetBinding(key);
    // An auto-delete exchange goes away when its last binding is removed (RabbitMQ).
    if (autoDeleteSource && source.autoDelete && source.matcher.size === 0) this.removeExchange(source);
  }

  /**
   * The exchange a client publish (or a due delayed message) goes through: undefined for the
   * default exchange; 404 for a missing exchange, 403 for an internal one (clients may not
   * publish to internal exchanges; dead-lettering may, so it looks exchanges up itself).
   * The one internal-exchange check of the publish path.
   */
  publishTarget(exchangeName: string): Exchange | undefined {
    if (exchangeName === '') return undefined;
    const x = this.requireExchange(exchangeName);
    if (x.internal) {
      throw new BrokerError(
        ErrorCode.ACCESS_REFUSED,
        `cannot publish to internal exchange '${exchangeName}' in vhost '${this.name}'`,
      );
    }
    return x;
  }

  /** Queues a client publish to `exchangeName` reaches: {@link publishTarget}'s checks, then {@link queuesFor}. */
  route(exchangeName: string, routingKey: string, headers: FieldTable | undefined): readonly Queue[] {
    return this.queuesFor(this.publishTarget(exchangeName), routingKey, headers);
  }

  /** Hands a message for `queue`, held by another cluster node, to that node; false when none holds it. */
  forward(queue: string, record: MessageRecord): boolean {
    return this.nodeLocal?.forward(this.name, queue, record) ?? false;
  }

  /**
   * Queues a message reaches through `x`, alternate exchanges and exchange-to-exchange
   * bindings included; `undefined` is the default exchange (the queue the routing key names).
   * A lookup only: the caller has done the access checks ({@link publishTarget}).
   */
  queuesFor(x: Exchange | undefined, routingKey: string, headers: FieldTable | undefined): readonly Queue[] {
    if (x === undefined) {
      const q = this.queues.get(routingKey);
      return q === undefined ? [] : [q];
    }
    const result = route(x, routingKey, headers, (n) => this.exchanges.get(n));
    const out: Queue[] = [];
    for (const name of result.queues) {
      const q = this.queues.get(name);
      if (q !== undefined) out.push(q);
    }
    return out;
  }
}

/**
 * Exchange arguments compared when an exchange is redeclared. RabbitMQ compares only
 * `alternate-exchange` (others may differ freely); Switchyard adds its own behavioural one.
 */
const COMPARED_EXCHANGE_ARGUMENTS = ['alternate-exchange', 'x-deduplication-window'] as const;

/**
 * Runs a store write; a throw becomes 541 INTERNAL_ERROR naming what could not be stored, so
 * the declare fails (the caller has not registered anything yet, or undoes it).
 */
function storeOrFail(kind: string, name: string, write: () => void): void {
  try {
    write();
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new BrokerError(
      ErrorCode.INTERNAL_ERROR,
      `could not store ${kind} '${name}': ${reason}; nothing was declared`,
      { cause: err },
    );
  }
}

/** Whether an exchange or queue is kept in the store (exclusive queues never are). */
function isStored(x: Exchange | Queue): boolean {
  return x instanceof Exchange ? x.durable : x.durable && x.exclusiveOwner === undefined;
}

/** 403 ACCESS_REFUSED for the default exchange, in RabbitMQ's words. */
function refuseDefaultExchange(name: string): void {
  if (name === '') throw new BrokerError(ErrorCode.ACCESS_REFUSED, 'operation not permitted on the default exchange');
}

function pick(table: FieldTable, keys: readonly string[]): FieldTable {
  const out: FieldTable = {};
  for (const k of keys) if (table[k] !== undefined) out[k] = table[k];
  return out;
}

/** A field value's kind, for error messages. */
function fieldType(v: unknown): string {
  if (v === null) return 'void';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Uint8Array) return 'bytes';
  return typeof v === 'object' ? 'table' : typeof v;
}

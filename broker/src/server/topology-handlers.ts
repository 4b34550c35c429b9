import type { FieldTable } from '@switchyard/client/protocol';
import type { Permissions, ResourceKind } from '../auth/permissions.js';
import type { Binding } from '../routing/binding.js';
import type { QueueDefinition } from '../store/store.js';
import { assertEquivalent, assertEquivalentArguments } from '../vhost/equivalence.js';
import { checkQueueLimit } from '../vhost/queue-limit.js';
import type { ExchangeDeclare, QueueDeclare } from '../vhost/virtual-host.js';
import type { ServerChannel } from './channel.js';
import { isReplyQueueName } from './direct-reply-to.js';

/** queue.declare-ok's fields. */
export interface QueueDeclared {
  queue: string;
  messageCount: number;
  consumerCount: number;
  /**
   * Cluster stores: the declare-ok waits for this (the queue's definition stored in KV); it
   * rejects with 406 when another node won the declare race with other arguments.
   */
  stored?: Promise<void>;
}

/**
 * Declare, bind, purge and delete: the requests that change a vhost's topology, for any
 * wire protocol (the adapter answers each with its reply). Permission checks sit exactly
 * where RabbitMQ has them (spec/security.md §Permissions); errors are BrokerErrors with
 * AMQP reply codes. spec/protocol.md §5. Channels.
 */
export const topology = {
  declareExchange(ch: ServerChannel, d: ExchangeDeclare): void {
    const access = ch.conn.access;
    if (!d.passive) {
      access.require('configure', 'exchange', d.exchange);
      requireRouteTarget(access, d.arguments['alternate-exchange'], 'exchange', d.exchange);
    }
    ch.conn.vhost.declareExchange(d);
  },

  deleteExchange(ch: ServerChannel, exchange: string, ifUnused: boolean): void {
    ch.conn.access.require('configure', 'exchange', exchange);
    ch.conn.vhost.deleteExchange(exchange, ifUnused);
  },

  /** exchange.bind (bind) or exchange.unbind. */
  bindExchange(
    ch: ServerChannel,
    bind: boolean,
    destination: string,
    source: string,
    routingKey: string,
    args: FieldTable,
  ): void {
    const access = ch.conn.access;
    access.require('write', 'exchange', destination);
    access.require('read', 'exchange', source);
    changeBinding(ch, bind, { source, destination, destinationKind: 'exchange', routingKey, arguments: args });
  },

  declareQueue(ch: ServerChannel, d: QueueDeclare): QueueDeclared {
    const vhost = ch.conn.vhost;
    const access = ch.conn.access;
    if (isReplyQueueName(d.queue)) {
      // The pseudo-queue cannot be created; the declare tells whether the requester is there.
      const { messageCount, consumerCount } = ch.conn.services.directReplyTo.declare(vhost.name, d.queue);
      return { queue: d.queue, messageCount, consumerCount };
    }
    if (!d.passive) checkQueueLimit(vhost, d.queue, ch.conn.services.options.maxQueues);
    const dlx = d.arguments['x-dead-letter-exchange'];
    if (!d.passive && d.queue !== '') {
      access.require('configure', 'queue', d.queue);
      requireRouteTarget(access, dlx, 'queue', d.queue);
    }
    const q = vhost.declareQueue(d, ch.conn.id);
    if (!d.passive && d.queue === '') {
      try {
        access.require('configure', 'queue', q.name);
        requireRouteTarget(access, dlx, 'queue', q.name);
      } catch (err) {
        vhost.removeQueue(q, 'permission refused');
        throw err;
      }
    }
    const declared: QueueDeclared = { queue: q.name, messageCount: q.messageCount, consumerCount: q.consumerCount };
    const pending = d.passive ? undefined : vhost.queueStored(q.name);
    if (pending !== undefined) declared.stored = settleDeclare(pending, vhost.name, d);
    return declared;
  },

  /** queue.bind (bind) or queue.unbind. */
  bindQueue(
    ch: ServerChannel,
    bind: boolean,
    queue: string,
    exchange: string,
    routingKey: string,
    args: FieldTable,
  ): void {
    const access = ch.conn.access;
    access.require('write', 'queue', queue);
    access.require('read', 'exchange', exchange);
    changeBinding(ch, bind, {
      source: exchange,
      destination: queue,
      destinationKind: 'queue',
      routingKey,
      arguments: args,
    });
  },

  /** queue.purge: the number of messages removed. */
  purgeQueue(ch: ServerChannel, queue: string): number {
    ch.conn.access.require('read', 'queue', queue);
    return ch.conn.vhost.requireQueue(queue, ch.conn.id).purge();
  },

  /** queue.delete: the number of messages deleted with the queue. */
  deleteQueue(ch: ServerChannel, queue: string, ifUnused: boolean, ifEmpty: boolean): number {
    ch.conn.access.require('configure', 'queue', queue);
    return ch.conn.vhost.deleteQueue(queue, ifUnused, ifEmpty, ch.conn.id);
  },
};

/**
 * An alternate exchange (on an exchange) or a dead-letter exchange (on a queue) routes
 * messages into another exchange, so declaring one is a write to that exchange: as RabbitMQ's
 * rabbit_channel, read on the declared resource and write on the target, or 403 naming it.
 * The default exchange `''` (x-dead-letter-exchange '' with x-dead-letter-routing-key) is
 * checked as `amq.default`. spec/security.md §Permissions.
 */
/**
 * What a declare answers once its definition is stored (spec/cluster.md §Declare races): ok
 * when ours stands; 406 in RabbitMQ's words, naming the argument, when another node's create
 * won with other arguments. A store write that failed otherwise was logged by the store and
 * changes nothing here (the declare stands locally, as before clustering).
 */
function settleDeclare(pending: Promise<QueueDefinition | undefined>, vhost: string, d: QueueDeclare): Promise<void> {
  return pending.then(
    (winner) => {
      if (winner === undefined) return;
      assertEquivalent('queue', d.queue, vhost, { auto_delete: d.autoDelete }, { auto_delete: winner.autoDelete });
      assertEquivalentArguments('queue', d.queue, vhost, d.arguments, winner.arguments);
    },
    () => undefined,
  );
}

function requireRouteTarget(access: Permissions, target: unknown, kind: ResourceKind, name: string): void {
  if (typeof target !== 'string') return; // absent, or a type error the declare reports (406)
  access.require('read', kind, name);
  access.require('write', 'exchange', target);
}

function changeBinding(ch: ServerChannel, bind: boolean, b: Binding): void {
  if (bind) ch.conn.vhost.bind(b, ch.conn.id);
  else ch.conn.vhost.unbind(b, ch.conn.id);
}

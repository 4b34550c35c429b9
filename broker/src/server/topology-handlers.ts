import { BrokerError, ErrorCode, type Frame } from '@switchyard/client/protocol';
import type { Permissions, ResourceKind } from '../auth/permissions.js';
import type { Binding } from '../routing/binding.js';
import { checkQueueLimit } from '../vhost/queue-limit.js';
import type { ServerChannel } from './channel.js';
import { isReplyQueueName } from './direct-reply-to.js';

/**
 * Declare, bind, purge and delete: request/reply frames that change the vhost's topology.
 * Each reply carries the request's `rid`. spec/protocol.md §Frame types and §Channels.
 */
export function handleTopologyFrame(ch: ServerChannel, f: Frame): void {
  const vhost = ch.conn.vhost;
  const connId = ch.conn.id;
  const channel = ch.number;
  const access = ch.conn.access;
  // Permission checks sit exactly where RabbitMQ has them (spec/security.md §Permissions).
  switch (f.type) {
    case 'exchangeDeclare':
      if (!f.passive) {
        access.require('configure', 'exchange', f.exchange);
        requireRouteTarget(access, f.arguments['alternate-exchange'], 'exchange', f.exchange);
      }
      vhost.declareExchange(f);
      return ch.conn.send({ type: 'exchangeDeclareOk', channel, rid: f.rid });
    case 'exchangeDelete':
      access.require('configure', 'exchange', f.exchange);
      vhost.deleteExchange(f.exchange, f.ifUnused);
      return ch.conn.send({ type: 'exchangeDeleteOk', channel, rid: f.rid });
    case 'exchangeBind':
    case 'exchangeUnbind':
      access.require('write', 'exchange', f.destination);
      access.require('read', 'exchange', f.source);
      changeBinding(ch, f.type === 'exchangeBind', { source: f.source, destination: f.destination, destinationKind: 'exchange', routingKey: f.routingKey, arguments: f.arguments });
      return ch.conn.send({ type: f.type === 'exchangeBind' ? 'exchangeBindOk' : 'exchangeUnbindOk', channel, rid: f.rid });
    case 'queueDeclare': {
      if (isReplyQueueName(f.queue)) {
        // The pseudo-queue cannot be created; the declare tells whether the requester is there.
        const { messageCount, consumerCount } = ch.conn.services.directReplyTo.declare(vhost.name, f.queue);
        return ch.conn.send({ type: 'queueDeclareOk', channel, rid: f.rid, queue: f.queue, messageCount, consumerCount });
      }
      if (!f.passive) checkQueueLimit(vhost, f.queue, ch.conn.services.options.maxQueues);
      const dlx = f.arguments['x-dead-letter-exchange'];
      if (!f.passive && f.queue !== '') {
        access.require('configure', 'queue', f.queue);
        requireRouteTarget(access, dlx, 'queue', f.queue);
      }
      const q = vhost.declareQueue(f, connId);
      if (!f.passive && f.queue === '') {
        try {
          access.require('configure', 'queue', q.name);
          requireRouteTarget(access, dlx, 'queue', q.name);
        } catch (err) {
          vhost.removeQueue(q, 'permission refused');
          throw err;
        }
      }
      return ch.conn.send({ type: 'queueDeclareOk', channel, rid: f.rid, queue: q.name, messageCount: q.messageCount, consumerCount: q.consumerCount });
    }
    case 'queueBind':
    case 'queueUnbind':
      access.require('write', 'queue', f.queue);
      access.require('read', 'exchange', f.exchange);
      changeBinding(ch, f.type === 'queueBind', { source: f.exchange, destination: f.queue, destinationKind: 'queue', routingKey: f.routingKey, arguments: f.arguments });
      return ch.conn.send({ type: f.type === 'queueBind' ? 'queueBindOk' : 'queueUnbindOk', channel, rid: f.rid });
    case 'queuePurge': {
      access.require('read', 'queue', f.queue);
      const messageCount = vhost.requireQueue(f.queue, connId).purge();
      return ch.conn.send({ type: 'queuePurgeOk', channel, rid: f.rid, messageCount });
    }
    case 'queueDelete': {
      access.require('configure', 'queue', f.queue);
      const messageCount = vhost.deleteQueue(f.queue, f.ifUnused, f.ifEmpty, connId);
      return ch.conn.send({ type: 'queueDeleteOk', channel, rid: f.rid, messageCount });
    }
    default:
      throw new BrokerError(
        ErrorCode.COMMAND_INVALID,
        `frame '${f.type}' is not valid on a channel (client frames only; see spec/protocol.md)`,
      );
  }
}

/**
 * An alternate exchange (on an exchange) or a dead-letter exchange (on a queue) routes
 * messages into another exchange, so declaring one is a write to that exchange: as RabbitMQ's
 * rabbit_channel, read on the declared resource and write on the target, or 403 naming it.
 * The default exchange `''` (x-dead-letter-exchange '' with x-dead-letter-routing-key) is
 * checked as `amq.default`. spec/security.md §Permissions.
 */
function requireRouteTarget(access: Permissions, target: unknown, kind: ResourceKind, name: string): void {
  if (typeof target !== 'string') return; // absent, or a type error the declare reports (406)
  access.require('read', kind, name);
  access.require('write', 'exchange', target);
}

function changeBinding(ch: ServerChannel, bind: boolean, b: Binding): void {
  if (bind) ch.conn.vhost.bind(b, ch.conn.id);
  else ch.conn.vhost.unbind(b, ch.conn.id);
}

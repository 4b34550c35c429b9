import { BrokerError, ErrorCode, type Frame } from '@switchyard/client/protocol';
import type { Binding } from '../routing/binding.js';
import type { ServerChannel } from './channel.js';
import { isReplyQueueName } from './direct-reply-to.js';

/**
 * Declare, bind, purge and delete: request/reply frames that change the vhost's topology.
 * Each reply carries the request's `rid`. spec/protocol.md §Exchanges and §Queues.
 */
export function handleTopologyFrame(ch: ServerChannel, f: Frame): void {
  const vhost = ch.conn.vhost;
  const connId = ch.conn.id;
  const channel = ch.number;
  const access = ch.conn.access;
  // Permission checks sit exactly where RabbitMQ has them (spec/security.md §Permissions).
  switch (f.type) {
    case 'exchangeDeclare':
      if (!f.passive) access.require('configure', 'exchange', f.exchange);
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
      const max = ch.conn.services.options.maxQueues;
      if (!f.passive && (f.queue === '' || vhost.queue(f.queue) === undefined) && vhost.queueCount >= max) {
        throw new BrokerError(ErrorCode.PRECONDITION_FAILED, `queue limit reached: vhost '${vhost.name}' has ${max} queues (maxQueues); delete some or raise the limit`);
      }
      if (!f.passive && f.queue !== '') access.require('configure', 'queue', f.queue);
      const q = vhost.declareQueue(f, connId);
      if (!f.passive && f.queue === '' && !access.allows('configure', q.name)) {
        vhost.removeQueue(q, 'configure permission refused');
        access.require('configure', 'queue', q.name);
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

function changeBinding(ch: ServerChannel, bind: boolean, b: Binding): void {
  if (bind) ch.conn.vhost.bind(b, ch.conn.id);
  else ch.conn.vhost.unbind(b, ch.conn.id);
}

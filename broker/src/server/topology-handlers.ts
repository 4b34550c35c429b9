import { BrokerError, ErrorCode, type Frame } from '@switchyard/client/protocol';
import type { ServerChannel } from './channel.js';

/**
 * Declare, bind, purge and delete: request/reply frames that change the vhost's topology.
 * Each reply carries the request's `rid`. spec/protocol.md §Exchanges and §Queues.
 */
export function handleTopologyFrame(ch: ServerChannel, f: Frame): void {
  const vhost = ch.conn.vhost;
  const connId = ch.conn.id;
  const channel = ch.number;
  switch (f.type) {
    case 'exchangeDeclare':
      vhost.declareExchange(f);
      return ch.conn.send({ type: 'exchangeDeclareOk', channel, rid: f.rid });
    case 'exchangeDelete':
      vhost.deleteExchange(f.exchange, f.ifUnused);
      return ch.conn.send({ type: 'exchangeDeleteOk', channel, rid: f.rid });
    case 'exchangeBind':
    case 'exchangeUnbind': {
      const b = { source: f.source, destination: f.destination, destinationKind: 'exchange' as const, routingKey: f.routingKey, arguments: f.arguments };
      if (f.type === 'exchangeBind') {
        vhost.bind(b, connId);
        return ch.conn.send({ type: 'exchangeBindOk', channel, rid: f.rid });
      }
      vhost.unbind(b, connId);
      return ch.conn.send({ type: 'exchangeUnbindOk', channel, rid: f.rid });
    }
    case 'queueDeclare': {
      const max = ch.conn.services.options.maxQueues;
      if (!f.passive && (f.queue === '' || vhost.queue(f.queue) === undefined) && vhost.queueCount >= max) {
        throw new BrokerError(ErrorCode.PRECONDITION_FAILED, `queue limit reached: vhost '${vhost.name}' has ${max} queues (maxQueues); delete some or raise the limit`);
      }
      const q = vhost.declareQueue(f, connId);
      return ch.conn.send({ type: 'queueDeclareOk', channel, rid: f.rid, queue: q.name, messageCount: q.messageCount, consumerCount: q.consumerCount });
    }
    case 'queueBind':
    case 'queueUnbind': {
      const b = { source: f.exchange, destination: f.queue, destinationKind: 'queue' as const, routingKey: f.routingKey, arguments: f.arguments };
      if (f.type === 'queueBind') {
        vhost.bind(b, connId);
        return ch.conn.send({ type: 'queueBindOk', channel, rid: f.rid });
      }
      vhost.unbind(b, connId);
      return ch.conn.send({ type: 'queueUnbindOk', channel, rid: f.rid });
    }
    case 'queuePurge': {
      const messageCount = vhost.requireQueue(f.queue, connId).purge();
      return ch.conn.send({ type: 'queuePurgeOk', channel, rid: f.rid, messageCount });
    }
    case 'queueDelete': {
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

import { BrokerError, ErrorCode, type Frame, type MessageProperties } from '@switchyard/client/protocol';
import type { ServerChannel } from '../../server/channel.js';
import type { SessionSink } from '../../server/session-sink.js';
import { topology } from '../../server/topology-handlers.js';

/**
 * Our frame protocol's adapter onto the protocol-independent channel: a channel frame
 * becomes a method call, and the reply (carrying the request's `rid`) goes back as a frame.
 * Throws BrokerError for the connection to close the channel (or itself) with.
 * spec/protocol.md §5. Channels.
 */
export function handleChannelFrame(ch: ServerChannel, f: Frame, send: (frame: Frame) => void): void {
  const channel = ch.number;
  switch (f.type) {
    case 'publish':
      return ch.publish(f.exchange, f.routingKey, f.mandatory, f.properties, f.content);
    case 'confirmSelect':
      return ch.setConfirms(f.enabled);
    case 'ack':
      return ch.ack(f.deliveryTag, f.multiple);
    case 'nack':
      return ch.nack(f.deliveryTag, f.multiple, f.requeue, f.delayMs);
    case 'consume':
      return ch.consume(f, (consumerTag) => send({ type: 'consumeOk', channel, rid: f.rid, consumerTag }));
    case 'cancel':
      ch.cancel(f.consumerTag);
      return send({ type: 'cancelOk', channel, rid: f.rid, consumerTag: f.consumerTag });
    case 'get':
      return ch.get(f.queue, f.noAck, (got) => {
        if (got === undefined) return send({ type: 'getEmpty', channel, rid: f.rid });
        const { record } = got;
        send({
          type: 'getOk',
          channel,
          rid: f.rid,
          deliveryTag: got.deliveryTag,
          redelivered: got.redelivered,
          deliveryCount: got.deliveryCount,
          exchange: record.exchange,
          routingKey: record.routingKey,
          messageCount: got.messageCount,
          properties: record.properties,
          content: record.content,
        });
      });
    case 'qos':
      return ch.qos(f.prefetchCount, f.global, () => send({ type: 'qosOk', channel, rid: f.rid }));
    case 'recover':
      return ch.recover(() => send({ type: 'recoverOk', channel, rid: f.rid }));
    case 'exchangeDeclare':
      topology.declareExchange(ch, f);
      return send({ type: 'exchangeDeclareOk', channel, rid: f.rid });
    case 'exchangeDelete':
      topology.deleteExchange(ch, f.exchange, f.ifUnused);
      return send({ type: 'exchangeDeleteOk', channel, rid: f.rid });
    case 'exchangeBind':
    case 'exchangeUnbind': {
      const bind = f.type === 'exchangeBind';
      topology.bindExchange(ch, bind, f.destination, f.source, f.routingKey, f.arguments);
      return send({ type: bind ? 'exchangeBindOk' : 'exchangeUnbindOk', channel, rid: f.rid });
    }
    case 'queueDeclare': {
      const ok = topology.declareQueue(ch, f);
      const reply = (): void =>
        send({
          type: 'queueDeclareOk',
          channel,
          rid: f.rid,
          queue: ok.queue,
          messageCount: ok.messageCount,
          consumerCount: ok.consumerCount,
        });
      if (ok.stored === undefined) return reply();
      return void ok.stored.then(
        () => {
          if (ch.state === 'open') reply();
        },
        (err: BrokerError) => {
          if (ch.state === 'open') ch.conn.failChannel(ch, err, f.rid);
        },
      );
    }
    case 'queueBind':
    case 'queueUnbind': {
      const bind = f.type === 'queueBind';
      topology.bindQueue(ch, bind, f.queue, f.exchange, f.routingKey, f.arguments);
      return send({ type: bind ? 'queueBindOk' : 'queueUnbindOk', channel, rid: f.rid });
    }
    case 'queuePurge':
      return send({ type: 'queuePurgeOk', channel, rid: f.rid, messageCount: topology.purgeQueue(ch, f.queue) });
    case 'streamOffsetStore':
      return ch.storeOffset(f.queue, f.reader, f.offset, () =>
        send({ type: 'streamOffsetStoreOk', channel, rid: f.rid }),
      );
    case 'streamOffsetQuery':
      return send({ type: 'streamOffsetQueryOk', channel, rid: f.rid, offset: ch.queryOffset(f.queue, f.reader) });
    case 'queueDelete':
      return send({
        type: 'queueDeleteOk',
        channel,
        rid: f.rid,
        messageCount: topology.deleteQueue(ch, f.queue, f.ifUnused, f.ifEmpty),
      });
    default:
      throw new BrokerError(
        ErrorCode.COMMAND_INVALID,
        `frame '${f.type}' is not valid on a channel (client frames only; see spec/protocol.md)`,
      );
  }
}

/** A session's outbound events as frames of our protocol, queued on the connection's outbox. */
export class FrameSink implements SessionSink {
  constructor(private readonly send: (frame: Frame) => void) {}

  deliver(
    channel: number,
    consumerTag: string,
    deliveryTag: number,
    redelivered: boolean,
    deliveryCount: number,
    exchange: string,
    routingKey: string,
    properties: MessageProperties | null,
    content: Uint8Array,
  ): void {
    this.send({
      type: 'deliver',
      channel,
      consumerTag,
      deliveryTag,
      redelivered,
      deliveryCount,
      exchange,
      routingKey,
      properties,
      content,
    });
  }

  publishAcked(channel: number, seqNo: number, multiple: boolean): void {
    this.send({ type: 'publishAck', channel, seqNo, multiple });
  }

  publishNacked(channel: number, seqNo: number, multiple: boolean, code: number, message: string): void {
    this.send({ type: 'publishNack', channel, seqNo, multiple, code, message });
  }

  returned(
    channel: number,
    replyCode: number,
    replyText: string,
    exchange: string,
    routingKey: string,
    properties: MessageProperties | null,
    content: Uint8Array,
  ): void {
    this.send({ type: 'return', channel, replyCode, replyText, exchange, routingKey, properties, content });
  }

  consumerCancelled(channel: number, consumerTag: string, reason: string): void {
    this.send({ type: 'cancelNotify', channel, consumerTag, reason });
  }

  consumerActive(channel: number, consumerTag: string, active: boolean): void {
    this.send({ type: 'consumerActive', channel, consumerTag, active });
  }

  channelClosed(channel: number, code: number, message: string, ref: number): void {
    this.send({ type: 'channelClose', channel, code, message, ref });
  }

  blocked(reason: string): void {
    this.send({ type: 'blocked', channel: 0, reason });
  }

  unblocked(): void {
    this.send({ type: 'unblocked', channel: 0 });
  }
}

import {
  BrokerError,
  ErrorCode,
  fieldTableError,
  type FieldTable,
  type MessageProperties,
} from '@switchyard/client/protocol';
import type { ServerChannel } from '../../server/channel.js';
import { topology } from '../../server/topology-handlers.js';
import { encodeMethod, M, type MethodFields } from './codec.js';
import { writeContent, type AmqpOutput } from './sink.js';

/** A basic.publish whose content header and body are still arriving. */
interface PendingContent {
  exchange: string;
  routingKey: string;
  mandatory: boolean;
  properties: MessageProperties | null;
  size: number;
  received: number;
  chunks: Buffer[];
}

/** A publish or an acknowledgement held by a transaction until tx.commit. */
type TxOp =
  | {
      kind: 'publish';
      exchange: string;
      routingKey: string;
      mandatory: boolean;
      properties: MessageProperties | null;
      content: Buffer;
    }
  | { kind: 'ack'; tag: number; multiple: boolean }
  | { kind: 'nack'; tag: number; multiple: boolean; requeue: boolean };

const notImplemented = (what: string): BrokerError => new BrokerError(ErrorCode.NOT_IMPLEMENTED, what);

/**
 * An AMQP field table as the rest of the broker may hold it: the same limits as on the
 * WebSocket port (depth, entries, finite numbers, valid Unicode), so what an AMQP client
 * sends can be stored, exported and delivered to any client. spec/protocol.md §Field tables.
 */
export function table(v: unknown, where = 'arguments'): FieldTable {
  if (v === undefined) return {};
  const error = fieldTableError(v, where);
  if (error !== undefined) throw new BrokerError(ErrorCode.PRECONDITION_FAILED, `invalid field table: ${error}`);
  return v as FieldTable;
}

/**
 * AMQP 0-9-1's channel methods onto the protocol-independent ServerChannel: each method
 * becomes a call, and its reply (unless `nowait`) an AMQP method frame. Content (basic.publish,
 * its header, its body frames) is assembled here. Transactions (tx.*) hold publishes and
 * acknowledgements until commit, as RabbitMQ does. Throws BrokerError: a channel error (4xx)
 * closes the channel, anything else the connection. spec/amqp.md §Supported.
 */
export class AmqpChannel {
  /** The publish being assembled, if its header or body is still to come. */
  content: PendingContent | undefined;
  private tx: TxOp[] | undefined;
  private confirmSelected = false;

  constructor(
    readonly ch: ServerChannel,
    private readonly out: AmqpOutput,
  ) {
    // AMQP channels publish without confirms until confirm.select.
    ch.setConfirms(false);
  }

  get number(): number {
    return this.ch.number;
  }

  private reply(methodId: number, fields: MethodFields = {}): void {
    this.out.write(encodeMethod(methodId, this.ch.number, fields));
  }

  /** A method frame for this channel (channel.open/close are the connection's). */
  handle(id: number, f: MethodFields): void {
    const ch = this.ch;
    switch (id) {
      case M.BasicPublish:
        this.content = {
          exchange: f['exchange'] as string,
          routingKey: f['routingKey'] as string,
          mandatory: f['mandatory'] as boolean,
          properties: null,
          size: -1,
          received: 0,
          chunks: [],
        };
        return;
      case M.BasicAck:
        if (this.tx !== undefined) {
          this.tx.push({ kind: 'ack', tag: f['deliveryTag'] as number, multiple: f['multiple'] as boolean });
          return;
        }
        return ch.ack(f['deliveryTag'] as number, f['multiple'] as boolean);
      case M.BasicNack:
      case M.BasicReject: {
        const tag = f['deliveryTag'] as number;
        const multiple = id === M.BasicNack && (f['multiple'] as boolean);
        const requeue = f['requeue'] as boolean;
        if (this.tx !== undefined) {
          this.tx.push({ kind: 'nack', tag, multiple, requeue });
          return;
        }
        return ch.nack(tag, multiple, requeue, 0);
      }
      case M.BasicConsume: {
        const nowait = f['nowait'] as boolean;
        return ch.consume(
          {
            queue: f['queue'] as string,
            consumerTag: f['consumerTag'] as string,
            noAck: f['noAck'] as boolean,
            exclusive: f['exclusive'] as boolean,
            priority: 0,
            arguments: table(f['arguments']),
          },
          (consumerTag) => {
            if (!nowait) this.reply(M.BasicConsumeOk, { consumerTag });
          },
        );
      }
      case M.BasicCancel: {
        const consumerTag = f['consumerTag'] as string;
        ch.cancel(consumerTag);
        if (!(f['nowait'] as boolean)) this.reply(M.BasicCancelOk, { consumerTag });
        return;
      }
      case M.BasicGet:
        return ch.get(f['queue'] as string, f['noAck'] as boolean, (got) => {
          if (got === undefined) return this.reply(M.BasicGetEmpty, { clusterId: '' });
          const { record } = got;
          const method = encodeMethod(M.BasicGetOk, ch.number, {
            deliveryTag: got.deliveryTag,
            redelivered: got.redelivered,
            exchange: record.exchange,
            routingKey: record.routingKey,
            messageCount: got.messageCount,
          });
          writeContent(this.out, ch.number, method, record.properties, record.content);
        });
      case M.BasicQos:
        // RabbitMQ: prefetch_size is not implemented; global=false is per consumer, true per channel.
        if ((f['prefetchSize'] as number) !== 0)
          throw notImplemented(`prefetch_size!=0 (${f['prefetchSize'] as number})`);
        return ch.qos(f['prefetchCount'] as number, f['global'] as boolean, () => this.reply(M.BasicQosOk));
      case M.BasicRecover:
      case M.BasicRecoverAsync:
        if (!(f['requeue'] as boolean)) throw notImplemented('requeue=false');
        return ch.recover(() => {
          if (id === M.BasicRecover) this.reply(M.BasicRecoverOk);
        });
      case M.ConfirmSelect:
        if (this.tx !== undefined)
          throw new BrokerError(ErrorCode.PRECONDITION_FAILED, 'cannot switch from tx to confirm mode');
        ch.selectConfirms();
        this.confirmSelected = true;
        if (!(f['nowait'] as boolean)) this.reply(M.ConfirmSelectOk);
        return;
      case M.TxSelect:
        if (this.confirmSelected)
          throw new BrokerError(ErrorCode.PRECONDITION_FAILED, 'cannot switch from confirm to tx mode');
        this.tx ??= [];
        return this.reply(M.TxSelectOk);
      case M.TxCommit:
        return this.commit();
      case M.TxRollback:
        if (this.tx === undefined) throw new BrokerError(ErrorCode.PRECONDITION_FAILED, 'channel is not transactional');
        this.tx = [];
        return this.reply(M.TxRollbackOk);
      case M.ChannelFlow:
        // As RabbitMQ 3.x: a client may not stop the broker's deliveries with channel.flow.
        if (!(f['active'] as boolean)) throw notImplemented('active=false');
        return this.reply(M.ChannelFlowOk, { active: true });
      case M.ChannelFlowOk:
        return;
      case M.ExchangeDeclare:
        topology.declareExchange(ch, {
          exchange: f['exchange'] as string,
          exchangeType: f['type'] as string,
          passive: f['passive'] as boolean,
          durable: f['durable'] as boolean,
          autoDelete: f['autoDelete'] as boolean,
          internal: f['internal'] as boolean,
          arguments: table(f['arguments']),
        });
        return this.ok(f, M.ExchangeDeclareOk);
      case M.ExchangeDelete:
        topology.deleteExchange(ch, f['exchange'] as string, f['ifUnused'] as boolean);
        return this.ok(f, M.ExchangeDeleteOk);
      case M.ExchangeBind:
      case M.ExchangeUnbind: {
        const bind = id === M.ExchangeBind;
        topology.bindExchange(
          ch,
          bind,
          f['destination'] as string,
          f['source'] as string,
          f['routingKey'] as string,
          table(f['arguments']),
        );
        return this.ok(f, bind ? M.ExchangeBindOk : M.ExchangeUnbindOk);
      }
      case M.QueueDeclare: {
        const ok = topology.declareQueue(ch, {
          queue: f['queue'] as string,
          passive: f['passive'] as boolean,
          durable: f['durable'] as boolean,
          exclusive: f['exclusive'] as boolean,
          autoDelete: f['autoDelete'] as boolean,
          arguments: table(f['arguments']),
        });
        const { stored, ...fields } = ok;
        if (stored === undefined) return this.ok(f, M.QueueDeclareOk, fields);
        return void stored.then(
          () => {
            if (this.ch.state === 'open') this.ok(f, M.QueueDeclareOk, fields);
          },
          (err: BrokerError) => {
            if (this.ch.state === 'open') this.ch.conn.failChannel(this.ch, err, M.QueueDeclare);
          },
        );
      }
      case M.QueueBind:
      case M.QueueUnbind: {
        const bind = id === M.QueueBind;
        topology.bindQueue(
          ch,
          bind,
          f['queue'] as string,
          f['exchange'] as string,
          f['routingKey'] as string,
          table(f['arguments']),
        );
        // queue.unbind has no nowait.
        return bind ? this.ok(f, M.QueueBindOk) : this.reply(M.QueueUnbindOk);
      }
      case M.QueuePurge:
        return this.ok(f, M.QueuePurgeOk, { messageCount: topology.purgeQueue(ch, f['queue'] as string) });
      case M.QueueDelete:
        return this.ok(f, M.QueueDeleteOk, {
          messageCount: topology.deleteQueue(
            ch,
            f['queue'] as string,
            f['ifUnused'] as boolean,
            f['ifEmpty'] as boolean,
          ),
        });
      default:
        // A server-to-client method (basic.deliver ...) sent by a client: RabbitMQ's words.
        throw new BrokerError(ErrorCode.COMMAND_INVALID, 'unimplemented method');
    }
  }

  private ok(f: MethodFields, methodId: number, fields: MethodFields = {}): void {
    if (!(f['nowait'] as boolean)) this.reply(methodId, fields);
  }

  /** The whole content arrived: publish it, or hold it for the transaction. */
  published(c: PendingContent): void {
    const content = c.chunks.length === 1 ? c.chunks[0]! : Buffer.concat(c.chunks, c.size);
    if (this.tx !== undefined) {
      // Held past this turn: copied out of the socket's read buffer.
      this.tx.push({
        kind: 'publish',
        exchange: c.exchange,
        routingKey: c.routingKey,
        mandatory: c.mandatory,
        properties: c.properties,
        content: c.chunks.length === 1 ? Buffer.from(content) : content,
      });
      return;
    }
    this.ch.publish(c.exchange, c.routingKey, c.mandatory, c.properties, content);
  }

  /** tx.commit: the held publishes and acknowledgements, in order, then commit-ok. */
  private commit(): void {
    if (this.tx === undefined) throw new BrokerError(ErrorCode.PRECONDITION_FAILED, 'channel is not transactional');
    const ops = this.tx;
    this.tx = [];
    for (const op of ops) {
      if (op.kind === 'publish') this.ch.publish(op.exchange, op.routingKey, op.mandatory, op.properties, op.content);
      else if (op.kind === 'ack') this.ch.ack(op.tag, op.multiple);
      else this.ch.nack(op.tag, op.multiple, op.requeue, 0);
    }
    this.reply(M.TxCommitOk);
  }
}

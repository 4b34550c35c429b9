/**
 * A LinkClient over amqplib, for amqp:// and amqps:// URIs: any AMQP 0-9-1 broker
 * (RabbitMQ, or Switchyard's own AMQP listener). amqplib rather than a client of our own:
 * it is the maintained Node client RabbitMQ itself documents.
 */
import type { ChannelModel, Channel, ConfirmChannel } from 'amqplib';
import type { LinkClient, LinkMessage, LinkProperties } from './link-client.js';
import type { LinkUri } from './link-uri.js';

/** Connects with the URI as given (amqplib reads credentials and vhost from it). */
export async function connectAmqp(uri: LinkUri, connectionName: string): Promise<LinkClient> {
  // amqplib is loaded by the first amqp:// link, not at every start-up.
  const { default: amqp } = await import('amqplib');
  const conn = await amqp.connect(uri.raw, { clientProperties: { connection_name: connectionName }, timeout: 10_000 });
  return new AmqpLinkClient(conn);
}

class AmqpLinkClient implements LinkClient {
  readonly lost: Promise<Error>;
  readonly serverName: string | undefined;
  // promises, not channels: concurrent first calls must share one channel (one order, no leak)
  private control: Promise<Channel> | undefined;
  private publisher: Promise<ConfirmChannel> | undefined;

  constructor(private readonly conn: ChannelModel) {
    const props = (conn.connection as unknown as { serverProperties?: Record<string, unknown> }).serverProperties;
    const name = props?.['cluster_name'];
    this.serverName = typeof name === 'string' ? name : undefined;
    this.lost = new Promise((resolve) => {
      // amqplib emits 'error' before 'close'; an unhandled 'error' would crash the broker
      conn.on('error', (err: Error) => resolve(err));
      conn.on('close', (err?: Error) => resolve(err ?? new Error('connection closed')));
    });
  }

  private guard<T extends Channel>(ch: T): T {
    ch.on('error', () => void this.close());
    return ch;
  }

  private ctl(): Promise<Channel> {
    this.control ??= this.conn.createChannel().then((ch) => this.guard(ch));
    return this.control;
  }

  async checkQueue(queue: string): Promise<number> {
    const ch = await this.conn.createChannel();
    ch.on('error', () => undefined);
    const r = await ch.checkQueue(queue);
    await ch.close().catch(() => undefined);
    return r.messageCount;
  }

  async checkExchange(exchange: string): Promise<void> {
    const ch = await this.conn.createChannel();
    ch.on('error', () => undefined);
    await ch.checkExchange(exchange);
    await ch.close().catch(() => undefined);
  }

  async declareQueue(
    name: string,
    o: { exclusive: boolean; durable: boolean; arguments?: Record<string, unknown> },
  ): Promise<string> {
    const r = await (
      await this.ctl()
    ).assertQueue(name, { exclusive: o.exclusive, durable: o.durable, arguments: o.arguments });
    return r.queue;
  }

  async bindQueue(queue: string, exchange: string, key: string, args?: Record<string, unknown>): Promise<void> {
    await (await this.ctl()).bindQueue(queue, exchange, key, args);
  }

  async unbindQueue(queue: string, exchange: string, key: string, args?: Record<string, unknown>): Promise<void> {
    await (await this.ctl()).unbindQueue(queue, exchange, key, args);
  }

  async consume(queue: string, prefetch: number, noAck: boolean, onMessage: (m: LinkMessage) => void): Promise<void> {
    const ch = this.guard(await this.conn.createChannel());
    await ch.prefetch(prefetch);
    await ch.consume(
      queue,
      (msg) => {
        if (msg === null) {
          void this.close(); // cancelled by the broker (queue deleted)
          return;
        }
        const { deliveryMode, ...p } = msg.properties as unknown as Record<string, unknown>;
        const properties = Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as LinkProperties;
        if (deliveryMode !== undefined) properties.persistent = deliveryMode === 2;
        onMessage({
          content: msg.content,
          properties,
          exchange: msg.fields.exchange,
          routingKey: msg.fields.routingKey,
          redelivered: msg.fields.redelivered,
          ack: (multiple = false) => {
            if (noAck) return;
            try {
              ch.ack(msg, multiple);
            } catch {
              // the channel closed meanwhile: the source requeued the message, the run is ending
            }
          },
        });
      },
      { noAck },
    );
  }

  async publish(exchange: string, routingKey: string, content: Buffer, p: LinkProperties): Promise<void> {
    this.publisher ??= this.conn.createConfirmChannel().then((ch) => this.guard(ch));
    const ch = await this.publisher;
    await new Promise<void>((resolve, reject) => {
      ch.publish(exchange, routingKey, content, p, (err: unknown) =>
        err ? reject(err instanceof Error ? err : new Error('the destination refused (nack) the message')) : resolve(),
      );
    });
  }

  async close(): Promise<void> {
    await this.conn.close().catch(() => undefined);
  }
}

/** A LinkClient over our own SDK, for ws:// and wss:// URIs. */
import { connect, type Channel, type Connection } from '@switchyard/client';
import type { LinkClient, LinkMessage, LinkProperties } from './link-client.js';
import type { LinkUri } from './link-uri.js';

/** Connects with the URI's credentials and vhost; the SDK's own recovery stays off (the link restarts itself). */
export async function connectWs(uri: LinkUri, connectionName: string): Promise<LinkClient> {
  const u = new URL(uri.raw);
  const conn = await connect(`${u.protocol}//${u.host}`, {
    username: uri.username,
    password: uri.password,
    vhost: uri.vhost,
    reconnect: false,
    heartbeatMs: 10_000,
    clientProperties: { connection_name: connectionName },
  });
  return new WsLinkClient(conn);
}

class WsLinkClient implements LinkClient {
  readonly lost: Promise<Error>;
  readonly serverName: string | undefined;
  private consumeCh: Channel<Buffer> | undefined;
  // promises, not channels: concurrent first calls must share one channel (one order, no leak)
  private publishCh: Promise<Channel<Buffer>> | undefined;
  private controlCh: Promise<Channel<Buffer>> | undefined;

  constructor(private readonly conn: Connection<Buffer>) {
    const name = conn.serverProperties['cluster_name'];
    this.serverName = typeof name === 'string' ? name : undefined;
    this.lost = new Promise((resolve) => {
      conn.on('error', (err) => resolve(err));
      conn.on('close', (err) => resolve(err ?? new Error('connection closed')));
    });
  }

  // A channel error (404 ...) closes the channel; the link treats it as the link failing.
  private async channel(): Promise<Channel<Buffer>> {
    const ch = await this.conn.createChannel();
    ch.on('error', () => void this.conn.close().catch(() => undefined));
    return ch;
  }

  private control(): Promise<Channel<Buffer>> {
    this.controlCh ??= this.channel();
    return this.controlCh;
  }

  async checkQueue(queue: string): Promise<number> {
    // a failed check closes the channel, so each check gets a fresh one
    const ch = await this.conn.createChannel();
    ch.on('error', () => undefined);
    const info = await ch.checkQueue(queue);
    await ch.close().catch(() => undefined);
    return info.messageCount;
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
    const ch = await this.control();
    const r = await ch.assertQueue(name, {
      exclusive: o.exclusive,
      durable: o.durable,
      arguments: o.arguments as never,
    });
    return r.queue;
  }

  async bindQueue(queue: string, exchange: string, key: string, args?: Record<string, unknown>): Promise<void> {
    await (await this.control()).bindQueue(queue, exchange, key, args);
  }

  async unbindQueue(queue: string, exchange: string, key: string, args?: Record<string, unknown>): Promise<void> {
    await (await this.control()).unbindQueue(queue, exchange, key, args);
  }

  async consume(queue: string, prefetch: number, noAck: boolean, onMessage: (m: LinkMessage) => void): Promise<void> {
    const ch = (this.consumeCh = await this.channel());
    await ch.prefetch(prefetch);
    await ch.consume(
      queue,
      (msg) => {
        if (msg === null) {
          void this.conn.close().catch(() => undefined); // cancelled by the broker (queue deleted)
          return;
        }
        onMessage({
          content: msg.content,
          properties: msg.properties,
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
    this.publishCh ??= this.channel();
    await (await this.publishCh).publish(exchange, routingKey, content, p);
  }

  async close(): Promise<void> {
    await this.conn.close().catch(() => undefined);
  }
}

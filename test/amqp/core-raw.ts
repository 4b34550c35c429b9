import { connect, type Socket } from 'node:net';
import { amqpCodec as codec } from '@switchyard/broker/internal';

/** One AMQP frame as read off the socket; method frames decoded. */
export interface RawFrame {
  type: number;
  channel: number;
  payload: Buffer;
  method?: number;
  fields?: Record<string, unknown>;
}

export const PROTOCOL_HEADER = Buffer.from('AMQP\x00\x00\x09\x01', 'latin1');

/**
 * A hand-driven AMQP 0-9-1 client on a real socket, for what no well-behaved client sends:
 * bad headers, oversized frames, content without a header ... Frames from the broker are
 * decoded with the broker's own codec module (amqplib's generated defs).
 */
export class RawAmqp {
  readonly frames: RawFrame[] = [];
  raw = Buffer.alloc(0);
  closed = false;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.raw = Buffer.concat([this.raw, d]);
      this.parse();
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static async open(url: string): Promise<RawAmqp> {
    const u = new URL(url);
    const socket = connect(Number(u.port), u.hostname);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawAmqp(socket);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private parse(): void {
    // Instead of frames, the broker may answer a bad header with its own protocol header.
    if (this.raw.length >= 4 && this.raw.subarray(0, 4).toString('latin1') === 'AMQP') return;
    while (this.raw.length >= 8) {
      const size = this.raw.readUInt32BE(3);
      if (this.raw.length < size + 8) return;
      const f: RawFrame = {
        type: this.raw[0]!,
        channel: this.raw.readUInt16BE(1),
        payload: this.raw.subarray(7, 7 + size),
      };
      if (f.type === codec.FRAME_METHOD) {
        f.method = f.payload.readUInt32BE(0);
        f.fields = codec.decodeMethod(f.method, f.payload.subarray(4));
      }
      this.frames.push(f);
      this.raw = this.raw.subarray(size + 8);
    }
  }

  private tick(): Promise<void> {
    return new Promise<void>((r) => {
      this.waiters.push(r);
      setTimeout(r, 50);
    });
  }

  /** Waits until the broker closes the socket. */
  async untilClosed(ms = 5_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('socket still open');
      await this.tick();
    }
  }

  /** The next method frame with this id (earlier frames are skipped). */
  async next(method: number, ms = 5_000): Promise<RawFrame> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.frames.findIndex((f) => f.method === method);
      if (i >= 0) return this.frames.splice(0, i + 1)[i]!;
      if (this.closed || Date.now() > deadline) {
        const got = this.frames.map((f) => (f.method === undefined ? `type ${f.type}` : codec.methodName(f.method)));
        throw new Error(`no ${codec.methodName(method)}; got ${got.join(', ') || 'nothing'}`);
      }
      await this.tick();
    }
  }

  send(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  method(id: number, channel: number, fields: Record<string, unknown> = {}): void {
    this.send(codec.encodeMethod(id, channel, fields));
  }

  /** Header, start-ok (PLAIN guest/guest), tune-ok, open '/', then channel 1 open. */
  async handshake(tune: { heartbeat?: number; frameMax?: number } = {}): Promise<void> {
    await this.login(tune);
    this.method(codec.M.ConnectionOpen, 0, { virtualHost: '/', capabilities: '', insist: false });
    await this.next(codec.M.ConnectionOpenOk);
    this.method(codec.M.ChannelOpen, 1, { outOfBand: '' });
    await this.next(codec.M.ChannelOpenOk);
  }

  /** Header, start-ok (PLAIN guest/guest), tune-ok: connection.open is next. */
  async login(tune: { heartbeat?: number; frameMax?: number } = {}): Promise<void> {
    this.send(PROTOCOL_HEADER);
    await this.next(codec.M.ConnectionStart);
    this.method(codec.M.ConnectionStartOk, 0, {
      clientProperties: {},
      mechanism: 'PLAIN',
      response: Buffer.from('\0guest\0guest'),
      locale: 'en_US',
    });
    const t = await this.next(codec.M.ConnectionTune);
    this.method(codec.M.ConnectionTuneOk, 0, {
      channelMax: 0,
      frameMax: tune.frameMax ?? t.fields!['frameMax'],
      heartbeat: tune.heartbeat ?? 0,
    });
  }

  /** basic.publish with its content header and one body frame. */
  publish(channel: number, exchange: string, routingKey: string, body: Buffer, properties = {}): void {
    this.method(codec.M.BasicPublish, channel, { exchange, routingKey, mandatory: false, immediate: false });
    this.send(codec.encodeHeader(channel, body.length, properties));
    if (body.length > 0)
      this.send(Buffer.concat([codec.bodyFrameHeader(channel, body.length), body, codec.FRAME_END_BYTE]));
  }

  close(): void {
    this.socket.destroy();
  }
}

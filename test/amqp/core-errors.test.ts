import { expect } from 'chai';
import amqp from 'amqplib';
import { amqpCodec } from '@switchyard/broker/internal';
import { useBroker } from '../helpers/broker.js';
import { PROTOCOL_HEADER, RawAmqp } from './core-raw.js';

const M = amqpCodec.M;

describe('AMQP 0-9-1 errors: RabbitMQ reply codes and texts', function () {
  const fx = useBroker({ noSync: true }, { per: 'suite' });
  let conn: amqp.ChannelModel;
  let other: amqp.ChannelModel;
  const url = (): string => fx.tb.broker.amqpUrl!.replace('amqp://', 'amqp://guest:guest@');
  before(async () => {
    conn = await amqp.connect(url());
    other = await amqp.connect(url());
    conn.on('error', () => undefined);
  });
  after(async () => {
    await conn.close().catch(() => undefined);
    await other.close().catch(() => undefined);
  });

  /** Runs `fn` on a fresh channel; the channel error's message (amqplib puts code and text in it). */
  async function channelError(fn: (ch: amqp.Channel) => Promise<unknown>, on = conn): Promise<string> {
    const ch = await on.createChannel();
    const closed = new Promise<Error>((resolve) => ch.once('error', resolve));
    await fn(ch).catch(() => undefined);
    return (await closed).message;
  }

  const cases: [string, string, (ch: amqp.Channel) => Promise<unknown>][] = [
    [
      '404 no queue',
      `404 (NOT-FOUND) with message "NOT_FOUND - no queue 'nope' in vhost '/'"`,
      (ch) => ch.checkQueue('nope'),
    ],
    [
      '404 no exchange on publish',
      `404 (NOT-FOUND) with message "NOT_FOUND - no exchange 'nope' in vhost '/'"`,
      async (ch) => {
        ch.publish('nope', 'k', Buffer.from('x'));
        await ch.checkExchange('amq.direct');
      },
    ],
    [
      '406 inequivalent durable',
      `406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'err-q1' in vhost '/': received 'true' but current is 'false'"`,
      async (ch) => {
        await ch.assertQueue('err-q1', { durable: false });
        await ch.assertQueue('err-q1', { durable: true });
      },
    ],
    [
      '406 unknown delivery tag',
      `406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - unknown delivery tag 99"`,
      async (ch) => {
        ch.ack({ fields: { deliveryTag: 99 } } as amqp.Message);
        await ch.checkExchange('amq.direct');
      },
    ],
    [
      '403 reserved prefix',
      `403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - exchange name 'amq.foo' contains reserved prefix 'amq.*'"`,
      (ch) => ch.assertExchange('amq.foo', 'direct'),
    ],
    [
      '403 reserved queue prefix',
      `403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - queue name 'amq.mine' contains reserved prefix 'amq.*'"`,
      (ch) => ch.assertQueue('amq.mine'),
    ],
    [
      '406 delete if-empty',
      `406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - queue 'err-full' in vhost '/' not empty"`,
      async (ch) => {
        await ch.assertQueue('err-full');
        ch.sendToQueue('err-full', Buffer.from('x'));
        await ch.deleteQueue('err-full', { ifEmpty: true });
      },
    ],
    [
      '406 direct reply-to without its consumer',
      `406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - fast reply consumer does not exist"`,
      async (ch) => {
        ch.sendToQueue('anything', Buffer.from('x'), { replyTo: 'amq.rabbitmq.reply-to' });
        await ch.checkExchange('amq.direct');
      },
    ],
    [
      '406 message headers the other protocol could not carry (NaN)',
      `406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - invalid message headers: headers.bad: NaN is not a finite number"`,
      async (ch) => {
        ch.sendToQueue('anything', Buffer.from('x'), { headers: { bad: { '!': 'double', value: NaN } } });
        await ch.checkExchange('amq.direct');
      },
    ],
    [
      '406 arguments nested deeper than field tables may be',
      '406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - invalid field table: arguments',
      (ch) => {
        let deep: Record<string, unknown> = { leaf: 1 };
        for (let i = 0; i < 40; i++) deep = { d: deep };
        return ch.assertQueue('err-deep', { arguments: { 'x-deep': deep } });
      },
    ],
  ];
  for (const [name, expected, fn] of cases) {
    it(`${name}: closes the channel, the connection carries on`, async () => {
      expect(await channelError(fn)).to.contain(expected);
      const ch = await conn.createChannel();
      await ch.checkExchange('amq.direct');
      await ch.close();
    });
  }

  it('405 an exclusive queue of another connection', async () => {
    const ch = await conn.createChannel();
    await ch.assertQueue('err-excl', { exclusive: true });
    expect(await channelError((c) => c.checkQueue('err-excl'), other)).to.contain(
      `405 (RESOURCE-LOCKED) with message "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'err-excl' in vhost '/'.`,
    );
  });

  /** A raw connection that breaks the protocol; the broker's connection.close. */
  async function connectionClose(breakIt: (raw: RawAmqp) => void): Promise<Record<string, unknown>> {
    const raw = await RawAmqp.open(fx.tb.broker.amqpUrl!);
    try {
      await raw.handshake({ frameMax: 4096 });
      breakIt(raw);
      const close = await raw.next(M.ConnectionClose);
      raw.method(M.ConnectionCloseOk, 0);
      await raw.untilClosed();
      return close.fields!;
    } finally {
      raw.close();
    }
  }

  it('501 FRAME_ERROR: a frame over frame-max, a bad frame-end octet', async () => {
    const big = await connectionClose((raw) => raw.publish(1, '', 'q', Buffer.alloc(5000)));
    expect(big['replyCode']).to.equal(501);
    expect(big['replyText']).to.match(/^FRAME_ERROR - frame size \d+ exceeds the negotiated frame_max 4096/);
    const badEnd = await connectionClose((raw) => {
      const frame = amqpCodec.encodeMethod(M.BasicQos, 1, { prefetchSize: 0, prefetchCount: 1, global: false });
      frame[frame.length - 1] = 0;
      raw.send(frame);
    });
    expect(badEnd['replyCode']).to.equal(501);
  });

  it('505 UNEXPECTED_FRAME: content without a header, a method where content was due', async () => {
    const body = await connectionClose((raw) =>
      raw.send(Buffer.concat([amqpCodec.bodyFrameHeader(1, 3), Buffer.from('abc'), amqpCodec.FRAME_END_BYTE])),
    );
    expect(body['replyCode']).to.equal(505);
    expect(body['replyText']).to.match(/^UNEXPECTED_FRAME - /);
    const method = await connectionClose((raw) => {
      raw.method(M.BasicPublish, 1, { exchange: '', routingKey: 'q' });
      raw.method(M.BasicQos, 1, { prefetchSize: 0, prefetchCount: 1, global: false });
    });
    expect(method['replyCode']).to.equal(505);
  });

  it('504 CHANNEL_ERROR on a channel never opened; 540 NOT_IMPLEMENTED for an unknown method', async () => {
    const unopened = await connectionClose((raw) =>
      raw.method(M.BasicQos, 7, { prefetchSize: 0, prefetchCount: 1, global: false }),
    );
    expect(unopened).to.include({ replyCode: 504, replyText: "CHANNEL_ERROR - expected 'channel.open' on channel 7" });
    const unknown = await connectionClose((raw) => {
      const frame = amqpCodec.encodeMethod(M.BasicQos, 1, { prefetchSize: 0, prefetchCount: 1, global: false });
      frame.writeUInt16BE(99, 7); // class 99
      raw.send(frame);
    });
    expect(unknown['replyCode']).to.equal(540);
  });

  it("503 COMMAND_INVALID: an unknown exchange type, in RabbitMQ's words", async () => {
    const close = await connectionClose((raw) =>
      raw.method(M.ExchangeDeclare, 1, { exchange: 'err-x', type: 'weird', arguments: {} }),
    );
    expect(close).to.include({ replyCode: 503, replyText: "COMMAND_INVALID - unknown exchange type 'weird'" });
  });

  it('403 for a malformed or unsupported login, before tune', async () => {
    for (const [mechanism, response] of [
      ['AMQPLAIN', Buffer.from([5, 0x4c, 0xff, 0xff])],
      ['PLAIN', Buffer.from('no-nul-bytes')],
      ['EXTERNAL', Buffer.alloc(0)],
    ] as const) {
      const raw = await RawAmqp.open(fx.tb.broker.amqpUrl!);
      try {
        raw.send(PROTOCOL_HEADER);
        await raw.next(M.ConnectionStart);
        raw.method(M.ConnectionStartOk, 0, { clientProperties: {}, mechanism, response, locale: 'en_US' });
        const close = await raw.next(M.ConnectionClose);
        expect(close.fields!['replyCode'], mechanism).to.equal(403);
        await raw.untilClosed();
      } finally {
        raw.close();
      }
    }
  });

  it('a channel closed by both sides at once: the late close-ok is not an error', async () => {
    const raw = await RawAmqp.open(fx.tb.broker.amqpUrl!);
    try {
      await raw.handshake();
      raw.method(M.QueueDeclare, 1, { queue: 'nope', passive: true, arguments: {} }); // the broker closes channel 1 (404)
      raw.method(M.ChannelClose, 1, { replyCode: 200, replyText: 'bye', classId: 0, methodId: 0 }); // and so does the client
      await raw.next(M.ChannelClose);
      await raw.next(M.ChannelCloseOk);
      raw.method(M.ChannelCloseOk, 1); // the client's answer to the broker's close, after the channel is gone
      raw.method(M.ChannelOpen, 1, { outOfBand: '' });
      await raw.next(M.ChannelOpenOk);
      expect(raw.frames.some((f) => f.method === M.ConnectionClose)).to.equal(false);
    } finally {
      raw.close();
    }
  });

  it('never crashes: garbage after the header closes only that connection', async () => {
    const raw = await RawAmqp.open(fx.tb.broker.amqpUrl!);
    await raw.handshake();
    raw.send(Buffer.from([1, 0, 1, 0, 0, 0, 2, 0xff, 0xff, 0xce, 9, 9, 9]));
    await raw.untilClosed();
    const ch = await conn.createChannel();
    await ch.checkExchange('amq.direct');
  });
});

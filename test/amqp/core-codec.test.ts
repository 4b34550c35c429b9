import { expect } from 'chai';
import type { MessageProperties } from '@switchyard/client/protocol';
import { amqpCodec, amqpFastCodec } from '@switchyard/broker/internal';

const M = amqpCodec.M;

/** A frame's payload (after the 7-byte frame header, before frame-end), checking both ends. */
function payload(frame: Buffer, type: number): Buffer {
  expect(frame[0]).to.equal(type);
  const size = frame.readUInt32BE(3);
  expect(frame.length).to.equal(size + 8);
  expect(frame[frame.length - 1]).to.equal(0xce);
  return frame.subarray(7, 7 + size);
}

describe('AMQP fast codec: the same bytes amqplib decodes', () => {
  it('basic.deliver, with multi-byte strings and 53-bit delivery tags', () => {
    for (const [tag, ct, ex, rk] of [
      [1, 'amq.ctag-x', '', 'q'],
      [2 ** 40 + 7, 'tägé', 'ëx', 'routing.ключ'],
      [Number.MAX_SAFE_INTEGER, 'c'.repeat(255), 'e'.repeat(255), 'r'.repeat(255)],
    ] as const) {
      const frame = amqpFastCodec.encodeDeliver(3, ct, tag, true, ex, rk);
      expect(frame.readUInt16BE(1)).to.equal(3);
      const p = payload(frame, amqpCodec.FRAME_METHOD);
      expect(p.readUInt32BE(0)).to.equal(M.BasicDeliver);
      expect(amqpCodec.decodeMethod(M.BasicDeliver, p.subarray(4))).to.deep.equal({
        consumerTag: ct,
        deliveryTag: tag,
        redelivered: true,
        exchange: ex,
        routingKey: rk,
      });
    }
  });

  it('content headers: every property, none, and tables larger than the scratch buffer', () => {
    const all = {
      contentType: 'text/plain',
      contentEncoding: 'gzip',
      headers: { a: 1, s: 'x', b: new Uint8Array([1, 2]), l: [1, 'two'], n: { deep: true }, v: null },
      persistent: true,
      priority: 9,
      correlationId: 'c',
      replyTo: 'r',
      expiration: '1000',
      messageId: 'm',
      timestamp: 1_700_000_000_123,
      type: 't',
      userId: 'u',
      appId: 'a',
    };
    const big = { headers: { blob: 'x'.repeat(200_000) }, persistent: false };
    for (const props of [all, null, {}, big] as (MessageProperties | null)[]) {
      const frame = amqpFastCodec.encodeContentHeader(5, 2 ** 33 + 1, props);
      const p = payload(frame, amqpCodec.FRAME_HEADER);
      expect(p.readUInt16BE(0)).to.equal(60);
      expect(Number(p.readBigUInt64BE(4))).to.equal(2 ** 33 + 1);
      const decoded = amqpCodec.fromAmqpProperties(amqpCodec.decodeProperties(p.subarray(12)));
      const expected = props === null || Object.keys(props).length === 0 ? null : props;
      const bytes = expected?.headers?.['b'];
      if (bytes !== undefined) {
        expect(Buffer.from(decoded!.headers!['b'] as Uint8Array)).to.deep.equal(Buffer.from([1, 2]));
        decoded!.headers!['b'] = bytes;
      }
      expect(decoded).to.deep.equal(expected);
    }
  });
});

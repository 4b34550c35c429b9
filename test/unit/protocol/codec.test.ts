import { expect } from 'chai';
import {
  ErrorCode,
  FRAME_HEADER_BYTES,
  FRAME_SCHEMAS,
  ProtocolError,
  decodeAll,
  encodeFrame,
  encodeFrames,
  BATCH_TARGET_BYTES,
  FrameBatch,
  type Frame,
} from '@switchyard/client/protocol';

function expectProtocolError(fn: () => unknown, code: number, pattern: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(ProtocolError);
    expect((err as ProtocolError).code).to.equal(code);
    expect((err as Error).message).to.match(pattern);
    return;
  }
  expect.fail('expected a ProtocolError');
}

describe('protocol codec', () => {
  describe('#encodeFrame / #decodeAll', () => {
    it('round-trips a publish with properties and a binary body', () => {
      const content = new Uint8Array([0, 1, 2, 255]);
      const frame: Frame = {
        type: 'publish',
        channel: 7,
        exchange: 'orders',
        routingKey: 'orders.created.eu',
        mandatory: true,
        properties: { persistent: true, headers: { tenant: 'a', n: 3 }, messageId: 'm-1', expiration: '5000' },
        content,
      };
      const [decoded] = decodeAll(encodeFrame(frame));
      expect(decoded).to.deep.include({
        type: 'publish',
        channel: 7,
        exchange: 'orders',
        routingKey: 'orders.created.eu',
        mandatory: true,
      });
      expect(decoded!.type === 'publish' && decoded!.properties).to.deep.equal(frame.properties);
      expect(Array.from((decoded as { content: Uint8Array }).content)).to.deep.equal([0, 1, 2, 255]);
    });

    it('round-trips every frame type with default field values', () => {
      for (const name of Object.keys(FRAME_SCHEMAS)) {
        const [decoded] = decodeAll(encodeFrame({ type: name, channel: 1 } as Frame));
        expect(decoded!.type).to.equal(name);
        expect(decoded!.channel).to.equal(1);
      }
    });

    it('decodes several frames batched in one message, in order', () => {
      const bytes = encodeFrames([
        { type: 'ack', channel: 1, deliveryTag: 1, multiple: false },
        { type: 'ack', channel: 1, deliveryTag: 2, multiple: true },
        { type: 'heartbeat', channel: 0 },
      ]);
      const frames = decodeAll(bytes);
      expect(frames.map((f) => f.type)).to.deep.equal(['ack', 'ack', 'heartbeat']);
      expect(frames[1]).to.deep.include({ deliveryTag: 2, multiple: true });
    });

    it('FrameBatch: frames written in place survive growth, and each finished batch stands alone', () => {
      const batch = new FrameBatch();
      const body = (n: number, fill: number) => new Uint8Array(n).fill(fill);
      const deliver = (tag: number, content: Uint8Array): Frame => ({
        type: 'deliver',
        channel: 3,
        consumerTag: 'c',
        deliveryTag: tag,
        redelivered: false,
        deliveryCount: 1,
        exchange: '',
        routingKey: 'q',
        properties: { headers: { n: tag } },
        content,
      });
      for (let tag = 1; tag <= 50; tag++) batch.add(deliver(tag, body(1000, tag))); // grows several times
      expect(batch.frameCount).to.equal(50);
      const first = batch.finish();
      expect(batch.frameCount).to.equal(0);
      expect(batch.byteLength).to.equal(0);
      batch.add({ type: 'heartbeat', channel: 0 });
      const second = batch.finish();
      const big = body(BATCH_TARGET_BYTES + 10, 7);
      batch.add(deliver(51, big));
      const third = batch.finish();
      // The next batch's writes must not land in buffers handed out before.
      const a = decodeAll(first);
      expect(a).to.have.length(50);
      a.forEach((f, i) => {
        expect(f).to.deep.include({ deliveryTag: i + 1, properties: { headers: { n: i + 1 } } });
        expect((f as { content: Uint8Array }).content).to.deep.equal(body(1000, i + 1));
      });
      expect(decodeAll(second).map((f) => f.type)).to.deep.equal(['heartbeat']);
      const [c] = decodeAll(third);
      expect((c as { content: Uint8Array }).content.length).to.equal(big.length);
      expect(third.buffer.byteLength).to.equal(third.byteLength); // a large frame gets exactly its room
    });

    it('hands out the body as a view of the input, not a copy', () => {
      const bytes = encodeFrame({
        type: 'publish',
        channel: 1,
        exchange: '',
        routingKey: 'q',
        mandatory: false,
        properties: null,
        content: new Uint8Array(100).fill(9),
      });
      const [f] = decodeAll(bytes);
      const content = (f as { content: Uint8Array }).content;
      expect(content.buffer).to.equal(bytes.buffer);
      expect(content.length).to.equal(100);
    });

    it('lays out the header as size, type, channel, fields size (big-endian)', () => {
      const bytes = encodeFrame({ type: 'heartbeat', channel: 258 });
      const view = new DataView(bytes.buffer);
      expect(view.getUint32(0)).to.equal(bytes.length - 4);
      expect(view.getUint8(4)).to.equal(FRAME_SCHEMAS.heartbeat.code);
      expect(view.getUint16(5)).to.equal(258);
      expect(view.getUint32(7)).to.equal(bytes.length - FRAME_HEADER_BYTES);
    });
  });

  describe('malformed input', () => {
    it('rejects an empty message', () => {
      expectProtocolError(() => decodeAll(new Uint8Array(0)), ErrorCode.FRAME_ERROR, /empty message/);
    });

    it('rejects a truncated header', () => {
      expectProtocolError(() => decodeAll(new Uint8Array(5)), ErrorCode.FRAME_ERROR, /truncated frame header/);
    });

    it('rejects a size running past the message', () => {
      const bytes = encodeFrame({ type: 'heartbeat', channel: 0 });
      new DataView(bytes.buffer).setUint32(0, 1000);
      expectProtocolError(() => decodeAll(bytes), ErrorCode.FRAME_ERROR, /truncated frame/);
    });

    it('rejects an unknown frame type, naming it', () => {
      const bytes = encodeFrame({ type: 'heartbeat', channel: 0 });
      bytes[4] = 0xee;
      expectProtocolError(() => decodeAll(bytes), ErrorCode.FRAME_ERROR, /unknown frame type 0xee/);
    });

    it('rejects a frame over the size limit', () => {
      const bytes = encodeFrame({
        type: 'publish',
        channel: 1,
        exchange: '',
        routingKey: 'q',
        mandatory: false,
        properties: null,
        content: new Uint8Array(2000),
      });
      expectProtocolError(() => decodeAll(bytes, 1000), ErrorCode.FRAME_ERROR, /exceeds the limit of 1000 bytes/);
    });

    it('rejects a field of the wrong type, naming frame and field', () => {
      const bytes = encodeFrame({ type: 'ack', channel: 1, deliveryTag: 'x' as unknown as number, multiple: false });
      expectProtocolError(
        () => decodeAll(bytes),
        ErrorCode.SYNTAX_ERROR,
        /ack frame field "deliveryTag": expected an integer/,
      );
    });

    it('rejects an unknown message property', () => {
      const bytes = encodeFrame({
        type: 'publish',
        channel: 1,
        exchange: '',
        routingKey: 'q',
        mandatory: false,
        properties: { bogus: 1 } as never,
        content: new Uint8Array(1),
      });
      expectProtocolError(() => decodeAll(bytes), ErrorCode.SYNTAX_ERROR, /unknown message property "bogus"/);
    });

    it('rejects a property of the wrong type', () => {
      const bytes = encodeFrame({
        type: 'publish',
        channel: 1,
        exchange: '',
        routingKey: 'q',
        mandatory: false,
        properties: { expiration: 5 } as never,
        content: new Uint8Array(1),
      });
      expectProtocolError(() => decodeAll(bytes), ErrorCode.SYNTAX_ERROR, /"expiration" must be a string/);
    });

    it('rejects fields that are not msgpack', () => {
      const bytes = encodeFrame({ type: 'ack', channel: 1, deliveryTag: 1, multiple: false });
      bytes[FRAME_HEADER_BYTES] = 0xc1; // never-used msgpack byte
      expectProtocolError(() => decodeAll(bytes), ErrorCode.SYNTAX_ERROR, /not valid msgpack|expected an array/);
    });

    it('rejects trailing bytes after the fields of a frame without content', () => {
      const good = encodeFrame({ type: 'heartbeat', channel: 0 });
      const bad = new Uint8Array(good.length + 2);
      bad.set(good);
      const view = new DataView(bad.buffer);
      view.setUint32(0, view.getUint32(0) + 2);
      expectProtocolError(() => decodeAll(bad), ErrorCode.FRAME_ERROR, /unexpected bytes/);
    });
  });
});

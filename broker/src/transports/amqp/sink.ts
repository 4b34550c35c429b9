import type { MessageProperties } from '@switchyard/client/protocol';
import type { SessionSink } from '../../server/session-sink.js';
import { rabbitText } from './reply-text.js';
import { BrokerError, ErrorCode } from '@switchyard/client/protocol';
import { bodyFrameHeader, encodeMethod, FRAME_END_BYTE, M } from './codec.js';
import { encodeContentHeader, encodeDeliver } from './fast-codec.js';

/** Where the sink's frames go: the connection's outbox, written once per event-loop turn. */
export interface AmqpOutput {
  write(frame: Uint8Array): void;
  /** Negotiated frame-max: content bodies are split into frames of at most this size. */
  readonly frameMax: number;
  /** What the client advertised in its capabilities table (consumer_cancel_notify ...). */
  hasCapability(name: string): boolean;
  /** The channel is open on the AMQP side (not closing): events for others are dropped. */
  channelOpen(channel: number): boolean;
  /** A delivery could not be encoded: the connection is closed soon, outside the caller's stack. */
  fail(err: BrokerError): void;
}

/**
 * Writes a content-bearing method: the method frame, the content header, then the body in
 * frames of at most frame-max (AMQP 0-9-1 §4.2.6). Body bytes are not copied here: the outbox
 * concatenates the turn's frames once.
 */
export function writeContent(
  out: AmqpOutput,
  channel: number,
  method: Buffer,
  properties: MessageProperties | null,
  content: Uint8Array,
): void {
  const header = encodeContentHeader(channel, content.length, properties);
  if (header.length > out.frameMax) {
    // AMQP has no continuation for content headers: such a message cannot reach this client.
    throw new BrokerError(
      ErrorCode.FRAME_ERROR,
      `a message's properties take ${header.length} bytes, more than the negotiated frame_max ${out.frameMax}: connect with a larger frame_max`,
    );
  }
  out.write(method);
  out.write(header);
  const max = out.frameMax - 8;
  for (let off = 0; off < content.length; off += max) {
    const n = Math.min(max, content.length - off);
    out.write(bodyFrameHeader(channel, n));
    out.write(content.subarray(off, off + n));
    out.write(FRAME_END_BYTE);
  }
}

/**
 * A session's outbound events as AMQP 0-9-1 frames: basic.deliver, basic.ack/nack (publisher
 * confirms), basic.return, basic.cancel, channel.close, connection.blocked/unblocked.
 * spec/amqp.md §Supported.
 */
export class AmqpSink implements SessionSink {
  constructor(private readonly out: AmqpOutput) {}

  deliver(
    channel: number,
    consumerTag: string,
    deliveryTag: number,
    redelivered: boolean,
    _deliveryCount: number,
    exchange: string,
    routingKey: string,
    properties: MessageProperties | null,
    content: Uint8Array,
  ): void {
    try {
      const method = encodeDeliver(channel, consumerTag, deliveryTag, redelivered, exchange, routingKey);
      writeContent(this.out, channel, method, properties, content);
    } catch (err) {
      // Called from a queue's dispatch: never throw into it. The delivery is requeued with the connection.
      this.out.fail(asBrokerError(err));
    }
  }

  publishAcked(channel: number, seqNo: number, multiple: boolean): void {
    if (!this.out.channelOpen(channel)) return;
    this.out.write(encodeMethod(M.BasicAck, channel, { deliveryTag: seqNo, multiple }));
  }

  publishNacked(channel: number, seqNo: number, multiple: boolean): void {
    if (!this.out.channelOpen(channel)) return;
    this.out.write(encodeMethod(M.BasicNack, channel, { deliveryTag: seqNo, multiple, requeue: false }));
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
    try {
      const method = encodeMethod(M.BasicReturn, channel, { replyCode, replyText, exchange, routingKey });
      writeContent(this.out, channel, method, properties, content);
    } catch (err) {
      this.out.fail(asBrokerError(err));
    }
  }

  /** Only to a client that said it understands it (capability consumer_cancel_notify), as RabbitMQ. */
  consumerCancelled(channel: number, consumerTag: string): void {
    if (!this.out.hasCapability('consumer_cancel_notify') || !this.out.channelOpen(channel)) return;
    this.out.write(encodeMethod(M.BasicCancel, channel, { consumerTag, nowait: true }));
  }

  /** AMQP 0-9-1 has no single-active-consumer notification (RabbitMQ sends none either). */
  consumerActive(): void {}

  /** `ref` is the failed method's id ((class << 16) | method), 0 when none. */
  channelClosed(channel: number, code: number, message: string, ref: number): void {
    this.out.write(
      encodeMethod(M.ChannelClose, channel, {
        replyCode: code,
        replyText: shortText(rabbitText(message)),
        classId: ref >>> 16,
        methodId: ref & 0xffff,
      }),
    );
  }

  blocked(reason: string): void {
    if (!this.out.hasCapability('connection.blocked')) return;
    this.out.write(encodeMethod(M.ConnectionBlocked, 0, { reason: shortText(reason) }));
  }

  unblocked(): void {
    if (!this.out.hasCapability('connection.blocked')) return;
    this.out.write(encodeMethod(M.ConnectionUnblocked, 0, {}));
  }
}

function asBrokerError(err: unknown): BrokerError {
  return err instanceof BrokerError
    ? err
    : new BrokerError(ErrorCode.INTERNAL_ERROR, `cannot encode a delivery: ${(err as Error).message}`);
}

/** A reply text is a shortstr: at most 255 bytes of UTF-8. */
export function shortText(s: string): string {
  if (Buffer.byteLength(s) <= 255) return s;
  let cut = s.slice(0, 255);
  while (Buffer.byteLength(cut) > 255) cut = cut.slice(0, -1);
  return cut;
}

import { expect } from 'chai';
import { BrokerError, ErrorCode } from '@switchyard/client/protocol';
import {
  brokerInternals,
  ServerChannel,
  topology,
  type ChannelOwner,
  type ChannelSink,
} from '@switchyard/broker/internal';
import { startBroker, type TestBroker } from '../../helpers/broker.js';
import { waitFor } from '../../helpers/client.js';

/**
 * The session layer without our frames: what a second wire protocol (AMQP 0-9-1) drives.
 * A channel is called with plain arguments and reports through a ChannelSink.
 */
describe('protocol-independent channel API', () => {
  let tb: TestBroker;
  beforeEach(async () => {
    tb = await startBroker({ noSync: true, managementPort: false });
  });
  afterEach(async () => {
    await tb.stop();
  });

  function channel(events: unknown[][]): ServerChannel {
    const rt = brokerInternals(tb.broker);
    const record =
      (name: string) =>
      (...args: unknown[]) =>
        void events.push([name, ...args]);
    const sink: ChannelSink = {
      deliver: record('deliver'),
      publishAcked: record('publishAcked'),
      publishNacked: record('publishNacked'),
      returned: record('returned'),
      consumerCancelled: record('consumerCancelled'),
      consumerActive: record('consumerActive'),
    };
    const owner: ChannelOwner = {
      id: 'in-process',
      user: 'guest',
      services: rt,
      vhost: rt.vhost('/')!,
      access: rt.permissionsOf('guest', '/')!,
      backpressured: false,
      sink,
      notePublish: () => undefined,
      failChannel: record('failChannel'),
    };
    return new ServerChannel(owner, 1);
  }

  it('declares, publishes with confirms and returns, consumes (consume-ok first) and acks', async () => {
    const events: unknown[][] = [];
    const ch = channel(events);
    const declared = topology.declareQueue(ch, {
      queue: 'jobs',
      passive: false,
      durable: true,
      exclusive: false,
      autoDelete: false,
      arguments: {},
    });
    expect(declared).to.deep.equal({ queue: 'jobs', messageCount: 0, consumerCount: 0 });
    ch.publish('', 'jobs', false, { persistent: true }, Buffer.from('one'));
    ch.publish('', 'nowhere', true, null, Buffer.from('lost'));
    expect(events.map((e) => e[0])).to.deep.equal(['returned']);
    expect(events[0]!.slice(1, 5)).to.deep.equal([1, ErrorCode.NO_ROUTE, 'NO_ROUTE', '']);
    await waitFor(() => events.some((e) => e[0] === 'publishAcked'), 'the confirm');
    expect(events.find((e) => e[0] === 'publishAcked')).to.deep.equal(['publishAcked', 1, 2, true]);

    events.length = 0;
    ch.consume(
      { queue: 'jobs', consumerTag: 'c1', noAck: false, exclusive: false, priority: 0, arguments: {} },
      (tag) => events.push(['consumeOk', tag]),
    );
    await waitFor(() => events.some((e) => e[0] === 'deliver'), 'the delivery');
    expect(events[0]).to.deep.equal(['consumeOk', 'c1']);
    const [, chan, tag, deliveryTag, redelivered] = events[1]!;
    expect([chan, tag, deliveryTag, redelivered]).to.deep.equal([1, 'c1', 1, false]);
    expect(Buffer.from(events[1]![9] as Uint8Array).toString()).to.equal('one');
    ch.ack(1, false);
    expect(ch.unackedCount).to.equal(0);
  });

  it('throws BrokerErrors with AMQP reply codes for the adapter to close the channel with', () => {
    const ch = channel([]);
    const codeOf = (fn: () => void): number | undefined => {
      try {
        fn();
      } catch (err) {
        expect(err).to.be.instanceOf(BrokerError);
        return (err as BrokerError).code;
      }
      return undefined;
    };
    expect(codeOf(() => ch.ack(99, false))).to.equal(ErrorCode.PRECONDITION_FAILED);
    expect(codeOf(() => topology.purgeQueue(ch, 'missing'))).to.equal(ErrorCode.NOT_FOUND);
    expect(
      codeOf(() =>
        ch.consume(
          { queue: 'missing', consumerTag: '', noAck: false, exclusive: false, priority: 0, arguments: {} },
          () => undefined,
        ),
      ),
    ).to.equal(ErrorCode.NOT_FOUND);
  });
});

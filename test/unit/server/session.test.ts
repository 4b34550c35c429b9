import { expect } from 'chai';
import { guestHello } from '../../helpers/raw-client.js';
import { pbkdf2 } from 'node:crypto';
import { promisify } from 'node:util';
import { ErrorCode, PROTOCOL_VERSION, type Frame } from '@switchyard/client/protocol';
import {
  brokerInternals,
  createMemoryPair,
  type MemoryFrameConnection,
  type MemoryPeer,
} from '@switchyard/broker/internal';
import type { BrokerOptions } from '@switchyard/broker';
import { startBroker, type TestBroker } from '../../helpers/broker.js';

/**
 * Sessions driven over an in-memory connection pair (server/memory-pair.ts): no sockets
 * between the test and the session, so prefetch, consumer timeouts, blocking, backpressure
 * and channel errors are observed frame by frame.
 */
describe('sessions over an in-memory connection', () => {
  let tb: TestBroker | undefined;
  afterEach(async () => {
    await tb?.stop();
    tb = undefined;
  });

  async function open(options: BrokerOptions = {}): Promise<{ server: MemoryFrameConnection; client: MemoryPeer }> {
    tb ??= await startBroker({ noSync: true, managementPort: false, ...options });
    const pair = createMemoryPair();
    brokerInternals(tb.broker).attach(pair.server);
    pair.client.send(guestHello());
    await pair.client.waitFor('helloOk');
    return pair;
  }

  let rid = 1;
  /** Opens channel `n` and declares a queue on it. */
  async function channelWithQueue(client: MemoryPeer, n: number, queue: string): Promise<void> {
    client.send(
      { type: 'channelOpen', channel: n },
      {
        type: 'queueDeclare',
        channel: n,
        rid: rid,
        queue,
        passive: false,
        durable: false,
        exclusive: false,
        autoDelete: false,
        arguments: {},
      },
    );
    const r = rid++;
    await client.waitFor('queueDeclareOk', (f) => f.rid === r);
  }

  function publish(n: number, queue: string, body: string): Frame {
    return {
      type: 'publish',
      channel: n,
      exchange: '',
      routingKey: queue,
      mandatory: false,
      properties: null,
      content: Buffer.from(body),
    };
  }

  function consume(n: number, queue: string, consumerTag: string): Frame {
    return {
      type: 'consume',
      channel: n,
      rid: rid++,
      queue,
      consumerTag,
      noAck: false,
      exclusive: false,
      priority: 0,
      arguments: {},
    };
  }

  it('delivers no more than the prefetch allows, and the next message once one is acked', async () => {
    const { client } = await open();
    await channelWithQueue(client, 1, 'pf');
    client.send(...['a', 'b', 'c', 'd', 'e'].map((b) => publish(1, 'pf', b)));
    await client.waitFor('publishAck', (f) => f.seqNo === 5);
    client.send({ type: 'qos', channel: 1, rid: rid++, prefetchCount: 2, global: false }, consume(1, 'pf', 'c1'));
    await client.waitFor('deliver', (f) => f.deliveryTag === 2);
    await new Promise((r) => setTimeout(r, 50));
    expect(client.all('deliver').map((d) => Buffer.from(d.content).toString())).to.deep.equal(['a', 'b']);
    client.send({ type: 'ack', channel: 1, deliveryTag: 1, multiple: false });
    const third = await client.waitFor('deliver', (f) => f.deliveryTag === 3);
    expect(Buffer.from(third.content).toString()).to.equal('c');
    expect(client.all('deliver')).to.have.length(3);
  });

  it('closes a channel whose delivery stays unacked past the consumer timeout, and requeues it', async () => {
    const { client } = await open({ consumerTimeoutMs: 100, consumerTimeoutCheckMs: 20 });
    await channelWithQueue(client, 1, 'slow');
    client.send(publish(1, 'slow', 'm'), consume(1, 'slow', 'c1'));
    await client.waitFor('deliver');
    const close = await client.waitFor('channelClose', () => true, 2_000);
    expect(close.code).to.equal(ErrorCode.PRECONDITION_FAILED);
    expect(close.message).to.match(/delivery acknowledgement on channel 1 timed out/);
    // The connection carries on: the message is back in the queue for another channel.
    client.send({ type: 'channelCloseOk', channel: 1 });
    await channelWithQueue(client, 2, 'slow');
    expect(client.all('queueDeclareOk').at(-1)!.messageCount).to.equal(1);
  });

  it('blocks a publishing connection during a resource alarm (stops reading it) and unblocks it after', async () => {
    const { server, client } = await open();
    await channelWithQueue(client, 1, 'alarm');
    client.send(publish(1, 'alarm', 'before'));
    await client.waitFor('publishAck', (f) => f.seqNo === 1);
    const alarms = brokerInternals(tb!.broker).alarms;
    alarms.setMemoryHighWatermark(2); // 2 bytes: certainly exceeded
    await client.waitFor('blocked');
    expect(server.paused).to.equal(true, 'a blocked connection is not read');
    client.send(publish(1, 'alarm', 'held'));
    await new Promise((r) => setTimeout(r, 50));
    expect(client.all('publishAck').map((f) => f.seqNo)).to.deep.equal(
      [1],
      'the held publish is not handled while blocked',
    );
    alarms.setMemoryHighWatermark(0.99);
    await client.waitFor('unblocked');
    expect(server.paused).to.equal(false);
    await client.waitFor('publishAck', (f) => f.seqNo === 2);
  });

  it('stops delivering while the transport is backed up and resumes once it drains', async () => {
    const { server, client } = await open({ socketHighWaterBytes: 64 * 1024 });
    await channelWithQueue(client, 1, 'bp');
    const body = 'x'.repeat(16 * 1024);
    for (let i = 0; i < 40; i++) client.send(publish(1, 'bp', body));
    await client.waitFor('publishAck', (f) => f.seqNo === 40);
    client.stall();
    client.send(consume(1, 'bp', 'c1'));
    await new Promise((r) => setTimeout(r, 100));
    // Past the high-water mark the session stops sending: what waits in the transport is
    // bounded near that mark (plus the batch in flight), far below the 640 KiB backlog.
    expect(server.bufferedAmount).to.be.above(64 * 1024);
    expect(server.bufferedAmount).to.be.below(320 * 1024);
    expect(client.all('deliver')).to.have.length(0);
    client.drain();
    await client.waitFor('deliver', (f) => f.deliveryTag === 40);
  });

  it('closes only the channel on a channel error (404), with the reply code, and the connection carries on', async () => {
    const { server, client } = await open();
    client.send({ type: 'channelOpen', channel: 1 }, consume(1, 'no-such-queue', 'c1'));
    const close = await client.waitFor('channelClose');
    expect(close.code).to.equal(ErrorCode.NOT_FOUND);
    expect(close.message).to.match(/^NOT_FOUND - .*no-such-queue/);
    // Frames on the failed channel are ignored until the client acknowledges the close.
    client.send({ type: 'channelCloseOk', channel: 1 });
    await channelWithQueue(client, 2, 'fine');
    expect(server.closed).to.equal(undefined);
  });

  it('closes the connection on a connection error (a frame on a channel that is not open)', async () => {
    const { server, client } = await open();
    client.send(publish(7, 'q', 'x'));
    const close = await client.waitFor('close');
    expect(close.code).to.equal(ErrorCode.CHANNEL_ERROR);
    client.send({ type: 'closeOk', channel: 0 });
    await new Promise((r) => setTimeout(r, 20));
    expect(server.closed).to.not.equal(undefined);
  });

  it('counts heartbeat silence from helloOk: a slow login does not make the peer look dead', async () => {
    tb = await startBroker({ noSync: true, managementPort: false, heartbeatMs: 100 });
    const pair = createMemoryPair();
    brokerInternals(tb.broker).attach(pair.server);
    // Occupy libuv's thread pool, so the login's password hash waits (as on a loaded host).
    const busy = Array.from({ length: 8 }, () => promisify(pbkdf2)('x', 'salt', 400_000, 64, 'sha512'));
    const sentAt = Date.now();
    pair.client.send({
      type: 'hello',
      channel: 0,
      version: PROTOCOL_VERSION,
      username: 'guest',
      password: 'guest',
      vhost: '/',
      heartbeatMs: 100,
      clientProperties: {},
    });
    await pair.client.waitFor('helloOk', () => true, 20_000);
    const loginMs = Date.now() - sentAt;
    // Within two intervals of helloOk the peer may say nothing and is still alive.
    await new Promise((r) => setTimeout(r, 120));
    expect(pair.server.closed, `closed ${Date.now() - sentAt} ms after hello (login took ${loginMs} ms)`).to.equal(
      undefined,
    );
    expect(loginMs, 'the login must have outlasted two heartbeat intervals for this test to mean anything').to.be.above(
      250,
    );
    await Promise.all(busy);
  });

  it('releases the pre-login bound of its transport once logged in', async () => {
    tb = await startBroker({ noSync: true, managementPort: false });
    const pair = createMemoryPair();
    brokerInternals(tb.broker).attach(pair.server);
    expect(pair.server.isAuthenticated).to.equal(false);
    pair.client.send(guestHello());
    await pair.client.waitFor('helloOk');
    expect(pair.server.isAuthenticated).to.equal(true);
  });
});

import { expect } from 'chai';
import { connect } from '@switchyard/client';
import type { BrokerAlarmEvent, BrokerConnectionEvent } from '@switchyard/broker';
import { brokerInternals } from '@switchyard/broker/internal';
import { useBroker } from '../helpers/broker.js';
import { waitFor } from '../helpers/client.js';

/** The public Broker an embedder sees: a small surface and documented events. */
describe('embedding: the public Broker', () => {
  const fx = useBroker();

  it('exposes start/url/port/managementUrl/logger/version/close, not its internals', () => {
    const b = fx.tb.broker;
    expect(b.url).to.equal(`ws://127.0.0.1:${b.port}`);
    expect(b.managementUrl).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(b.logger.info).to.be.a('function');
    expect(b.version).to.be.a('string');
    for (const internal of [
      'vhost',
      'allVhosts',
      'allConnections',
      'store',
      'access',
      'alarms',
      'options',
      'stats',
      'confirms',
      'authenticate',
    ]) {
      expect(b, internal).to.not.have.property(internal);
    }
  });

  it("emits 'connection' and 'disconnection' for a client that logged in", async () => {
    const opened: BrokerConnectionEvent[] = [];
    const closed: BrokerConnectionEvent[] = [];
    fx.tb.broker.on('connection', (c) => opened.push(c));
    fx.tb.broker.on('disconnection', (c) => closed.push(c));
    const conn = await connect(fx.tb.url);
    await waitFor(() => opened.length === 1, "the 'connection' event");
    expect(opened[0]).to.include({
      id: conn.connectionId,
      user: 'guest',
      vhost: '/',
      remoteAddress: '127.0.0.1',
      protocol: 'ws',
    });
    await conn.close();
    await waitFor(() => closed.length === 1, "the 'disconnection' event");
    expect(closed[0]).to.deep.equal(opened[0]);
  });

  it("emits 'alarm' when a resource alarm is raised and cleared", () => {
    const seen: BrokerAlarmEvent[] = [];
    fx.tb.broker.on('alarm', (a) => seen.push(a));
    const alarms = brokerInternals(fx.tb.broker).alarms;
    alarms.setMemoryHighWatermark(2); // 2 bytes: certainly exceeded
    alarms.setMemoryHighWatermark(0.99);
    expect(seen).to.deep.equal([
      { memory: true, disk: false },
      { memory: false, disk: false },
    ]);
  });

  it('a listener that throws is logged and the broker carries on', async () => {
    fx.tb.broker.on('connection', () => {
      throw new Error('listener bug');
    });
    const conn = await connect(fx.tb.url);
    fx.conns.push(conn);
    const ch = await conn.createChannel();
    await ch.assertQueue('still-works');
  });
});

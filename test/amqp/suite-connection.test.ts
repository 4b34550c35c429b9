import { expect } from 'chai';
import amqp from 'amqplib';
import { brokerInternals } from '@switchyard/broker/internal';
import { nextEvent } from '../helpers/client.js';
import { api, V } from '../helpers/http.js';
import { replyOf, switchyardOnly, tuned, uniq, useAmqpBroker } from '../helpers/amqp.js';

// Connection negotiation, connection-level errors and connection.blocked as amqplib sees
// them (spec/amqp.md). Runs against RabbitMQ with AMQP_TEST_URL (test/helpers/amqp.ts).
describe('AMQP 0-9-1: connection', function () {
  this.timeout(20_000);

  describe('negotiation', () => {
    const fx = useAmqpBroker();

    it('announces the product, version, platform and the capabilities RabbitMQ clients check', async () => {
      const conn = await fx.connect();
      const props = conn.connection.serverProperties;
      for (const key of ['product', 'version', 'platform', 'copyright', 'information'])
        expect(props[key as 'product'], key)
          .to.be.a('string')
          .and.not.equal('');
      expect(props.capabilities).to.include({
        publisher_confirms: true,
        exchange_exchange_bindings: true,
        'basic.nack': true,
        consumer_cancel_notify: true,
        'connection.blocked': true,
        authentication_failure_close: true,
        per_consumer_qos: true,
        direct_reply_to: true,
      });
    });

    it("tunes frame-max, channel-max and heartbeat to the client's lower values", async () => {
      const conn = await fx.connect({ frameMax: 8192, channelMax: 10, heartbeat: 5 });
      expect(tuned(conn).frameMax).to.equal(8192);
      expect(tuned(conn).channelMax).to.equal(10);
      expect(tuned(conn).heartbeat).to.equal(5);
    });

    it("takes the server's frame-max, channel-max and heartbeat when the client has no limit (0)", async () => {
      // no heartbeat option: amqplib takes the server's value (RabbitMQ's defaults: frame_max
      // 131072, channel_max 2047, heartbeat 60)
      const conn = await fx.connect({ frameMax: 0, channelMax: 0 });
      expect(tuned(conn).frameMax).to.be.at.least(4096);
      expect(tuned(conn).channelMax).to.be.within(1, 65535);
      expect(tuned(conn).heartbeat).to.be.within(1, 600);
      // heartbeat 0 turns heartbeats off
      expect(tuned(await fx.connect({ heartbeat: 0 })).heartbeat).to.equal(0);
    });

    it('refuses a channel number over the negotiated channel-max', async () => {
      const conn = await fx.connect({ channelMax: 2 });
      await conn.createChannel();
      await conn.createChannel();
      // amqplib enforces the negotiated maximum itself: it has no free channel number left.
      const err = await replyOf(conn.createChannel());
      expect(err.message).to.match(/No channels left/i);
    });

    it('closes a connection with bad credentials with 403 ACCESS_REFUSED (authentication_failure_close)', async () => {
      const err = await replyOf(fx.connect({ password: 'wrong-password' }));
      expect(err.message).to.match(/ACCESS_REFUSED|403/);
      expect(err.message).to.match(/PLAIN/);
    });

    it('answers connection.open on an unknown vhost with connection.close', async () => {
      // amqplib does not show the reply text here; the pika test checks it (530 NOT_ALLOWED)
      const err = await replyOf(fx.connect({ vhost: 'no-such-vhost' }));
      expect(err.message).to.contain('Expected ConnectionOpenOk; got <ConnectionClose');
    });

    it('AMQPLAIN is offered beside PLAIN, and a client may log in with it', async () => {
      const conn = await fx.connect({}, { credentials: amqp.credentials.amqplain('guest', 'guest') });
      const ch = await conn.createChannel();
      await ch.checkExchange('amq.direct');
    });

    it('accepts connection.update-secret and keeps the connection open', async () => {
      const conn = await fx.connect();
      // amqplib's promise never settles when the broker closes the connection instead
      const closed = nextEvent<Error>(conn, 'close', 10_000).then((e) => {
        throw new Error(`the broker closed the connection: ${String(e)}`);
      });
      await Promise.race([conn.updateSecret(Buffer.from('guest'), 'token refresh'), closed]);
      const ch = await conn.createChannel();
      await ch.checkExchange('amq.direct');
    });

    it('closes the connection with 530 NOT_ALLOWED when a consumer tag is reused on the channel', async () => {
      const conn = await fx.connect();
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      const q = (await ch.assertQueue('', { exclusive: true })).queue;
      await ch.consume(q, () => undefined, { consumerTag: 'reused' });
      const closed = nextEvent<Error>(conn, 'close');
      await replyOf(ch.consume(q, () => undefined, { consumerTag: 'reused' }));
      const err = await closed;
      expect(String(err)).to.contain(
        '530 (NOT-ALLOWED) with message "NOT_ALLOWED - attempt to reuse consumer tag \'reused\'"',
      );
    });

    it("refuses a user without permission on the resource with 403 ACCESS_REFUSED and RabbitMQ's text", async function () {
      const tb = switchyardOnly(this, fx);
      const user = uniq('nobody');
      expect((await api(tb, 'PUT', `/api/users/${user}`, { password: 'pw', tags: '' })).status).to.be.within(200, 299);
      // may configure and read nothing, may write anything
      const perm = { configure: '^$', write: '.*', read: '^$' };
      expect((await api(tb, 'PUT', `/api/permissions/${V}/${user}`, perm)).status).to.be.within(200, 299);
      const conn = await fx.connect({ username: user, password: 'pw' });
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      const err = await replyOf(ch.assertQueue('refused-q'));
      expect(err.code).to.equal(403);
      expect(err.message).to.contain(
        // rabbit_access_control: "~s access to ~ts refused for user '~ts'"
        `ACCESS_REFUSED - configure access to queue 'refused-q' in vhost '/' refused for user '${user}'`,
      );
    });
  });

  describe('connection.blocked / unblocked', () => {
    const fx = useAmqpBroker({ noSync: true, alarmCheckMs: 20 }, { per: 'test' });

    it('blocks a publishing connection while the memory alarm is raised and unblocks it after', async function () {
      const tb = switchyardOnly(this, fx);
      const conn = await fx.connect();
      const ch = await conn.createConfirmChannel();
      const q = (await ch.assertQueue('', { exclusive: true })).queue;
      ch.sendToQueue(q, Buffer.from('before'));
      await ch.waitForConfirms();
      const blocked = nextEvent<string>(conn, 'blocked');
      brokerInternals(tb.broker).alarms.setMemoryHighWatermark(2); // 2 bytes: certainly exceeded
      expect(await blocked).to.match(/memory/);
      const unblocked = nextEvent(conn, 'unblocked');
      brokerInternals(tb.broker).alarms.setMemoryHighWatermark(0.99);
      await unblocked;
      ch.sendToQueue(q, Buffer.from('after'));
      await ch.waitForConfirms();
      expect((await ch.checkQueue(q)).messageCount).to.equal(2);
    });
  });
});

// The JetStream behaviours spec/cluster.md builds on, checked against the nats-server we run
// (Debian's 2.9.10 here): if a server upgrade changes one of them, the design must change too.
// See spec/cluster.md §Verified on 2.9.10.
import { expect } from 'chai';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { sleep } from '../helpers/client.js';
import { skipWithoutNatsServer, startJetStreamCluster, type JetStreamCluster } from '../helpers/jetstream-cluster.js';

const NS = 1_000_000; // ns per ms, JetStream durations

describe('JetStream behaviours spec/cluster.md relies on', function () {
  this.timeout(30_000);
  let cluster: JetStreamCluster | undefined;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let js: JetStreamClient;

  before(async function () {
    skipWithoutNatsServer(this, 'the JetStream behaviour tests');
    cluster = await startJetStreamCluster();
    nc = await connect({ servers: cluster.urls });
    // Generous API timeouts: on a loaded machine an R3 consumer create can take longer than 5 s.
    jsm = await jetstreamManager(nc, { timeout: 30_000 });
    js = jetstream(nc, { timeout: 30_000 });
    await jsm.streams.add({
      name: 'SHARD',
      subjects: ['SHARD.>'],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      num_replicas: 3,
    });
  });

  after(async () => {
    await nc?.close();
    await cluster?.stop();
  });

  it('KV: create of an existing key and update with a stale revision are refused (CAS)', async () => {
    const kv = await new Kvm(nc).create('defs', { replicas: 3, history: 1 });
    // Names are base64url-encoded: KV keys allow only [-/_=.A-Za-z0-9].
    const key = `q.${Buffer.from('/').toString('base64url')}.${Buffer.from('orders').toString('base64url')}`;
    const rev = await kv.create(key, '{"durable":true}');
    let refused = false;
    await kv.create(key, '{"durable":false}').catch(() => (refused = true));
    expect(refused, 'second create').to.equal(true);
    const rev2 = await kv.update(key, '{"durable":true,"v":2}', rev);
    refused = false;
    await kv.update(key, 'stale', rev).catch(() => (refused = true));
    expect(refused, 'stale update').to.equal(true);
    expect((await kv.get(key))?.revision).to.equal(rev2);
    const bad = await kv.get('q/%2F/orders').then(
      () => '',
      (e: Error) => e.message,
    );
    expect(bad).to.match(/invalid key/);
  });

  it('a publish repeated with the same msgID is stored once (PubAck duplicate)', async () => {
    const a = await js.publish('SHARD.dup', 'x', { msgID: 'same' });
    const b = await js.publish('SHARD.dup', 'x', { msgID: 'same' });
    expect(b.duplicate).to.equal(true);
    expect(b.seq).to.equal(a.seq);
    await jsm.streams.purge('SHARD', { filter: 'SHARD.dup' });
  });

  it('one consumer per queue subject on a WorkQueue stream; identical re-create is idempotent', async () => {
    const cfg = { durable_name: 'q1', filter_subject: 'SHARD.q1', ack_policy: AckPolicy.Explicit };
    await jsm.consumers.add('SHARD', cfg);
    await jsm.consumers.add('SHARD', cfg); // a second node declaring the same consumer
    let refused = '';
    await jsm.consumers.add('SHARD', { ...cfg, durable_name: 'other' }).catch((e: Error) => (refused = e.message));
    expect(refused).to.match(/not unique/);
    await jsm.consumers.delete('SHARD', 'q1');
  });

  it('nak with delay redelivers later; working() holds a message past ack_wait', async () => {
    await jsm.consumers.add('SHARD', {
      durable_name: 'q2',
      filter_subject: 'SHARD.q2',
      ack_policy: AckPolicy.Explicit,
      ack_wait: 1000 * NS,
    });
    await js.publish('SHARD.q2', 'm');
    const c = await js.consumers.get('SHARD', 'q2');
    const first = await c.next({ expires: 2000 });
    const t = Date.now();
    first!.nak(1500);
    const again = await c.next({ expires: 5000 });
    expect(Date.now() - t).to.be.greaterThanOrEqual(1400);
    expect(again!.info.deliveryCount).to.equal(2);
    // Hold it for 2.4 s with a 1 s ack_wait: no redelivery while working() keeps coming.
    let holding = true;
    const keepAlive = (async () => {
      while (holding) {
        again!.working();
        await sleep(300);
      }
    })();
    const meanwhile = await c.next({ expires: 2400 });
    holding = false;
    await keepAlive;
    expect(meanwhile, 'redelivered while held').to.equal(null);
    expect(await again!.ackAck()).to.equal(true);
  });

  it('a new consumer after an inactive one was removed delivers the unacked message, not the acked one', async () => {
    const cfg = {
      durable_name: 'q3',
      filter_subject: 'SHARD.q3',
      ack_policy: AckPolicy.Explicit,
      inactive_threshold: 3000 * NS,
    };
    await jsm.consumers.add('SHARD', cfg);
    for (const body of ['acked', 'unacked']) await js.publish('SHARD.q3', body);
    const c = await js.consumers.get('SHARD', 'q3');
    const a = await c.next({ expires: 2000 });
    expect(await a!.ackAck()).to.equal(true);
    const b = await c.next({ expires: 2000 });
    expect(b!.string()).to.equal('unacked'); // delivered, never acked
    const counts = (await jsm.streams.info('SHARD', { subjects_filter: 'SHARD.q3' })).state.subjects;
    expect(counts).to.deep.equal({ 'SHARD.q3': 1 });
    const deadline = Date.now() + 20_000;
    let gone = false;
    while (!gone && Date.now() < deadline) {
      await sleep(500);
      gone = await jsm.consumers.info('SHARD', 'q3').then(
        () => false,
        () => true,
      );
    }
    expect(gone, 'consumer removed after inactive_threshold').to.equal(true);
    await jsm.consumers.add('SHARD', { ...cfg, inactive_threshold: undefined });
    const again = await (await js.consumers.get('SHARD', 'q3')).next({ expires: 2000 });
    expect(again!.string()).to.equal('unacked');
  });
});

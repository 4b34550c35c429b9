// Stream queues on a cluster node (spec/semantics.md §Streams, spec/cluster.md): named-reader
// offsets live in the cluster store and go with the stream. Real nats-server processes.
import { expect } from 'chai';
import { Broker } from '@switchyard/broker';
import { brokerInternals } from '@switchyard/broker/internal';
import { closeAll, open, type Connection } from '../helpers/client.js';
import { testLogger } from '../helpers/broker.js';
import { makeTmpDir } from '../helpers/tmp.js';
import { skipWithoutNatsServer, startJetStreamCluster, type JetStreamCluster } from '../helpers/jetstream-cluster.js';
import { readerOffsetScope } from '../../broker/src/streams/reader-offsets.js';

describe('stream queues on a JetStream cluster node', function () {
  this.timeout(90_000);
  let cluster: JetStreamCluster | undefined;
  let node: Broker | undefined;
  const conns: Connection[] = [];
  let dir: { remove: () => Promise<void> } | undefined;

  before(async function () {
    skipWithoutNatsServer(this, 'the cluster stream tests');
    cluster = await startJetStreamCluster();
    await cluster.waitForMetaLeader();
    const tmp = await makeTmpDir('cluster-streams');
    dir = tmp;
    node = await Broker.start({
      port: 0,
      managementPort: 0,
      amqpPort: false,
      dataDir: tmp.dir,
      logger: testLogger(),
      cluster: { servers: cluster.urls, nodeName: 'a' },
    });
  });

  after(async () => {
    await closeAll(conns);
    await node?.close().catch(() => undefined);
    await cluster?.stop();
    await dir?.remove();
  });

  it('deleting a stream removes its named readers’ stored offsets from the cluster store', async () => {
    const { ch } = await open(node!.url, conns);
    await ch.assertQueue('audit-log', { durable: true, arguments: { 'x-queue-type': 'stream' } });
    const runtime = brokerInternals(node!);
    const id = runtime.vhost('/')!.queue('audit-log')!.id;
    await ch.storeOffset('audit-log', 'billing', 41);
    await ch.storeOffset('audit-log', 'search', 7);
    const scope = readerOffsetScope(id);
    expect(new Map(runtime.store.loadDedup(scope))).to.deep.equal(
      new Map([
        ['billing', 41],
        ['search', 7],
      ]),
    );
    await ch.deleteQueue('audit-log');
    expect(runtime.store.loadDedup(scope)).to.deep.equal([]);
  });
});

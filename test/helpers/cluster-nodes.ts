// Switchyard nodes of the cluster tests (test/cluster): in-process brokers on ephemeral ports,
// each with its own temp data dir, on one JetStream cluster.
import { Broker, type BrokerOptions } from '@switchyard/broker';
import { testLogger } from './broker.js';
import { makeTmpDir } from './tmp.js';

export type ClusterNodeOptions = Partial<NonNullable<BrokerOptions['cluster']>>;

/** Starts and stops the Switchyard nodes of one test suite. */
export class ClusterNodes {
  readonly nodes: Broker[] = [];
  private readonly dirs: { remove: () => Promise<void> }[] = [];

  constructor(
    private readonly servers: () => string[],
    /** Options every node of the suite gets. */
    private readonly options: Partial<BrokerOptions> = {},
  ) {}

  /** Starts node `name` (management on an ephemeral port, no AMQP listener). */
  async start(name: string, cluster: ClusterNodeOptions = {}): Promise<Broker> {
    const tmp = await makeTmpDir('cluster-node');
    this.dirs.push(tmp);
    const b = await Broker.start({
      port: 0,
      managementPort: 0,
      amqpPort: false,
      dataDir: tmp.dir,
      logger: testLogger(),
      ...this.options,
      cluster: { servers: this.servers(), nodeName: name, ...cluster },
    });
    this.nodes.push(b);
    return b;
  }

  async stopAll(): Promise<void> {
    for (const b of this.nodes.splice(0)) await b.close().catch(() => undefined);
    for (const d of this.dirs.splice(0)) await d.remove();
  }
}

import { expect } from 'chai';
import { useBroker } from '../helpers/broker.js';
import { open } from '../helpers/client.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';

describe('switchyard streams (real binary, real broker)', function () {
  this.timeout(30_000);
  const fx = useBroker({ noSync: true });
  const sy = (...args: string[]): Promise<CliResult> => runCli([...args, '--url', fx.tb.broker.managementUrl!]);

  it('add-super creates the exchange and partition streams; readers shows offsets and lag', async () => {
    const r = await sy('streams', 'add-super', 'orders', '--partitions', '2', '-a', 'x-max-age=7D');
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal("super stream 'orders' created: exchange 'orders', partitions orders-0, orders-1\n");
    const keys = await sy('streams', 'add-super', 'regions', '--binding-keys', 'eu,us', '--json');
    expect(JSON.parse(keys.stdout)).to.deep.equal({ exchange: 'regions', partitions: ['regions-eu', 'regions-us'] });
    const bad = await sy('streams', 'add-super', 'none');
    expect(bad.code).to.not.equal(0);
    expect(bad.stderr).to.match(/partitions or a list of binding keys/);

    const { ch } = await open(fx.tb.url, fx.conns);
    for (let i = 0; i < 5; i++) await ch.publish('orders', '0', Buffer.from(String(i)));
    await ch.storeOffset('orders-0', 'billing', 1);
    const table = await sy('streams', 'readers', 'orders-0');
    expect(table.code, table.stderr).to.equal(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).to.match(/^reader +offset +lag +lag_seconds +consumers$/);
    expect(lines[1]).to.match(/^billing +1 +3 +\d+\.\d +0$/);
    const json = await sy('streams', 'readers', 'orders-0', '--json');
    expect(JSON.parse(json.stdout)).to.have.length(1);
  });
});

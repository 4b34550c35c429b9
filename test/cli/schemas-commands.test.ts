import { expect } from 'chai';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { useBroker } from '../helpers/broker.js';
import { api } from '../helpers/http.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';
import { makeTmpDir } from '../helpers/tmp.js';

describe('switchyard schemas (real binary, real broker)', function () {
  this.timeout(60_000);
  const fx = useBroker({ noSync: true }, { per: 'suite' });
  const sy = (...args: string[]): Promise<CliResult> => runCli([...args, '--url', fx.tb.broker.managementUrl!]);

  it('registers, lists, shows, checks and configures subjects', async () => {
    const tmp = await makeTmpDir('schemas-cli');
    try {
      const v1 = join(tmp.dir, 'order.avsc');
      const v2 = join(tmp.dir, 'order-v2.avsc');
      const bad = join(tmp.dir, 'order-bad.avsc');
      const fields = [{ name: 'id', type: 'int' }];
      await writeFile(v1, JSON.stringify({ type: 'record', name: 'Order', fields }));
      await writeFile(
        v2,
        JSON.stringify({ type: 'record', name: 'Order', fields: [...fields, { name: 'n', type: 'int', default: 0 }] }),
      );
      await writeFile(bad, JSON.stringify({ type: 'record', name: 'Order', fields: [{ name: 'id', type: 'string' }] }));

      const reg = await sy('schemas', 'register', 'orders', v1);
      expect(reg.code, reg.stderr).to.equal(0);
      expect(reg.stdout).to.match(/orders: schema id 1 \(latest version 1\)/);
      const ok = await sy('schemas', 'check', 'orders', v2);
      expect(ok.code, ok.stderr).to.equal(0);
      expect(ok.stdout).to.match(/is compatible with orders version latest/);
      const incompatible = await sy('schemas', 'check', 'orders', bad);
      expect(incompatible.code).to.equal(3);
      expect(incompatible.stderr).to.match(/not compatible.*\/id: type int -> string/);
      const refused = await sy('schemas', 'register', 'orders', bad);
      expect(refused.code).to.equal(3);
      expect(refused.stderr).to.match(/incompatible.*\(error 40901\)/);
      expect((await sy('schemas', 'register', 'orders', v2)).code).to.equal(0);

      const list = await sy('schemas', 'list', '--json');
      expect(JSON.parse(list.stdout)).to.deep.equal([{ subject: 'orders', version: 2, id: 2, schemaType: 'AVRO' }]);
      const show = await sy('schemas', 'show', 'orders', '1');
      expect(show.stdout).to.match(/^orders version 1, id 1, AVRO\n\{"type":"record"/);
      expect((await sy('schemas', 'show', 'nope')).code).to.equal(2);

      expect((await sy('schemas', 'config', 'orders')).stdout).to.equal('orders: BACKWARD\n');
      expect((await sy('schemas', 'config', 'orders', 'full')).stdout).to.equal('orders: FULL\n');
      expect((await api(fx.tb, 'GET', '/config/orders')).body).to.deep.equal({ compatibilityLevel: 'FULL' });
      expect((await sy('schemas', 'config')).stdout).to.equal('global: BACKWARD\n');
      const badLevel = await sy('schemas', 'config', '-', 'SIDEWAYS');
      expect(badLevel.code).to.not.equal(0);
      expect(badLevel.stderr).to.match(/Invalid compatibility level.*\(error 42203\)/);
    } finally {
      await tmp.remove();
    }
  });
});

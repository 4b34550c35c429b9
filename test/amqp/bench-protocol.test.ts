import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { makeTmpDir } from '../helpers/tmp.js';
import { useAmqpBroker } from '../helpers/amqp.js';

const run = promisify(execFile);
const BENCH = fileURLToPath(new URL('../../scripts/bench/run.mjs', import.meta.url));

interface BenchDoc {
  options: { protocol: string };
  results: Record<
    string,
    { url: string; protocol?: string; workloads: Record<string, { error?: string; metrics: Record<string, number> }> }
  >;
  ratios: Record<string, Record<string, number>>;
}

// `npm run bench -- --protocol amqp` (scripts/bench/README.md): amqplib drives a spawned
// Switchyard on its AMQP port and the AMQP broker at --amqp-url in one run. Here the other
// broker is the fixture's (an in-process Switchyard, or RabbitMQ with AMQP_TEST_URL).
describe('bench --protocol amqp', function () {
  this.timeout(120_000);
  const fx = useAmqpBroker();

  it('runs the workloads with amqplib against both brokers and reports the ratios', async () => {
    const tmp = await makeTmpDir('bench-amqp');
    try {
      const json = join(tmp.dir, 'result.json');
      const args = [BENCH, '--protocol', 'amqp', '--amqp-url', fx.amqpUrl, '--workloads', 'W1,W2'];
      await run(process.execPath, [...args, '--messages', '300', '--settle-ms', '0', '--json', json], {
        timeout: 110_000,
      });
      const doc = JSON.parse(await readFile(json, 'utf8')) as BenchDoc;
      expect(doc.options.protocol).to.equal('amqp');
      const sy = doc.results['switchyard']!;
      expect(sy.protocol).to.equal('amqp');
      expect(sy.url).to.match(/^amqp:\/\/guest:\*\*\*@127\.0\.0\.1:\d+$/);
      for (const target of ['switchyard', 'amqp'])
        for (const w of ['W1', 'W2']) {
          const r = doc.results[target]!.workloads[w]!;
          expect(r.error, `${target} ${w}`).to.equal(undefined);
          expect(Object.values(r.metrics)[0], `${target} ${w}`).to.be.greaterThan(0);
        }
      expect(doc.ratios['W1']).to.be.an('object');
      expect(doc.ratios['W2']).to.be.an('object');
    } finally {
      await tmp.remove();
    }
  });
});

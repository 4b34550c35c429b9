import { expect } from 'chai';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import amqp from 'amqplib';
import { Broker } from '@switchyard/broker';
import { loadServerConfig } from '@switchyard/broker/internal';
import { makeTmpDir } from '../helpers/tmp.js';
import { spawnBroker, killHard } from '../helpers/broker-process.js';
import { testLogger } from '../helpers/broker.js';

describe('AMQP listener settings: amqpPort / amqpsPort in options, config file, env and CLI', function () {
  this.timeout(20_000);
  let tmp: { dir: string; remove: () => Promise<void> };
  beforeEach(async () => {
    tmp = await makeTmpDir('amqp-config');
  });
  afterEach(async () => {
    await tmp.remove();
  });

  it('reads amqpPort (a port or false) and amqpsPort from the file and the environment', async () => {
    const yaml = join(tmp.dir, 'c.yaml');
    await writeFile(yaml, 'amqpPort: 5673\namqps-port: 5674\ntlsCertFile: c.pem\ntlsKeyFile: k.pem\n');
    expect(loadServerConfig({ configFile: yaml }).options).to.deep.equal({
      amqpPort: 5673,
      amqpsPort: 5674,
      tls: { certFile: 'c.pem', keyFile: 'k.pem' },
    });
    expect(loadServerConfig({ env: { SWITCHYARD_AMQP_PORT: 'off' } }).options).to.deep.equal({ amqpPort: false });
    expect(loadServerConfig({ env: { SWITCHYARD_AMQP_PORT: '0' } }).options).to.deep.equal({ amqpPort: 0 });
  });

  it('refuses a bad amqpPort, and amqpsPort without TLS files', async () => {
    const start = (o: object): Promise<unknown> =>
      Broker.start({ port: 0, managementPort: false, dataDir: tmp.dir, logger: testLogger(), ...o }).then(
        (b) => b.close(),
        (e: Error) => e.message,
      );
    expect(await start({ amqpPort: 70000 })).to.match(/Invalid option "amqpPort"/);
    expect(await start({ amqpPort: 0, amqpsPort: 0 })).to.match(/"amqpsPort": amqps needs the "tls" option/);
  });

  it('says which port is taken and how to move or turn AMQP off', async () => {
    const first = await Broker.start({
      port: 0,
      managementPort: false,
      amqpPort: 0,
      dataDir: tmp.dir,
      logger: testLogger(),
    });
    const taken = Number(new URL(first.amqpUrl!).port);
    const other = await makeTmpDir('amqp-config-2');
    try {
      const err = await Broker.start({
        port: 0,
        managementPort: false,
        amqpPort: taken,
        dataDir: other.dir,
        logger: testLogger(),
      }).then(
        async (b) => {
          await b.close();
          return '';
        },
        (e: Error) => e.message,
      );
      expect(err).to.match(/cannot listen for amqp connections: port \d+ .* already in use.*--no-amqp/);
    } finally {
      await first.close();
      await other.remove();
    }
  });

  it('switchyard server --amqp-port 0 serves AMQP; --no-amqp does not', async () => {
    const on = await spawnBroker(tmp.dir, []);
    try {
      const url = on.amqpUrl;
      expect(url).to.match(/^amqp:\/\/127\.0\.0\.1:\d+$/);
      const c = await amqp.connect(url!.replace('amqp://', 'amqp://guest:guest@'));
      await c.close();
    } finally {
      await killHard(on);
    }
    const off = await spawnBroker(tmp.dir, ['--no-amqp']);
    try {
      expect(off.amqpUrl).to.equal(undefined);
    } finally {
      await killHard(off);
    }
  });
});

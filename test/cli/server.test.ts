import { expect } from 'chai';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { connect } from '@switchyard/client';
import { spawnBroker } from '../helpers/broker-process.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';
import { makeTmpDir } from '../helpers/tmp.js';

const run = (args: string[]): Promise<CliResult> => runCli(args);

describe('switchyard server (CLI)', function () {
  this.timeout(30_000);
  let tmp: { dir: string; remove: () => Promise<void> };
  beforeEach(async () => {
    tmp = await makeTmpDir('cli');
  });
  afterEach(async () => {
    await tmp.remove();
  });

  it('rejects an unknown flag with a non-zero exit and a reason', async () => {
    const r = await run(['server', '--bogus']);
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.match(/unknown option '--bogus'/);
  });

  it('rejects a bad port value naming it', async () => {
    const r = await run(['server', '--port', 'eighty']);
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.match(/option '-p, --port <port>' argument 'eighty' is invalid.*expected a port number/);
  });

  it('rejects a bad log level', async () => {
    const r = await run(['server', '--log-level', 'loud']);
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.match(/Allowed choices are error, warn, info, debug/);
  });

  it('fails with a clear reason when the port is in use', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = await run([
        'server',
        '--port',
        String(port),
        '--management-port',
        '0',
        '--amqp-port',
        '0',
        '--data-dir',
        tmp.dir,
      ]);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(new RegExp(`port ${port} on 127.0.0.1 is already in use`));
    } finally {
      blocker.close();
    }
  });

  it('fails with a clear reason when the data directory is unusable', async () => {
    const file = join(tmp.dir, 'not-a-dir');
    await writeFile(file, 'x');
    const r = await run(['server', '--port', '0', '--management-port', '0', '--amqp-port', '0', '--data-dir', file]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/cannot open data directory '.*not-a-dir'/);
  });

  it('logs listening, connections opened and closed, and shuts down on SIGTERM', async () => {
    const p = await spawnBroker(tmp.dir);
    const conn = await connect(p.url);
    await conn.close();
    await new Promise((r) => setTimeout(r, 100));
    p.child.kill('SIGTERM');
    expect(await p.exited).to.equal(0);
    const lines = p.output.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { message: string });
    const messages = lines.map((l) => l.message);
    expect(messages).to.include('listening');
    expect(messages).to.include('connection opened');
    expect(messages.some((m) => m.startsWith('connection closed'))).to.equal(true);
    expect(messages).to.include('stopped');
  });
});

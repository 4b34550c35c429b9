import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect } from '@switchyard/client';
import { chooseLogFormat, renderBanner, showBanner } from '@switchyard/broker/internal';
import { spawnBroker, type BrokerProcess } from '../helpers/broker-process.js';
import { makeTmpDir } from '../helpers/tmp.js';
import { GUEST_AUTH } from '../helpers/http.js';
import { CLI } from '../helpers/run-cli.js';

type LogLine = { message: string; level: string; conn?: string; code?: number; by?: string; reason?: string };

const jsonLines = (p: BrokerProcess): LogLine[] =>
  p.output.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);

async function until(predicate: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs a command to completion; stdout and stderr together. */
function runNode(args: string[], ms = 20_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`did not exit: ${out}`));
    }, ms);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** issue 11 item 22: logs for people on a terminal, JSON otherwise, one line per close, `silent` for embedding. */
describe('server logs', function () {
  this.timeout(30_000);
  let tmp: { dir: string; remove: () => Promise<void> };
  beforeEach(async () => {
    tmp = await makeTmpDir('logs');
  });
  afterEach(async () => {
    await tmp.remove();
  });

  describe('format and banner decision', () => {
    it('is pretty with a banner on a terminal, JSON without one otherwise; an explicit format wins', () => {
      expect(chooseLogFormat(undefined, true)).to.equal('pretty');
      expect(chooseLogFormat(undefined, false)).to.equal('json');
      expect(chooseLogFormat('json', true)).to.equal('json');
      expect(chooseLogFormat('pretty', false)).to.equal('pretty');
      expect(showBanner(undefined, true)).to.equal(true);
      expect(showBanner('json', true)).to.equal(false);
      expect(showBanner(undefined, false)).to.equal(false);
    });

    it('the banner shows the URLs, the dashboard and the default login when it still works', () => {
      const b = renderBanner({
        version: '1.2.3',
        url: 'ws://127.0.0.1:5680',
        managementUrl: 'http://127.0.0.1:15680',
        dataDir: './data',
        defaultLogin: true,
      });
      expect(b).to.include('Switchyard 1.2.3 is running');
      expect(b).to.match(/clients +ws:\/\/127\.0\.0\.1:5680/);
      expect(b).to.match(/dashboard +http:\/\/127\.0\.0\.1:15680\//);
      expect(b).to.match(/login +guest \/ guest/);
      const noLogin = renderBanner({
        version: '1',
        url: 'ws://x',
        managementUrl: undefined,
        dataDir: 'd',
        defaultLogin: false,
      });
      expect(noLogin).not.to.include('guest');
      expect(noLogin).not.to.include('dashboard');
    });
  });

  it('on a real terminal (script(1) gives the server a pty) prints the banner and pretty logs', async function () {
    const cmd = [
      process.execPath,
      CLI,
      'server',
      '--port',
      '0',
      '--management-port',
      '0',
      '--amqp-port',
      '0',
      '--data-dir',
      tmp.dir,
    ]
      .map((a) => `'${a}'`)
      .join(' ');
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await until(() => /login +guest \/ guest/.test(out), `the banner in:\n${out}`);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    expect(out).to.match(/Switchyard \d+\.\d+\.\d+ is running/);
    expect(out).to.match(/dashboard +http:\/\/127\.0\.0\.1:\d+\//);
    expect(out).to.match(/ info +\[broker\] listening/);
    expect(out).not.to.match(/^\{"/m);
  });

  it('without a terminal writes JSON lines only, no banner', async () => {
    const p = await spawnBroker(tmp.dir);
    p.child.kill('SIGTERM');
    await p.exited;
    expect(p.output.join('\n')).not.to.include('is running');
    for (const line of p.output) expect(() => JSON.parse(line) as unknown, line).not.to.throw();
  });

  it('logs a channel error at info, and exactly one line per connection close', async () => {
    const p = await spawnBroker(tmp.dir);
    try {
      const conn = await connect(p.url);
      const ch = await conn.createChannel();
      await ch.checkQueue('no-such-queue').catch(() => undefined);
      await conn.close();
      // a close by the broker (management API: 320)
      const forced = await connect(p.url);
      const closedByBroker = new Promise((r) => forced.once('close', r));
      forced.on('error', () => undefined);
      const listening = jsonLines(p).find((l) => l.message === 'listening') as unknown as { management: string };
      const auth = { authorization: GUEST_AUTH };
      const conns = (await (await fetch(`${listening.management}/api/connections`, { headers: auth })).json()) as {
        id: string;
      }[];
      expect(conns).to.have.length(1);
      const res = await fetch(`${listening.management}/api/connections/${conns[0]!.id}?reason=testing`, {
        method: 'DELETE',
        headers: auth,
      });
      expect(res.status).to.equal(204);
      await closedByBroker;
      await until(() => jsonLines(p).filter((l) => l.message === 'connection closed').length === 2, 'two close lines');
    } finally {
      p.child.kill('SIGTERM');
      await p.exited;
    }
    const lines = jsonLines(p);
    const channelError = lines.find((l) => l.message === 'channel error');
    expect(channelError, 'a channel error line').to.include({ level: 'info', code: 404 });
    const opened = lines.filter((l) => l.message === 'connection opened').map((l) => l.conn);
    expect(opened).to.have.length(2);
    for (const id of opened) {
      const about = lines.filter((l) => l.conn === id && /clos/i.test(l.message));
      expect(
        about.map((l) => l.message),
        JSON.stringify(about),
      ).to.deep.equal(['connection closed']);
    }
    const [byClient, byBroker] = opened.map((id) =>
      lines.find((l) => l.conn === id && l.message === 'connection closed')!,
    );
    expect(byClient).to.include({ by: 'client' });
    expect(byBroker).to.include({ by: 'broker', code: 320 });
    expect(byBroker!.reason).to.match(/testing/);
  });

  it("an embedded broker with logLevel 'silent' writes nothing", async () => {
    const entry = fileURLToPath(new URL('../../broker/dist/index.js', import.meta.url));
    const script = (level: string): string => `
      const { Broker } = await import(${JSON.stringify(entry)});
      const { connect } = await import('@switchyard/client');
      const b = await Broker.start({ port: 0, managementPort: 0, amqpPort: 0, dataDir: ${JSON.stringify(tmp.dir)}, logLevel: '${level}' });
      const c = await connect(b.url);
      await c.close();
      await b.close();`;
    const silent = await runNode(['--input-type=module', '-e', script('silent')]);
    expect(silent.code, silent.out).to.equal(0);
    expect(silent.out).to.equal('');
    const info = await runNode(['--input-type=module', '-e', script('info')]);
    expect(info.out).to.include('"listening"');
  });
});

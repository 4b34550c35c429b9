import { expect } from 'chai';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startBroker, useBroker } from '../helpers/broker.js';
import { closeAll, nextEvent, open, text } from '../helpers/client.js';
import { makeTmpDir } from '../helpers/tmp.js';
import { columnStarts, runCli, type CliResult } from '../helpers/run-cli.js';

/** One line on stderr, prefixed `switchyard:`. */
function expectOneLineError(r: CliResult, code: number, pattern: RegExp): void {
  expect(r.code, r.stderr).to.equal(code);
  expect(r.stderr.trimEnd().split('\n'), r.stderr).to.have.length(1);
  expect(r.stderr).to.match(/^switchyard: /);
  expect(r.stderr).to.match(pattern);
}

describe('switchyard client commands (real binary, real broker)', function () {
  this.timeout(30_000);
  const fx = useBroker({}, { per: 'suite' });
  let url: string;
  const sy = (...args: string[]): Promise<CliResult> => runCli([...args, '--url', url]);

  before(() => {
    url = fx.tb.broker.managementUrl!;
  });

  describe('help', () => {
    it('lists every command with examples and exit codes', async () => {
      const [r, sub] = await Promise.all([runCli(['--help']), runCli(['publish', '--help'])]);
      expect(r.code).to.equal(0);
      for (const c of [
        'server',
        'status',
        'list',
        'declare',
        'delete',
        'purge',
        'bind',
        'unbind',
        'publish',
        'get',
        'close-connection',
        'definitions',
      ]) {
        expect(r.stdout).to.match(new RegExp(`^  ${c}\\b`, 'm'));
      }
      expect(r.stdout).to.include('Examples:');
      expect(r.stdout).to.include('SWITCHYARD_URL');
      expect(r.stdout).to.match(/Exit codes: 0 ok/);
      expect(sub.stdout).to.include('--url <url>');
      expect(sub.stdout).to.include('env: SWITCHYARD_URL');
      expect(sub.stdout).to.include('$ switchyard publish orders eu');
    });
  });

  describe('status', () => {
    it('shows version, uptime and counts; --json gives the overview', async () => {
      const [r, j] = await Promise.all([sy('status'), sy('status', '--json')]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/^version +switchyard \d+\.\d+\.\d+/m);
      expect(r.stdout).to.match(/^uptime +\S+/m);
      expect(r.stdout).to.include(`clients      ${fx.tb.url}`);
      expect(JSON.parse(j.stdout)).to.include({ product: 'switchyard' });
    });

    it('exits 5 with one line when the broker cannot be reached', async () => {
      const r = await runCli(['status', '--url', 'http://127.0.0.1:1']);
      expectOneLineError(r, 5, /cannot reach the management API at http:\/\/127\.0\.0\.1:1.*is the broker running/);
    });

    it('reads the URL from SWITCHYARD_URL, and credentials from --user/--password (4 when refused)', async () => {
      const [r, bad, good] = await Promise.all([
        runCli(['status', '--json'], { env: { SWITCHYARD_URL: url } }),
        runCli(['status', '--user', 'guest', '--password', 'wrong'], { env: { SWITCHYARD_URL: url } }),
        runCli(['status'], { env: { SWITCHYARD_URL: url, SWITCHYARD_USER: 'guest', SWITCHYARD_PASSWORD: 'guest' } }),
      ]);
      expect(r.code, r.stderr).to.equal(0);
      expectOneLineError(bad, 4, /invalid credentials/);
      expect(good.code).to.equal(0);
    });

    it('rejects a URL that is not http(s)', async () => {
      const r = await runCli(['status', '--url', 'ws://127.0.0.1:5680']);
      expectOneLineError(r, 1, /the management API speaks http\(s\), not ws/);
    });
  });

  describe('declare, bind, publish, get, purge, unbind, delete', () => {
    it('manages a topology and messages end to end', async () => {
      const [dx, dq] = await Promise.all([
        sy('declare', 'exchange', 'cli-orders', 'topic'),
        sy('declare', 'queue', 'cli-eu', '-a', 'x-max-length=100', '-a', 'x-queue-mode=lazy'),
      ]);
      expect(dx.code, dx.stderr).to.equal(0);
      expect(dx.stdout).to.equal("exchange 'cli-orders' (topic) declared\n");
      expect(dq.stdout).to.equal("queue 'cli-eu' declared (0 messages ready)\n");
      let r = await sy('bind', 'cli-orders', 'cli-eu', '--routing-key', 'eu.#');
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.equal("bound queue 'cli-eu' to exchange 'cli-orders' with routing key 'eu.#'\n");

      r = await sy(
        'publish',
        'cli-orders',
        'eu.de',
        '{"id":1}',
        '--content-type',
        'application/json',
        '--persistent',
        '-H',
        'tries=3',
      );
      expect(r.stdout).to.equal('published to 1 queue\n');
      r = await runCli(['publish', 'cli-orders', 'eu.fr', '--url', url], { input: 'from stdin' });
      expect(r.stdout, r.stderr).to.equal('published to 1 queue\n');

      const [list, listJson, bindings] = await Promise.all([
        sy('list', 'queues'),
        sy('list', 'queues', '--json'),
        sy('list', 'bindings'),
      ]);
      const lines = list.stdout.trimEnd().split('\n');
      const cols = columnStarts(lines[0]!);
      expect([...cols.keys()]).to.deep.equal([
        'NAME',
        'READY',
        'UNACKED',
        'TOTAL',
        'CONSUMERS',
        'PUBLISH/S',
        'DELIVER/S',
        'ACK/S',
        'OLDEST',
        'DURABLE',
      ]);
      const row = lines.find((l) => l.startsWith('cli-eu '))!;
      // right-aligned numbers end where their header ends
      const readyEnd = cols.get('READY')! + 'READY'.length;
      expect(row.slice(readyEnd - 1, readyEnd)).to.equal('2');
      expect(row.slice(cols.get('DURABLE'))).to.equal('yes');
      const json = JSON.parse(listJson.stdout) as { name: string; messagesReady: number }[];
      expect(json.find((q) => q.name === 'cli-eu')!.messagesReady).to.equal(2);

      expect(bindings.stdout).to.match(/^cli-orders +cli-eu +queue +eu\.# +-$/m);

      r = await sy('get', 'cli-eu');
      expect(r.stdout).to.match(/^1 +cli-orders +eu\.de +no +8 +\{"id":1\} +\{.*"contentType":"application\/json"/m);
      expect(r.stdout).to.include("1 message shown (left in place); queue 'cli-eu' has 2 ready");
      r = await sy('get', 'cli-eu', '--count', '5', '--ack', '--json');
      const got = JSON.parse(r.stdout) as {
        payload: string;
        redelivered: boolean;
        properties: { headers?: Record<string, unknown> };
      }[];
      expect(got.map((m) => [m.payload, m.redelivered])).to.deep.equal([
        ['{"id":1}', false],
        ['from stdin', false],
      ]);
      expect(got[0]!.properties.headers).to.deep.equal({ tries: 3 });
      expect((await sy('get', 'cli-eu')).stdout).to.equal("queue 'cli-eu' has no ready messages\n");

      await Promise.all([sy('publish', 'cli-orders', 'eu.x', 'a'), sy('publish', 'cli-orders', 'eu.x', 'b')]);
      r = await sy('purge', 'cli-eu');
      expect(r.stdout).to.equal("purged 2 messages from queue 'cli-eu'\n");

      r = await sy('unbind', 'cli-orders', 'cli-eu', '--routing-key', 'eu.#');
      expect(r.code, r.stderr).to.equal(0);
      const [mandatory, warned] = await Promise.all([
        sy('publish', 'cli-orders', 'eu.x', 'c', '--mandatory'),
        sy('publish', 'cli-orders', 'eu.x', 'c'),
      ]);
      expectOneLineError(mandatory, 7, /message was not routed/);
      expect(warned.code).to.equal(0);
      expect(warned.stderr).to.match(/warning: message published but not routed/);

      const [delQ, delX] = await Promise.all([sy('delete', 'queue', 'cli-eu'), sy('delete', 'exchange', 'cli-orders')]);
      expect(delQ.stdout).to.equal("queue 'cli-eu' deleted (0 messages dropped)\n");
      expect(delX.stdout).to.equal("exchange 'cli-orders' deleted\n");
    });

    it('binds with arguments and unbinds the same binding; publishes to the default exchange', async () => {
      await sy('declare', 'queue', 'cli-h');
      let r = await sy('bind', 'amq.headers', 'cli-h', '-a', 'x-match=any', '-a', 'kind=pdf');
      expect(r.code, r.stderr).to.equal(0);
      r = await sy('publish', 'amq.headers', '', 'doc', '-H', 'kind=pdf');
      expect(r.stdout).to.equal('published to 1 queue\n');
      r = await sy('unbind', 'amq.headers', 'cli-h', '-a', 'x-match=any', '-a', 'kind=pdf');
      expect(r.code, r.stderr).to.equal(0);
      r = await sy('publish', '', 'cli-h', 'direct to the queue');
      expect(r.stdout).to.equal('published to 1 queue\n');
      expect((await sy('get', 'cli-h', '-c', '2', '--ack', '--json')).stdout).to.include('direct to the queue');
    });

    it('exits 2 for unknown things, 3 for conflicts, 6 for rejected input, 1 for bad flags — one line each', async () => {
      await sy('declare', 'queue', 'cli-durable');
      const [get, purge, del, close, inequivalent, badArg, reserved, usage, kind] = await Promise.all([
        sy('get', 'no-such-queue'),
        sy('purge', 'no-such-queue'),
        sy('delete', 'queue', 'no-such-queue'),
        sy('close-connection', 'nope'),
        sy('declare', 'queue', 'cli-durable', '--no-durable'),
        sy('declare', 'queue', 'cli-bad', '-a', 'x-max-length=-4'),
        sy('declare', 'queue', 'amq.nope'),
        sy('declare', 'queue', 'cli-x', '-a', 'novalue'),
        sy('list', 'widgets'),
      ]);
      expectOneLineError(get, 2, /no queue 'no-such-queue' in vhost '\/'/);
      expectOneLineError(purge, 2, /no queue/);
      expectOneLineError(del, 2, /no queue/);
      expectOneLineError(close, 2, /no connection 'nope'/);
      expectOneLineError(inequivalent, 3, /inequivalent arg 'durable'.*\(PRECONDITION_FAILED 406\)/);
      expectOneLineError(badArg, 6, /x-max-length/);
      expectOneLineError(reserved, 4, /reserved prefix/);
      expect(usage.code).to.equal(1);
      expect(usage.stderr).to.match(/expected key=value, got 'novalue'/);
      expect(kind.code).to.equal(1);
      expect(kind.stderr).to.match(/Allowed choices are queues, exchanges, bindings, consumers, connections, channels/);
    });
  });

  describe('consumers and connections', () => {
    it('lists consumers and connections, and closes a connection (client sees 320)', async () => {
      const { conn, ch } = await open(fx.tb.url, fx.conns);
      await ch.assertQueue('cli-c');
      await ch.prefetch(4);
      await ch.consume('cli-c', () => undefined, { consumerTag: 'cli-tag' });
      const [consumers, connections, table, channels] = await Promise.all([
        sy('list', 'consumers'),
        sy('list', 'connections', '--json'),
        sy('list', 'connections'),
        sy('list', 'channels'),
      ]);
      expect(consumers.stdout).to.match(/^cli-c +cli-tag +\S+ +1 +manual +4 +0 +0 +yes +no$/m);
      const mine = (JSON.parse(connections.stdout) as { id: string; user: string }[]).at(-1)!;
      expect(mine.user).to.equal('guest');
      expect(table.stdout).to.include(mine.id);
      expect(channels.stdout).to.match(/^CONNECTION +NUMBER +PEER +CONSUMERS/);
      const errored = nextEvent<Error & { code?: number }>(conn, 'error');
      const r = await sy('close-connection', mine.id, '--reason', 'rolling restart');
      expect(r.stdout).to.equal(`connection ${mine.id} closed\n`);
      const err = await errored;
      expect(err.code).to.equal(320);
      expect(err.message).to.include('rolling restart');
    });
  });

  describe('definitions export and import', () => {
    it('exports to a file and imports it into another broker; 6 on a bad file', async () => {
      const tmp = await makeTmpDir('cli-defs');
      const other = await startBroker();
      try {
        await Promise.all([
          sy('declare', 'exchange', 'cli-dx', 'fanout'),
          sy('declare', 'queue', 'cli-dq', '-a', 'x-message-ttl=60000'),
        ]);
        await sy('bind', 'cli-dx', 'cli-dq');
        const file = join(tmp.dir, 'defs.json');
        const [exported, stdoutExport] = await Promise.all([
          sy('definitions', 'export', file),
          sy('definitions', 'export'),
        ]);
        let r = exported;
        expect(r.code, r.stderr).to.equal(0);
        expect(r.stdout).to.match(
          /^exported 1 vhosts, 1 users, 1 permissions, \d+ exchanges, \d+ queues, \d+ bindings to .*defs\.json\n$/,
        );
        const doc = JSON.parse(await readFile(file, 'utf8')) as { queues: { name: string; arguments: object }[] };
        expect(doc.queues.find((q) => q.name === 'cli-dq')!.arguments).to.deep.equal({ 'x-message-ttl': 60000 });
        expect(JSON.parse(stdoutExport.stdout)).to.deep.equal(doc);

        r = await runCli(['definitions', 'import', file, '--url', other.broker.managementUrl!]);
        expect(r.code, r.stderr).to.equal(0);
        expect(r.stdout).to.match(
          /^imported 1 vhosts, 1 users, 1 permissions, \d+ exchanges, \d+ queues, \d+ bindings\n$/,
        );
        const { ch } = await open(other.url, fx.conns);
        await ch.publish('cli-dx', '', Buffer.from('via imported binding'));
        expect(text(await ch.get('cli-dq', { noAck: true }))).to.equal('via imported binding');

        const bad = join(tmp.dir, 'bad.json');
        const notJson = join(tmp.dir, 'not.json');
        await writeFile(bad, JSON.stringify({ queues: [{ name: 'q', durable: 'yes' }] }));
        await writeFile(notJson, '{not json');
        const [badResult, notJsonResult] = await Promise.all([
          sy('definitions', 'import', bad),
          sy('definitions', 'import', notJson),
        ]);
        expectOneLineError(badResult, 6, /queues\[0\]\.durable: expected true or false/);
        expectOneLineError(notJsonResult, 1, /is not valid JSON/);
      } finally {
        await closeAll(fx.conns);
        await other.stop();
        await tmp.remove();
      }
    });
  });
});

import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { uniq, useAmqpBroker } from '../helpers/amqp.js';

const run = promisify(execFile);
// Debian's python3-pika installs for the system interpreter, not for a pyenv one on PATH.
const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./clients/pika_client.py', import.meta.url));

async function pikaInstalled(): Promise<boolean> {
  if (!existsSync(PYTHON)) return false;
  return run(PYTHON, ['-c', 'import pika']).then(
    () => true,
    () => false,
  );
}

// A second client from another ecosystem (Python's pika, Debian's python3-pika): publish with
// confirms, basic.get, consume and ack, tx, channel.flow, reply codes and texts. CI installs
// it (.ci/run) and sets REQUIRE_PIKA=1; elsewhere the test skips without it.
describe('AMQP 0-9-1: pika (Python) client', function () {
  this.timeout(60_000);
  const fx = useAmqpBroker();

  it('publishes with confirms, gets, consumes, acks, runs transactions and reads reply texts', async function () {
    if (!(await pikaInstalled())) {
      if (process.env['REQUIRE_PIKA'] === '1') throw new Error(`pika is missing for ${PYTHON} (REQUIRE_PIKA=1)`);
      console.warn(`      skipped: python3-pika is not installed for ${PYTHON} (apt-get install python3-pika)`);
      this.skip();
    }
    const url = fx.amqpUrl.replace(/\/?$/, '/%2F');
    const { stdout } = await run(PYTHON, [SCRIPT, url, uniq('pika')], { timeout: 50_000 });
    const r = JSON.parse(stdout) as Record<string, Record<string, unknown>>;
    expect(r['server']!['capabilities']).to.include({ publisher_confirms: true, 'basic.nack': true });
    expect(r['confirm_publish']).to.deep.equal({ published: 10, unroutable_returned: 1 });
    expect(r['basic_get']).to.deep.equal({
      body: 'msg-0',
      message_count: 9,
      redelivered: false,
      content_type: 'text/plain',
      message_id: 'm-1',
      headers: { n: 1, s: 'x', nested: { ok: true }, list: [1, 'a'] },
      delivery_mode: 2,
    });
    expect(r['consume_ack']).to.deep.equal({ bodies: [1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => `msg-${i}`), left: 0 });
    expect(r['tx']).to.deep.equal({
      after_rollback: 0,
      before_commit: 0,
      after_commit: 1,
      redelivered_after_rolled_back_ack: true,
      body: 'committed',
      left_after_committed_ack: 0,
    });
    expect(r['flow']).to.deep.equal({ active: true });
    expect(r['not_found']!['code']).to.equal(404);
    expect(r['not_found']!['text']).to.match(/^NOT_FOUND - no queue 'pika-.*-missing' in vhost '\/'$/);
    expect(r['unknown_vhost']!['text']).to.contain("(530) 'NOT_ALLOWED - vhost no-such-vhost not found'");
    expect(r['bad_password']!['kind']).to.equal('ProbableAuthenticationError');
    expect(r['bad_password']!['text']).to.contain(
      "(403) 'ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN.",
    );
  });
});

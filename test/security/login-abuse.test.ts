import { expect } from 'chai';
import { Writable } from 'node:stream';
import winston from 'winston';
import { connect } from '@switchyard/client';
import { createLogger } from '@switchyard/broker';
import { useBroker } from '../helpers/broker.js';

/** Issue 11 item 9: failed logins are throttled per peer; client strings in logs are capped. */
describe('login abuse', function () {
  this.timeout(30_000);
  const fx = useBroker({ noSync: true }, { start: 'test' });

  it('refuses further WebSocket logins from a peer after too many failures, saying when to retry', async () => {
    const tb = await fx.start({ loginThrottle: { maxFailures: 3, windowMs: 60_000, blockMs: 30_000 } });
    for (let i = 0; i < 3; i++) {
      const err = await connect(tb.url, { username: 'guest', password: `wrong${i}` }).catch((e: unknown) => e);
      expect((err as Error).message).to.match(/invalid credentials/);
    }
    // even the right password is refused now, without being checked
    const err = await connect(tb.url, { username: 'guest', password: 'guest' }).catch((e: unknown) => e);
    expect(err).to.include({ code: 403, name: 'ACCESS_REFUSED' });
    expect((err as Error).message).to.match(/too many failed logins from 127\.0\.0\.1; retry in (29|30) s/);
  });

  it('throttles management API Basic auth with 429 and Retry-After', async () => {
    const tb = await fx.start({ loginThrottle: { maxFailures: 2, windowMs: 60_000, blockMs: 30_000 } });
    const get = (auth: string) =>
      fetch(`${tb.broker.managementUrl}/api/overview`, {
        headers: { authorization: `Basic ${Buffer.from(auth).toString('base64')}` },
      });
    expect((await get('guest:bad1')).status).to.equal(401);
    expect((await get('guest:bad2')).status).to.equal(401);
    const res = await get('guest:guest');
    expect(res.status).to.equal(429);
    expect(Number(res.headers.get('retry-after'))).to.be.within(29, 30);
    expect(((await res.json()) as { reason: string }).reason).to.match(/too many failed logins .* retry in/);
    // the client port shares the throttle: the same peer is refused there too
    expect(await connect(tb.url).catch((e: unknown) => e)).to.include({ code: 403 });
  });

  it('throttles a management peer even for credentials it used successfully before (one login cache, spec/security.md)', async () => {
    const tb = await fx.start({ loginThrottle: { maxFailures: 2, windowMs: 60_000, blockMs: 30_000 } });
    const get = (auth: string) =>
      fetch(`${tb.broker.managementUrl}/api/overview`, {
        headers: { authorization: `Basic ${Buffer.from(auth).toString('base64')}` },
      });
    expect((await get('guest:guest')).status).to.equal(200);
    expect((await get('guest:bad1')).status).to.equal(401);
    expect((await get('guest:bad2')).status).to.equal(401);
    // No cache of accepted Authorization headers lets the blocked peer around the throttle.
    expect((await get('guest:guest')).status).to.equal(429);
  });

  it('caps a huge username in log lines', async () => {
    let logged = '';
    const logger = createLogger({ level: 'debug' });
    logger.clear().add(
      new winston.transports.Stream({
        stream: new Writable({ write: (chunk, _enc, cb) => ((logged += String(chunk)), cb()) }),
      }),
    );
    const tb = await fx.start({ logger, loginThrottle: false });
    const huge = 'u'.repeat(2_000_000);
    await connect(tb.url, { username: huge, password: 'x' }).catch(() => undefined);
    await fx.stop();
    expect(logged).to.include('login refused');
    expect(logged).to.include('more)');
    expect(logged.length).to.be.lessThan(50_000);
  });
});

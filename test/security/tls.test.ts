import { expect } from 'chai';
import { guestHello } from '../helpers/raw-client.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { connect } from '@switchyard/client';
import { decodeAll, encodeFrame } from '@switchyard/client/protocol';
import { useBroker } from '../helpers/broker.js';
import { makeTmpDir } from '../helpers/tmp.js';
import { selfSigned } from '../helpers/self-signed.js';

describe('TLS', function () {
  this.timeout(30_000);
  const fx = useBroker({ noSync: true }, { start: 'test' });
  let tmp: { dir: string; remove: () => Promise<void> };
  beforeEach(async () => {
    tmp = await makeTmpDir('tls');
  });
  afterEach(async () => {
    await tmp.remove();
  });

  it('serves wss:// with the configured certificate; a client trusting it completes the handshake', async () => {
    const tls = selfSigned(tmp.dir);
    const tb = await fx.start({ tls });
    expect(tb.url).to.match(/^wss:\/\/127\.0\.0\.1:\d+$/);
    const ws = new WebSocket(tb.url, { ca: readFileSync(tls.certFile) });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const reply = new Promise<Buffer>((resolve) => ws.once('message', (d: Buffer) => resolve(d)));
    ws.send(encodeFrame(guestHello()));
    const [frame] = decodeAll(new Uint8Array(await reply));
    expect(frame!.type).to.equal('helloOk');
    ws.close();
  });

  it('the SDK connects over wss:// when given the CA, and publishes with confirms', async () => {
    const tls = selfSigned(tmp.dir);
    const tb = await fx.start({ tls });
    const conn = await connect(tb.url, { tls: { ca: readFileSync(tls.certFile) } });
    try {
      const ch = await conn.createChannel();
      await ch.assertQueue('secure', { durable: false });
      await ch.sendToQueue('secure', Buffer.from('over tls'));
      const m = await ch.get('secure', { noAck: true });
      expect(m && Buffer.from(m.content).toString()).to.equal('over tls');
    } finally {
      await conn.close();
    }
    const err = await connect(tb.url).catch((e: unknown) => e);
    expect((err as Error).message).to.match(/self[- ]signed|certificate/i);
  });

  it('serves the management API over https://', async () => {
    const tls = selfSigned(tmp.dir);
    const tb = await fx.start({ tls });
    expect(tb.broker.managementUrl).to.match(/^https:\/\//);
    const { request } = await import('node:https');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${tb.broker.managementUrl}/api/health`, { ca: readFileSync(tls.certFile) }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).to.equal(200);
  });

  it('refuses a client that does not trust the certificate', async () => {
    const tls = selfSigned(tmp.dir);
    const tb = await fx.start({ tls });
    const ws = new WebSocket(tb.url);
    const err = await new Promise<Error>((resolve) => ws.once('error', resolve));
    expect(err.message).to.match(/self[- ]signed|certificate/i);
  });

  it('fails to start with a clear error when the TLS files are missing', async () => {
    const err = await fx
      .start({ tls: { certFile: join(tmp.dir, 'nope.pem'), keyFile: join(tmp.dir, 'nope.key') } })
      .catch((e: unknown) => e);
    expect((err as Error).message).to.match(/cannot load TLS files: .*nope\.pem/);
  });
});

import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@switchyard/client';
import type { Browser, Page } from 'playwright-core';
import { RestartableBroker } from '../helpers/broker.js';
import { launchChromium, skipWithoutChromium } from '../helpers/chromium.js';

const DIST = fileURLToPath(new URL('../../client-sdk/dist/', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const TYPES: Record<string, string> = { '.js': 'text/javascript', '.html': 'text/html', '.map': 'application/json' };

/** Paths of the schema registry (and the exchange lookup) the page reaches at its own origin. */
const REGISTRY_PATH = /^\/(subjects|schemas|api\/exchanges)\//;

/**
 * Serves the built bundles from client-sdk/dist and the test pages from fixtures/, and
 * forwards the registry's paths to the broker's management port (`managementUrl()`): the
 * management port sends no CORS headers, so a page reaches it through its own origin, as
 * behind a reverse proxy.
 */
function serve(managementUrl: () => string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (REGISTRY_PATH.test(req.url ?? '')) {
      const auth = req.headers.authorization;
      fetch(managementUrl() + req.url, { headers: auth === undefined ? {} : { authorization: auth } })
        .then(async (r) =>
          res
            .writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' })
            .end(Buffer.from(await r.arrayBuffer())),
        )
        .catch(() => res.writeHead(502).end());
      return;
    }
    const path =
      normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^\/+/, '') || 'index.html';
    const file = /^switchyard(-schemas)?\.browser/.test(path) ? join(DIST, path) : join(FIXTURES, path);
    if (!file.startsWith(DIST) && !file.startsWith(FIXTURES)) {
      res.writeHead(403).end();
      return;
    }
    readFile(file).then(
      (body) => res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body),
      () => res.writeHead(404).end(),
    );
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const GUEST_AUTH = `Basic ${Buffer.from('guest:guest').toString('base64')}`;
const ORDER_JSON = {
  type: 'object',
  properties: { id: { type: 'integer' }, item: { type: 'string' } },
  required: ['id', 'item'],
  additionalProperties: false,
};

type PageApi = Record<string, (...args: unknown[]) => Promise<unknown>>;

/** Calls one of fixtures/sdk-page.js's functions in the page. */
function call<T>(page: Page, fn: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(([name, params]) => (window as unknown as { sdkPage: PageApi }).sdkPage[name]!(...params), [
    fn,
    args,
  ] as const) as Promise<T>;
}

describe('client SDK in Chromium (browser bundle)', function () {
  this.timeout(60_000);
  let rb: RestartableBroker;
  let http: Server;
  let base: string;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  before(async function () {
    skipWithoutChromium(this, 'the SDK browser tests');
    if (!existsSync(join(DIST, 'switchyard.browser.js')))
      throw new Error('client-sdk/dist/switchyard.browser.js is missing: run `npm run build` first');
    rb = await RestartableBroker.start();
    http = await serve(() => rb.broker.managementUrl!);
    base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await new Promise((resolve) => (http ? http.close(resolve) : resolve(undefined)));
    await rb?.dispose();
  });

  beforeEach(async () => {
    pageErrors.length = 0;
    page = await browser.newPage();
    page.on('pageerror', (err) => pageErrors.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      // Chromium itself logs refused WebSocket connections (while the SDK retries) as errors.
      if (msg.type() === 'error' && !/^WebSocket connection to .* failed/.test(msg.text()))
        pageErrors.push(`console: ${msg.text()}`);
    });
    await page.goto(`${base}/`);
    await page.waitForFunction(
      () => (window as unknown as { sdkPageReady?: boolean }).sdkPageReady === true,
      undefined,
      { timeout: 10_000 },
    );
  });

  afterEach(async () => {
    await page?.close();
    expect(pageErrors).to.deep.equal([], 'errors in the page');
  });

  it('loads the ESM bundle as a module and exposes the public API', async () => {
    const info = await page.evaluate(
      () => (window as unknown as { sdkPageInfo: { exports: string[]; version: string } }).sdkPageInfo,
    );
    expect(info.exports).to.include.members([
      'connect',
      'Connection',
      'Channel',
      'BrokerError',
      'ErrorCode',
      'PublishBufferFullError',
      'SDK_VERSION',
    ]);
    expect(info.version).to.equal('0.1.0');
  });

  it('loads the IIFE bundle as the global `Switchyard`', async () => {
    await page.goto(`${base}/iife.html`);
    const info = await page.evaluate(() => (window as unknown as { iifeInfo: unknown }).iifeInfo);
    expect(info).to.deep.equal({ connect: 'function', version: '0.1.0' });
  });

  it('connects to a real broker, publishes with confirms, consumes and acks', async () => {
    const r = await call<{
      received: { text: string; messageId: string; redelivered: boolean; tag: number }[];
      json: unknown;
      messageCount: number;
      bodyIsUint8Array: boolean;
      product: string;
      state: string;
    }>(page, 'roundTrip', rb.url, 'browser-q', 20);
    expect(r.received.map((m) => m.text)).to.deep.equal(Array.from({ length: 20 }, (_, i) => `m${i}`));
    expect(r.received.map((m) => m.messageId)).to.deep.equal(Array.from({ length: 20 }, (_, i) => `id-${i}`));
    expect(r.received.every((m) => !m.redelivered)).to.equal(true);
    expect(r.json).to.deep.equal({ hello: 'browser', n: 20 });
    expect(r.messageCount).to.equal(0, 'everything was acked');
    expect(r.bodyIsUint8Array).to.equal(true);
    expect(r.product).to.equal('switchyard');
    expect(r.state).to.equal('closed');
    // And the broker agrees, seen from Node.
    const conn = await connect(rb.url);
    const ch = await conn.createChannel();
    expect((await ch.checkQueue('browser-q')).messageCount).to.equal(0);
    await conn.close();
  });

  it('receives what a Node client publishes', async () => {
    const received = call<string[]>(page, 'consumeN', rb.url, 'node-to-browser', 5);
    const conn = await connect(rb.url);
    const ch = await conn.createChannel();
    await ch.assertQueue('node-to-browser', { durable: false });
    for (let i = 0; i < 5; i++) await ch.sendToQueue('node-to-browser', Buffer.from(`from node ${i}`));
    expect(await received).to.deep.equal(Array.from({ length: 5 }, (_, i) => `from node ${i}`));
    await conn.close();
  });

  it('recovers on its own when the broker restarts, sending what was published meanwhile', async () => {
    expect(await call<string>(page, 'startRecovering', rb.url, 'browser-recovery')).to.equal('open');
    await rb.stop();
    let state = await call<{ events: string[] }>(page, 'recoveryState');
    for (let i = 0; i < 100 && !state.events.includes('reconnecting'); i++) {
      await new Promise((r) => setTimeout(r, 20));
      state = await call(page, 'recoveryState');
    }
    expect(state.events).to.include('reconnecting');
    const during = await call<{ state: string; buffered: number }>(
      page,
      'publishDuringRecovery',
      'browser-recovery',
      'while down',
    );
    expect(during).to.deep.equal({ state: 'reconnecting', buffered: 1 });
    await rb.start();
    let after = await call<{ events: string[]; received: string[]; publishes: string[]; state: string }>(
      page,
      'recoveryState',
    );
    for (let i = 0; i < 500 && (after.received.length === 0 || after.publishes[0] === 'pending'); i++) {
      await new Promise((r) => setTimeout(r, 20));
      after = await call(page, 'recoveryState');
    }
    if (!after.events.includes('reconnect')) console.log((after as unknown as { log: string[] }).log.join('\n'));
    expect(after.events).to.include('reconnect');
    expect(after.events).to.not.include('recovery-failed');
    expect(after.publishes).to.deep.equal(['confirmed']);
    expect(after.received).to.deep.equal(['while down']);
    expect(after.state).to.equal('open');
    await call(page, 'stopRecovering');
  });

  it('publishes JSON with the browser build of the schema helpers and decodes it with msg.decode()', async () => {
    const reg = await fetch(`${rb.broker.managementUrl}/subjects/browser-orders/versions`, {
      method: 'POST',
      headers: { authorization: GUEST_AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ schemaType: 'JSON', schema: JSON.stringify(ORDER_JSON) }),
    });
    expect(reg.status).to.equal(200);
    const { id } = (await reg.json()) as { id: number };
    const conn = await connect(rb.url);
    const ch = await conn.createChannel();
    await ch.assertExchange('browser-orders', 'fanout', {
      durable: false,
      arguments: { 'x-schema-subject': 'browser-orders' },
    });
    await conn.close();
    const r = await call<{
      decoded: unknown[];
      refused: string;
      firstByte: number;
      schemaIds: number[];
      plainDecode: unknown;
    }>(page, 'schemaJson', rb.url, 'browser-orders');
    expect(r.decoded).to.deep.equal([
      { id: 1, item: 'tea' },
      { id: 2, item: 'cake' },
    ]);
    expect(r.firstByte).to.equal(0, 'publishJson frames the message with its schema id');
    expect(r.schemaIds).to.deep.equal([id, id]);
    expect(r.refused).to.match(/^406: .*subject 'browser-orders' version 1/);
    expect(r.plainDecode).to.deep.equal({ x: 1 });
  });

  it('publishes with confirms at a measurable rate (reported)', async () => {
    const r = await call<{ msgs: number; seconds: number; rate: number }>(
      page,
      'publishRate',
      rb.url,
      'browser-rate',
      20_000,
      100,
    );
    console.log(
      `      browser publish with confirms: ${Math.round(r.rate).toLocaleString('en-US')} msgs/s (100 B, ${r.msgs} msgs)`,
    );
    expect(r.rate).to.be.greaterThan(1000);
  });
});

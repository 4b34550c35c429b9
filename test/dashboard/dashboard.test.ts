import { expect } from 'chai';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { useBroker } from '../helpers/broker.js';
import { launchChromium, skipWithoutChromium } from '../helpers/chromium.js';
import { open } from '../helpers/client.js';
import { api } from '../helpers/http.js';
import { brokerInternals } from '@switchyard/broker/internal';

/** Screenshots land here (gitignored). */
const OUTPUT_DIR = fileURLToPath(new URL('../../test-output/', import.meta.url));

describe('web dashboard (Chromium)', function () {
  this.timeout(30_000);
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  before(async function () {
    skipWithoutChromium(this, 'the dashboard browser test');
    browser = await launchChromium();
    page = await browser.newPage({
      viewport: { width: 1280, height: 1000 },
      httpCredentials: { username: 'guest', password: 'guest' },
    });
    page.on('pageerror', (err) => pageErrors.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') pageErrors.push(`console: ${msg.text()}`);
    });
    page.on('dialog', (dialog) => void dialog.accept());
  });

  after(async () => {
    await browser?.close();
  });
  // Registered after the hooks above: the broker starts once the browser runs (not at all
  // when the suite is skipped) and stops after the browser closed, as before.
  const fx = useBroker({}, { per: 'suite' });

  /** The text of a queue's cell, once the table shows it. */
  const cell = (queue: string, field: string): ReturnType<Page['locator']> =>
    page.locator(`#queues tr[data-queue="${queue}"] td[data-field="${field}"]`);
  const waitForText = async (queue: string, field: string, expected: string): Promise<void> => {
    await page.waitForFunction(
      ([q, f, want]) =>
        document.querySelector(`#queues tr[data-queue="${q}"] td[data-field="${f}"]`)?.textContent === want,
      [queue, field, expected] as const,
      { timeout: 5_000 },
    );
  };

  it('shows queue depth changing live, charts a queue, publishes a test message, and purges from the page', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('dash-q', { durable: true });
    await page.goto(fx.tb.broker.managementUrl! + '/');
    expect(await page.title()).to.equal('Switchyard');
    await waitForText('dash-q', 'ready', '0');

    // depth follows publishes within the refresh interval (≤ 2 s)
    const before = Date.now();
    for (let i = 0; i < 5; i++) await ch.sendToQueue('dash-q', Buffer.from(`m${i}`), { persistent: true });
    await waitForText('dash-q', 'ready', '5');
    expect(Date.now() - before).to.be.below(2_500);
    expect(Number(await cell('dash-q', 'publish-rate').textContent())).to.be.greaterThan(0);
    await page.waitForFunction(() => document.querySelector('[data-card="ready"] .value')?.textContent === '5');

    // the per-queue chart
    await page.click('#queues tr[data-queue="dash-q"] td.name button');
    await page.waitForSelector('#queue-detail:not([hidden]) #queue-depth svg polyline', {
      state: 'attached',
      timeout: 5_000,
    });
    expect(await page.locator('#detail-name').textContent()).to.equal('dash-q');

    // a test message from the page
    await page.click('#queues tr[data-queue="dash-q"] button[data-action="publish"]');
    await waitForText('dash-q', 'ready', '6');
    expect(brokerInternals(fx.tb.broker).vhost('/')!.queue('dash-q')!.messageCount).to.equal(6);

    await mkdir(OUTPUT_DIR, { recursive: true });
    await page.screenshot({ path: `${OUTPUT_DIR}dashboard.png`, fullPage: true });

    // purge from the page
    await page.click('#queues tr[data-queue="dash-q"] button[data-action="purge"]');
    await waitForText('dash-q', 'ready', '0');
    expect((await ch.checkQueue('dash-q')).messageCount).to.equal(0);
    expect(await page.locator('#toast').textContent()).to.match(/purged 6 messages from 'dash-q'/);

    expect(pageErrors).to.deep.equal([]);
  });

  it('shows a stream with its first/last offset and named readers with their lag', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('dash-s', { durable: true, arguments: { 'x-queue-type': 'stream' } });
    for (let i = 0; i < 5; i++) await ch.sendToQueue('dash-s', Buffer.from(`e${i}`));
    await ch.storeOffset('dash-s', 'audit', 1);
    await page.goto(fx.tb.broker.managementUrl! + '/');
    await page.waitForFunction(
      () =>
        document
          .querySelector('#queues tr[data-queue="dash-s"] [data-field="stream"]')
          ?.textContent?.includes('audit lag 3') === true,
      undefined,
      { timeout: 5_000 },
    );
    expect(await page.locator('#queues tr[data-queue="dash-s"] [data-field="stream"]').textContent()).to.match(
      /^stream · offsets 0–4 · audit lag 3 /,
    );
    expect(pageErrors).to.deep.equal([]);
  });

  it('lists connections and consumers, and deletes a queue from the page', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('dash-del');
    await ch.consume('dash-del', () => undefined, { consumerTag: 'dash-consumer' });
    await page.waitForFunction(
      () => Array.from(document.querySelectorAll('#consumers td')).some((td) => td.textContent === 'dash-consumer'),
      undefined,
      { timeout: 5_000 },
    );
    expect(await page.locator('#connections tbody tr').count()).to.be.at.least(1);
    // The Protocol column: this SDK connection speaks our WebSocket protocol (AMQP ones say AMQP 0-9-1).
    await page.waitForFunction(
      () => Array.from(document.querySelectorAll('#connections td')).some((td) => td.textContent === 'WebSocket'),
      undefined,
      { timeout: 5_000 },
    );
    await page.click('#queues tr[data-queue="dash-del"] button[data-action="delete"]');
    await page.waitForFunction(() => document.querySelector('#queues tr[data-queue="dash-del"]') === null, undefined, {
      timeout: 5_000,
    });
    expect(brokerInternals(fx.tb.broker).vhost('/')!.queue('dash-del')).to.equal(undefined);
    expect(pageErrors).to.deep.equal([]);
  });
  it('shows links: a running shovel with the messages it moved, and a reconnecting one with its error and next attempt', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('dash-link-src', { durable: true });
    await ch.assertQueue('dash-link-dst', { durable: true });
    for (let i = 0; i < 3; i++) await ch.sendToQueue('dash-link-src', Buffer.from(`m${i}`), { persistent: true });
    const put = async (name: string, value: object): Promise<void> => {
      const r = await api(fx.tb, 'PUT', `/api/parameters/shovel/%2F/${name}`, { value });
      expect(r.status).to.be.oneOf([201, 204]);
    };
    await put('dash-shovel', {
      'src-uri': fx.tb.url,
      'src-queue': 'dash-link-src',
      'dest-uri': fx.tb.url,
      'dest-queue': 'dash-link-dst',
    });
    // port 1 refuses: the link keeps reconnecting
    await put('dash-broken', {
      'src-uri': 'ws://127.0.0.1:1',
      'src-queue': 'nowhere',
      'dest-uri': fx.tb.url,
      'dest-queue': 'dash-link-dst',
    });
    await page.goto(fx.tb.broker.managementUrl! + '/');
    // data-link is type:vhost/name, here in vhost '/'
    const row = (name: string): string => `#links tr[data-link="shovel://${name}"]`;
    await page.waitForFunction(
      (sel) => {
        const cells = Array.from(document.querySelectorAll(`${sel} td`)).map((td) => td.textContent);
        return cells[2] === 'running' && cells[5] === '3';
      },
      row('dash-shovel'),
      { timeout: 15_000 },
    );
    await page.waitForFunction(
      (sel) => {
        const cells = Array.from(document.querySelectorAll(`${sel} td`)).map((td) => td.textContent ?? '');
        return cells[2] === 'reconnecting' && cells[8] !== '-' && cells[8] !== '' && cells[9] !== '-';
      },
      row('dash-broken'),
      { timeout: 15_000 },
    );
    expect(
      await page
        .locator(`${row('dash-shovel')} td`)
        .nth(1)
        .textContent(),
    ).to.equal('shovel');
    for (const name of ['dash-shovel', 'dash-broken']) await api(fx.tb, 'DELETE', `/api/parameters/shovel/%2F/${name}`);
    await page.waitForFunction(() => document.querySelectorAll('#links tbody tr').length === 0, undefined, {
      timeout: 5_000,
    });
    expect(pageErrors).to.deep.equal([]);
  });

  it('shows schema subjects with their versions, ids, compatibility and validating exchanges; shows a version', async () => {
    const avro = (fields: object[]): string => JSON.stringify({ type: 'record', name: 'Dash', fields });
    const v1 = await api(fx.tb, 'POST', '/subjects/dash-orders/versions', {
      schema: avro([{ name: 'id', type: 'int' }]),
    });
    const v2 = await api(fx.tb, 'POST', '/subjects/dash-orders/versions', {
      schema: avro([
        { name: 'id', type: 'int' },
        { name: 'note', type: 'string', default: '' },
      ]),
    });
    expect(v2.status).to.equal(200);
    await api(fx.tb, 'PUT', '/config/dash-orders', { compatibility: 'FULL' });
    await api(fx.tb, 'POST', '/subjects/dash-json/versions', {
      schema: '{"type":"object","additionalProperties":false}',
      schemaType: 'JSON',
    });
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertExchange('dash-validated', 'topic', {
      durable: false,
      arguments: { 'x-schema-subject': 'dash-orders', 'x-schema-version': 2 },
    });
    await page.goto(fx.tb.broker.managementUrl! + '/');
    const row = (subject: string, field: string): string =>
      `#schemas tr[data-subject="${subject}"] td[data-field="${field}"]`;
    await page.waitForSelector(row('dash-orders', 'versions'), { timeout: 5_000 });
    expect(await page.locator(row('dash-orders', 'type')).textContent()).to.equal('AVRO');
    expect(await page.locator(row('dash-orders', 'compatibility')).textContent()).to.equal('FULL');
    expect(await page.locator(row('dash-json', 'compatibility')).textContent()).to.equal('BACKWARD (global)');
    expect(await page.locator(row('dash-json', 'type')).textContent()).to.equal('JSON');
    const ids = [(v1.body as { id: number }).id, (v2.body as { id: number }).id];
    expect(await page.locator(row('dash-orders', 'versions')).textContent()).to.equal(`v1 (${ids[0]})v2 (${ids[1]})`);
    expect(await page.locator(row('dash-orders', 'exchanges')).textContent()).to.equal('dash-validated (2)');
    expect(await page.locator('#schemas-global').textContent()).to.equal('global compatibility: BACKWARD');

    // A version's schema, indented, from the page.
    await page.click(`${row('dash-orders', 'versions')} button[data-version="2"]`);
    await page.waitForSelector('#schema-detail:not([hidden])', { timeout: 5_000 });
    expect(await page.locator('#schema-version').textContent()).to.equal(`2 (id ${ids[1]}, AVRO)`);
    expect(JSON.parse((await page.locator('#schema-text').textContent())!)).to.deep.include({ name: 'Dash' });
    await mkdir(OUTPUT_DIR, { recursive: true });
    await page.screenshot({ path: `${OUTPUT_DIR}dashboard-schemas.png`, fullPage: true });

    // A new version shows up without a reload.
    const added = await api(fx.tb, 'POST', '/subjects/dash-json/versions', {
      schema: '{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}',
      schemaType: 'JSON',
    });
    expect(added.status, JSON.stringify(added.body)).to.equal(200);
    await page.waitForFunction(
      (sel) => document.querySelector(sel)?.textContent?.includes('v2') === true,
      row('dash-json', 'versions'),
      { timeout: 5_000 },
    );
    expect(pageErrors).to.deep.equal([]);
  });
});

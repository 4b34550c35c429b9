import { expect } from 'chai';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { closeAll, open, type Connection } from '../helpers/client.js';
import { parseExposition, valueOf } from './exposition.js';

describe('GET /metrics (Prometheus)', () => {
  let tb: TestBroker;
  const conns: Connection[] = [];
  beforeEach(async () => {
    tb = await startBroker();
  });
  afterEach(async () => {
    await closeAll(conns);
    await tb.stop();
  });

  const scrape = async (): Promise<{ text: string; contentType: string | null }> => {
    const res = await fetch(`${tb.broker.managementUrl}/metrics`);
    expect(res.status).to.equal(200);
    return { text: await res.text(), contentType: res.headers.get('content-type') };
  };

  it('serves the text exposition format with HELP and TYPE for every family', async () => {
    const { text, contentType } = await scrape();
    expect(contentType).to.equal('text/plain; version=0.0.4; charset=utf-8');
    const families = parseExposition(text);
    for (const f of families.values()) {
      expect(f.help, f.name).to.not.equal('');
      expect(['gauge', 'counter', 'histogram'], f.name).to.include(f.type);
      if (f.type === 'counter') expect(f.name).to.match(/_total$/);
    }
    for (const name of ['switchyard_connections', 'switchyard_channels', 'switchyard_store_size_bytes', 'process_resident_memory_bytes', 'switchyard_commit_latency_seconds', 'switchyard_confirm_latency_seconds']) {
      expect(families.has(name), name).to.equal(true);
    }
  });

  it('reports per-queue depth and totals, and broker gauges, after known traffic', async () => {
    const { ch } = await open(tb.url, conns);
    await ch.assertQueue('metrics-q', { durable: true });
    await ch.assertQueue('idle-q');
    for (let i = 0; i < 10; i++) await ch.sendToQueue('metrics-q', Buffer.from(`m${i}`), { persistent: true });
    const got = [];
    for (let i = 0; i < 4; i++) got.push((await ch.get('metrics-q'))!);
    for (const m of got.slice(0, 3)) ch.ack(m as never);
    ch.nack(got[3] as never, false, true); // back to the head, redelivered next time
    const again = await ch.get('metrics-q');
    expect(again && again.fields.redelivered).to.equal(true);
    await new Promise((r) => setTimeout(r, 20));

    const f = parseExposition((await scrape()).text);
    const q = { vhost: '/', queue: 'metrics-q' };
    expect(valueOf(f, 'switchyard_queue_messages_ready', q)).to.equal(6);
    expect(valueOf(f, 'switchyard_queue_messages_unacked', q)).to.equal(1);
    expect(valueOf(f, 'switchyard_queue_messages', q)).to.equal(7);
    expect(valueOf(f, 'switchyard_queue_consumers', q)).to.equal(0);
    expect(valueOf(f, 'switchyard_queue_messages_published_total', q)).to.equal(10);
    expect(valueOf(f, 'switchyard_queue_messages_delivered_total', q)).to.equal(5);
    expect(valueOf(f, 'switchyard_queue_messages_redelivered_total', q)).to.equal(1);
    expect(valueOf(f, 'switchyard_queue_messages_acked_total', q)).to.equal(3);
    expect(valueOf(f, 'switchyard_queue_messages_dead_lettered_total', q)).to.equal(0);
    expect(valueOf(f, 'switchyard_queue_messages_ready_bytes', q)).to.equal(12);
    expect(valueOf(f, 'switchyard_queue_oldest_message_age_seconds', q)).to.be.greaterThan(0);
    expect(valueOf(f, 'switchyard_queue_oldest_message_age_seconds', { queue: 'idle-q' })).to.equal(0);
    expect(valueOf(f, 'switchyard_queue_messages_ready', { queue: 'idle-q' })).to.equal(0);

    expect(valueOf(f, 'switchyard_connections')).to.equal(1);
    expect(valueOf(f, 'switchyard_channels')).to.equal(1);
    expect(valueOf(f, 'switchyard_queues')).to.equal(2);
    expect(valueOf(f, 'switchyard_messages_published_total')).to.equal(10);
    expect(valueOf(f, 'switchyard_messages_acked_total')).to.equal(3);
    expect(valueOf(f, 'switchyard_connections_opened_total')).to.equal(1);
    expect(valueOf(f, 'switchyard_store_size_bytes')).to.be.greaterThan(0);
    expect(valueOf(f, 'process_resident_memory_bytes')).to.be.greaterThan(1e6);
    expect(valueOf(f, 'switchyard_build_info', { version: tb.broker.version })).to.equal(1);
  });

  it('exposes commit and confirm latency as cumulative histograms', async () => {
    const { ch } = await open(tb.url, conns);
    await ch.assertQueue('lat-q', { durable: true });
    for (let i = 0; i < 5; i++) await ch.sendToQueue('lat-q', Buffer.from('x'), { persistent: true });
    const f = parseExposition((await scrape()).text);
    for (const name of ['switchyard_commit_latency_seconds', 'switchyard_confirm_latency_seconds']) {
      const family = f.get(name)!;
      expect(family.type).to.equal('histogram');
      const buckets = family.samples.filter((s) => s.name === `${name}_bucket`);
      const les = buckets.map((b) => b.labels['le']);
      expect(les[les.length - 1]).to.equal('+Inf');
      const values = buckets.map((b) => b.value);
      for (let i = 1; i < values.length; i++) expect(values[i]).to.be.at.least(values[i - 1]!);
      const count = valueOf(f, `${name}_count`)!;
      expect(count).to.be.at.least(5);
      expect(values[values.length - 1]).to.equal(count);
      expect(valueOf(f, `${name}_sum`)).to.be.greaterThan(0);
    }
  });

  it('escapes label values (quotes, backslashes in queue names; control characters are refused in names)', async () => {
    const { ch } = await open(tb.url, conns);
    const name = 'we"ird\\name with space';
    await ch.assertQueue(name);
    await ch.sendToQueue(name, Buffer.from('x'));
    const text = (await scrape()).text;
    expect(text).to.include('queue="we\\"ird\\\\name with space"');
    expect(valueOf(parseExposition(text), 'switchyard_queue_messages_ready', { queue: name })).to.equal(1);
  });

  it('drops the series of a deleted queue', async () => {
    const { ch } = await open(tb.url, conns);
    await ch.assertQueue('gone-q');
    expect(valueOf(parseExposition((await scrape()).text), 'switchyard_queue_messages_ready', { queue: 'gone-q' })).to.equal(0);
    await ch.deleteQueue('gone-q');
    expect(valueOf(parseExposition((await scrape()).text), 'switchyard_queue_messages_ready', { queue: 'gone-q' })).to.equal(undefined);
  });
});

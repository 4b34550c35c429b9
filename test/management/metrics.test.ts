import { expect } from 'chai';
import { connect } from '@switchyard/client';
import { startBroker, useBroker } from '../helpers/broker.js';
import { open } from '../helpers/client.js';
import { brokerInternals, streamMetrics } from '@switchyard/broker/internal';
import { parseExposition, valueOf } from '../helpers/exposition.js';
import { api } from '../helpers/http.js';

describe('GET /metrics (Prometheus)', () => {
  const fx = useBroker({});

  // Per-queue series are on /metrics/per-object (RabbitMQ's split); /metrics aggregates them.
  const scrape = async (path = '/metrics/per-object'): Promise<{ text: string; contentType: string | null }> => {
    const res = await fetch(`${fx.tb.broker.managementUrl}${path}`);
    expect(res.status).to.equal(200);
    return { text: await res.text(), contentType: res.headers.get('content-type') };
  };

  it('serves the text exposition format with HELP and TYPE for every family', async () => {
    const { text, contentType } = await scrape('/metrics');
    expect(contentType).to.equal('text/plain; version=0.0.4; charset=utf-8');
    const families = parseExposition(text);
    for (const f of families.values()) {
      expect(f.help, f.name).to.not.equal('');
      expect(['gauge', 'counter', 'histogram', 'summary'], f.name).to.include(f.type);
      if (f.type === 'counter') expect(f.name).to.match(/_total$/);
    }
    for (const name of [
      'switchyard_connections',
      'switchyard_channels',
      'switchyard_store_size_bytes',
      'process_resident_memory_bytes',
      'switchyard_commit_latency_seconds',
      'switchyard_confirm_latency_seconds',
    ]) {
      expect(families.has(name), name).to.equal(true);
    }
  });

  it('reports per-queue depth and totals, and broker gauges, after known traffic', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('metrics-q', { durable: true });
    await ch.assertQueue('idle-q');
    for (let i = 0; i < 10; i++) await ch.sendToQueue('metrics-q', Buffer.from(`m${i}`), { persistent: true });
    const got = [];
    for (let i = 0; i < 4; i++) got.push(await ch.get('metrics-q'));
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
    expect(valueOf(f, 'switchyard_build_info', { version: fx.tb.broker.version })).to.equal(1);
  });

  it('exposes commit and confirm latency as cumulative histograms', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
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

  it('aggregates queue families on /metrics, as rabbitmq_prometheus does by default', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('agg-a');
    await ch.assertQueue('agg-b');
    for (let i = 0; i < 3; i++) await ch.sendToQueue('agg-a', Buffer.from('x'));
    await ch.sendToQueue('agg-b', Buffer.from('y'));
    const text = (await scrape('/metrics')).text;
    expect(text).to.not.include('queue="');
    const f = parseExposition(text);
    expect(valueOf(f, 'switchyard_queue_messages_ready')).to.equal(4);
    expect(valueOf(f, 'switchyard_queue_messages_published_total')).to.equal(4);
    expect(f.get('switchyard_queue_messages_ready')!.samples).to.have.length(1);
    expect(valueOf(f, 'switchyard_queues')).to.equal(2);
    const perObject = parseExposition((await scrape('/metrics/per-object')).text);
    expect(valueOf(perObject, 'switchyard_queue_messages_ready', { queue: 'agg-a' })).to.equal(3);
  });

  it('keeps per-queue series on /metrics with metricsPerObject (return_per_object_metrics)', async () => {
    const other = await startBroker({ metricsPerObject: true });
    try {
      const conn = await connect(other.url);
      const ch = await conn.createChannel();
      await ch.assertQueue('po-q');
      await conn.close();
      const text = await (await fetch(`${other.broker.managementUrl}/metrics`)).text();
      expect(valueOf(parseExposition(text), 'switchyard_queue_messages_ready', { queue: 'po-q' })).to.equal(0);
    } finally {
      await other.stop();
    }
  });

  it('streams 20,000 queues in bounded chunks, yielding to the event loop between them', async () => {
    const vhost = brokerInternals(fx.tb.broker).vhost('/')!;
    for (let i = 0; i < 20_000; i++) {
      vhost.declareQueue(
        { queue: `bulk-${i}`, passive: false, durable: false, exclusive: false, autoDelete: false, arguments: {} },
        'test',
      );
    }
    const chunks: number[] = [];
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 0);
    const seen: number[] = [];
    try {
      await streamMetrics(
        brokerInternals(fx.tb.broker),
        async (chunk) => {
          chunks.push(chunk.split('\n').length);
          seen.push(ticks);
          await new Promise((r) => setImmediate(r));
          await new Promise((r) => setTimeout(r, 1));
        },
        true,
      );
    } finally {
      clearInterval(ticker);
    }
    expect(chunks.length).to.be.greaterThan(100);
    expect(Math.max(...chunks)).to.be.at.most(2_100);
    expect(seen[seen.length - 1]).to.be.greaterThan(seen[0]!); // timers ran while it streamed
    const res = await fetch(`${fx.tb.broker.managementUrl}/metrics/per-object`);
    expect(res.headers.get('content-length')).to.equal(null); // chunked, not built whole
    const f = parseExposition(await res.text());
    expect(f.get('switchyard_queue_messages_ready')!.samples).to.have.length(20_000);
  });

  it('escapes label values (quotes, backslashes in queue names; control characters are refused in names)', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    const name = 'we"ird\\name with space';
    await ch.assertQueue(name);
    await ch.sendToQueue(name, Buffer.from('x'));
    const text = (await scrape()).text;
    expect(text).to.include('queue="we\\"ird\\\\name with space"');
    expect(valueOf(parseExposition(text), 'switchyard_queue_messages_ready', { queue: name })).to.equal(1);
  });

  it('drops the series of a deleted queue', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('gone-q');
    expect(
      valueOf(parseExposition((await scrape()).text), 'switchyard_queue_messages_ready', { queue: 'gone-q' }),
    ).to.equal(0);
    await ch.deleteQueue('gone-q');
    expect(
      valueOf(parseExposition((await scrape()).text), 'switchyard_queue_messages_ready', { queue: 'gone-q' }),
    ).to.equal(undefined);
  });

  it('reports the event-loop delay on /metrics and /api/overview, and it rises when the loop is blocked', async () => {
    // A fresh window, then a quiet 100 ms: the loop is free, so the delay stays small.
    expect((await api(fx.tb, 'POST', '/api/overview/event-loop-delay/reset')).status).to.equal(200);
    await new Promise((r) => setTimeout(r, 100));
    const quiet = (await api(fx.tb, 'GET', '/api/overview')).body.eventLoopDelayMs;
    expect(quiet.samples).to.be.greaterThan(0);
    for (const k of ['p50', 'p99', 'p999', 'max']) expect(quiet[k], k).to.be.a('number').and.at.least(0);
    expect(quiet.p50).to.be.at.most(quiet.p99);
    expect(quiet.p99).to.be.at.most(quiet.max);
    expect(quiet.max).to.be.below(150);

    // The broker runs in this process: a 200 ms synchronous block stalls its event loop.
    const until = Date.now() + 200;
    while (Date.now() < until) {
      /* busy */
    }
    await new Promise((r) => setTimeout(r, 30));
    const f = parseExposition((await scrape('/metrics')).text);
    expect(f.get('switchyard_event_loop_delay_seconds')!.type).to.equal('summary');
    expect(valueOf(f, 'switchyard_event_loop_delay_max_seconds')).to.be.within(0.18, 5);
    expect(valueOf(f, 'switchyard_event_loop_delay_seconds', { quantile: '0.999' })).to.be.at.least(0.18);
    expect(valueOf(f, 'switchyard_event_loop_delay_seconds_count')).to.be.greaterThan(0);
    const blocked = (await api(fx.tb, 'POST', '/api/overview/event-loop-delay/reset')).body;
    expect(blocked.max).to.be.within(180, 5000);

    // The reset started a new window: the stall is gone from it.
    await new Promise((r) => setTimeout(r, 50));
    expect((await api(fx.tb, 'GET', '/api/overview')).body.eventLoopDelayMs.max).to.be.below(150);
  });
});

import { expect } from 'chai';
import { managementGet, useBroker } from '../helpers/broker.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { open, sleep, text, waitFor, type Channel, type Message } from '../helpers/client.js';

const STREAM = { durable: true, arguments: { 'x-queue-type': 'stream' } };

async function fill(ch: Channel, stream: string, from: number, to: number): Promise<void> {
  await Promise.all(Array.from({ length: to - from }, (_, i) => ch.sendToQueue(stream, Buffer.from(String(from + i)))));
}

/** Consumes with `x-stream-offset` = `offset` until `n` messages came; returns bodies and offsets. */
async function read(
  ch: Channel,
  stream: string,
  offset: unknown,
  n: number,
): Promise<{ bodies: string[]; offsets: number[]; tag: string }> {
  const got: Message[] = [];
  await ch.prefetch(10);
  const { consumerTag } = await ch.consume(
    stream,
    (m) => {
      if (m === null) return;
      got.push(m);
      ch.ack(m);
    },
    { arguments: offset === undefined ? {} : { 'x-stream-offset': offset as string } },
  );
  await waitFor(() => got.length >= n, `${n} messages from ${JSON.stringify(offset)}`);
  return {
    bodies: got.map(text),
    offsets: got.map((m) => m.properties.headers?.['x-stream-offset'] as number),
    tag: consumerTag,
  };
}

describe('stream queues over the SDK', () => {
  const clock = new FakeClock();
  const fx = useBroker({ noSync: true, clock });

  it('refuses non-durable, exclusive and auto-delete streams with 406', async () => {
    for (const opts of [{ durable: false }, { exclusive: true }, { autoDelete: true }]) {
      const { ch } = await open(fx.tb.url, fx.conns);
      const err = await ch.assertQueue('s', { ...STREAM, ...opts }).catch((e: unknown) => e);
      expect(err).to.include({ code: 406 });
    }
  });

  it('replays from first, an offset, last and next; consuming never removes', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    const { messageCount } = await ch.assertQueue('ev', STREAM);
    expect(messageCount).to.equal(0);
    await fill(ch, 'ev', 0, 20);

    const first = await read(ch, 'ev', 'first', 20);
    expect(first.bodies).to.deep.equal(Array.from({ length: 20 }, (_, i) => String(i)));
    expect(first.offsets).to.deep.equal(Array.from({ length: 20 }, (_, i) => i));

    const { ch: ch2 } = await open(fx.tb.url, fx.conns);
    const fromSeven = await read(ch2, 'ev', 7, 13);
    expect(fromSeven.offsets[0]).to.equal(7);
    expect(fromSeven.bodies.length).to.equal(13);

    const { ch: ch3 } = await open(fx.tb.url, fx.conns);
    const last = await read(ch3, 'ev', 'last', 1);
    expect(last.offsets).to.deep.equal([19]);

    const { ch: ch4 } = await open(fx.tb.url, fx.conns);
    const got: Message[] = [];
    await ch4.prefetch(5);
    await ch4.consume('ev', (m) => void (m !== null && got.push(m) && ch4.ack(m)));
    await sleep(100);
    expect(got.length, 'next (the default) starts after the last message').to.equal(0);
    await fill(ch, 'ev', 20, 21);
    await waitFor(() => got.length === 1, 'the new message');
    expect(got[0]!.properties.headers?.['x-stream-offset']).to.equal(20);
    expect((await ch.checkQueue('ev')).messageCount).to.equal(21);
  });

  it('starts from a timestamp or an interval, as RabbitMQ', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('timed', STREAM);
    await fill(ch, 'timed', 0, 5);
    clock.advance(3_600_000 * 2); // two hours later
    const midSeconds = clock.now() / 1000;
    clock.advance(60_000);
    await fill(ch, 'timed', 5, 8);
    const byTime = await read(ch, 'timed', { '!': 'timestamp', value: midSeconds }, 3);
    expect(byTime.offsets).to.deep.equal([5, 6, 7]);
    const { ch: ch2 } = await open(fx.tb.url, fx.conns);
    const byInterval = await read(ch2, 'timed', '30m', 3);
    expect(byInterval.offsets).to.deep.equal([5, 6, 7]);
    const { ch: ch3 } = await open(fx.tb.url, fx.conns);
    const all = await read(ch3, 'timed', '1D', 8);
    expect(all.offsets[0]).to.equal(0);
  });

  it('two readers at different speeds each get the whole log in order', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('speeds', STREAM);
    await fill(ch, 'speeds', 0, 300);
    const fast: number[] = [];
    const slow: number[] = [];
    const { ch: a } = await open(fx.tb.url, fx.conns);
    const { ch: b } = await open(fx.tb.url, fx.conns);
    await a.prefetch(50);
    await b.prefetch(1);
    await a.consume('speeds', (m) => void (m !== null && fast.push(Number(text(m))) && a.ack(m)), {
      arguments: { 'x-stream-offset': 'first' },
    });
    await b.consume(
      'speeds',
      (m) => {
        if (m === null) return;
        slow.push(Number(text(m)));
        setTimeout(() => b.ack(m), 1);
      },
      { arguments: { 'x-stream-offset': 'first' } },
    );
    await waitFor(() => fast.length === 300 && slow.length === 300, 'both readers', 15_000);
    const expected = Array.from({ length: 300 }, (_, i) => i);
    expect(fast).to.deep.equal(expected);
    expect(slow).to.deep.equal(expected);
  });

  it('needs a prefetch (406), refuses basic.get and purge, and checks x-stream-offset', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('rules', STREAM);
    const noPrefetch = await ch.consume('rules', () => undefined).catch((e: unknown) => e);
    expect(noPrefetch).to.include({ code: 406 });
    const { ch: ch2 } = await open(fx.tb.url, fx.conns);
    await ch2.prefetch(1);
    const bad = await ch2
      .consume('rules', () => undefined, { arguments: { 'x-stream-offset': 'yesterday' } })
      .catch((e: unknown) => e);
    expect(bad).to.include({ code: 406 });
    const { conn: c3, ch: ch3 } = await open(fx.tb.url, fx.conns);
    const get = await ch3.get('rules').catch((e: unknown) => e);
    expect(get).to.include({ code: 540 });
    void c3;
  });

  it('survives a restart: offsets and messages unchanged', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('kept', STREAM);
    await fill(ch, 'kept', 0, 50);
    fx.tb = await fx.tb.restart();
    fx.conns.splice(0);
    const { ch: again } = await open(fx.tb.url, fx.conns);
    expect((await again.checkQueue('kept')).messageCount).to.equal(50);
    const r = await read(again, 'kept', 40, 10);
    expect(r.offsets).to.deep.equal(Array.from({ length: 10 }, (_, i) => 40 + i));
    expect(r.bodies[0]).to.equal('40');
    await fill(again, 'kept', 50, 51);
    const { ch: next } = await open(fx.tb.url, fx.conns);
    expect((await read(next, 'kept', 'last', 1)).offsets).to.deep.equal([50]);
  });

  it('retention by size removes whole old segments; a reader there continues from the first kept', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    const args = { 'x-queue-type': 'stream', 'x-max-length-bytes': 300, 'x-stream-max-segment-size-bytes': 100 };
    await ch.assertQueue('sized', { durable: true, arguments: args });
    const body = Buffer.alloc(50, 'x');
    for (let i = 0; i < 20; i++) await ch.sendToQueue('sized', body); // 20 x 50 B, segments of 2
    const { messageCount } = await ch.checkQueue('sized');
    expect(messageCount).to.be.at.most(8).and.at.least(6);
    const r = await read(ch, 'sized', 0, messageCount);
    expect(r.offsets[0]).to.equal(20 - messageCount);
    expect(r.offsets[r.offsets.length - 1]).to.equal(19);
  });

  it('retention by age (x-max-age) drops segments older than it when a segment closes', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    const args = { 'x-queue-type': 'stream', 'x-max-age': '1h', 'x-stream-max-segment-size-bytes': 100 };
    await ch.assertQueue('aged', { durable: true, arguments: args });
    const body = Buffer.alloc(50, 'y');
    for (let i = 0; i < 6; i++) await ch.sendToQueue('aged', body);
    clock.advance(2 * 3_600_000);
    for (let i = 0; i < 3; i++) await ch.sendToQueue('aged', body); // closes a segment: retention runs
    const { messageCount } = await ch.checkQueue('aged');
    expect(messageCount).to.be.at.most(3);
    const r = await read(ch, 'aged', 'first', messageCount);
    expect(r.offsets[0]).to.equal(9 - messageCount);
  });

  it('single active consumer: only the first reader is served, the next takes over from its own start', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('sac', {
      durable: true,
      arguments: { 'x-queue-type': 'stream', 'x-single-active-consumer': true },
    });
    await fill(ch, 'sac', 0, 10);
    const { conn: c1, ch: a } = await open(fx.tb.url, fx.conns);
    const { ch: b } = await open(fx.tb.url, fx.conns);
    const gotA: number[] = [];
    const gotB: number[] = [];
    for (const [chan, got] of [
      [a, gotA],
      [b, gotB],
    ] as const) {
      await chan.prefetch(5);
      await chan.consume('sac', (m) => void (m !== null && got.push(Number(text(m))) && chan.ack(m)), {
        arguments: { 'x-stream-offset': 'first' },
      });
    }
    await waitFor(() => gotA.length === 10, 'the active reader');
    await sleep(100);
    expect(gotB).to.deep.equal([]);
    await c1.close();
    await waitFor(() => gotB.length === 10, 'the next reader takes over');
    expect(gotB[0]).to.equal(0);
  });

  it('the management API shows first/last offset and each reader with its lag', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('seen', STREAM);
    await fill(ch, 'seen', 0, 30);
    await ch.prefetch(10); // no acks: the reader stops after 10
    await ch.consume('seen', () => undefined, { arguments: { 'x-stream-offset': 'first' } });
    await sleep(200);
    const q = await managementGet<{
      type: string;
      stream: { firstOffset: number; lastOffset: number; readers: { offset: number; lag: number }[] };
    }>(fx.tb, '/api/queues/%2F/seen');
    expect(q.type).to.equal('stream');
    expect(q.stream).to.include({ firstOffset: 0, lastOffset: 29 });
    expect(q.stream.readers).to.have.length(1);
    expect(q.stream.readers[0]).to.include({ offset: 10, lag: 20 });
  });

  it('a named reader stores its offset with its acks and resumes after it, also after a restart', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('named', STREAM);
    await fill(ch, 'named', 0, 20);
    const { conn: c1, ch: a } = await open(fx.tb.url, fx.conns);
    await a.prefetch(20);
    const got: Message[] = [];
    await a.consume('named', (m) => void (m !== null && got.push(m)), {
      arguments: { 'x-stream-offset': 'first', 'x-stream-reader': 'billing' },
    });
    await waitFor(() => got.length === 20, '20 deliveries');
    for (const m of got.slice(0, 8)) a.ack(m); // offsets 0..7 processed
    // The ack travels with no reply: poll the stored offset.
    for (let k = 0; k < 100 && (await ch.queryOffset('named', 'billing')) !== 7; k++) await sleep(20);
    expect(await ch.queryOffset('named', 'billing')).to.equal(7);
    await c1.close();

    fx.conns.splice(0);
    fx.tb = await fx.tb.restart();
    const { ch: again } = await open(fx.tb.url, fx.conns);
    expect(await again.queryOffset('named', 'billing')).to.equal(7);
    expect(await again.queryOffset('named', 'nobody')).to.equal(undefined);
    const got2: Message[] = [];
    await again.prefetch(50);
    await again.consume('named', (m) => void (m !== null && got2.push(m) && again.ack(m)), {
      arguments: { 'x-stream-reader': 'billing' },
    });
    await waitFor(() => got2.length === 12, 'the rest after offset 7');
    expect(got2.map((m) => m.properties.headers?.['x-stream-offset'])).to.deep.equal(
      Array.from({ length: 12 }, (_, i) => 8 + i),
    );
  });

  it('storeOffset/queryOffset set a reader offset explicitly; management shows offset and lag', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('explicit', STREAM);
    await fill(ch, 'explicit', 0, 10);
    clock.advance(60_000);
    await fill(ch, 'explicit', 10, 30);
    await ch.storeOffset('explicit', 'audit', 4);
    expect(await ch.queryOffset('explicit', 'audit')).to.equal(4);
    await ch.storeOffset('explicit', 'projector', 29);
    const q = await managementGet<{
      stream: { namedReaders: { name: string; offset: number; lag: number; lagSeconds: number; consumers: number }[] };
    }>(fx.tb, '/api/queues/%2F/explicit');
    expect(q.stream.namedReaders).to.deep.equal([
      { name: 'audit', offset: 4, lag: 25, lagSeconds: 60, consumers: 0 },
      { name: 'projector', offset: 29, lag: 0, lagSeconds: 0, consumers: 0 },
    ]);
    const { ch: b } = await open(fx.tb.url, fx.conns);
    const r = await read(b, 'explicit', 'first', 30); // an x-stream-offset wins over the stored offset
    expect(r.offsets[0]).to.equal(0);
    const { ch: c } = await open(fx.tb.url, fx.conns);
    await c.prefetch(50);
    const got: number[] = [];
    await c.consume(
      'explicit',
      (m) => void (m !== null && got.push(m.properties.headers?.['x-stream-offset'] as number)),
      {
        arguments: { 'x-stream-reader': 'audit' },
      },
    );
    await waitFor(() => got.length === 25, 'audit resumes at 5');
    expect(got[0]).to.equal(5);
  });

  it('refuses a malformed reader name and reader offsets on a classic queue with 406', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('rs', STREAM);
    await ch.prefetch(1);
    const bad = await ch
      .consume('rs', () => undefined, { arguments: { 'x-stream-reader': '' } })
      .catch((e: unknown) => e);
    expect(bad).to.include({ code: 406 });
    const { ch: c2 } = await open(fx.tb.url, fx.conns);
    await c2.assertQueue('classic', { durable: true });
    const err = await c2.queryOffset('classic', 'x').catch((e: unknown) => e);
    expect(err).to.include({ code: 406 });
  });

  it('single active consumer per reader name: failover resumes after the stored offset', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('sacn', {
      durable: true,
      arguments: { 'x-queue-type': 'stream', 'x-single-active-consumer': true },
    });
    await fill(ch, 'sacn', 0, 10);
    const got = new Map<string, number[]>();
    const held: Message[] = [];
    const conns: Awaited<ReturnType<typeof open>>[] = [];
    for (const who of ['a1', 'a2', 'b1', 'b2']) {
      const o = await open(fx.tb.url, fx.conns);
      conns.push(o);
      got.set(who, []);
      await o.ch.prefetch(20);
      await o.ch.consume(
        'sacn',
        (m) => {
          if (m === null) return;
          const off = m.properties.headers?.['x-stream-offset'] as number;
          got.get(who)!.push(off);
          if (who === 'a1' && off >= 4)
            held.push(m); // a1 processes 0..3 only
          else o.ch.ack(m);
        },
        { arguments: { 'x-stream-offset': 'first', 'x-stream-reader': who[0]! } },
      );
    }
    await waitFor(() => got.get('a1')!.length === 10 && got.get('b1')!.length === 10, 'both names read');
    await sleep(100);
    expect(got.get('a2')).to.deep.equal([]);
    expect(got.get('b2')).to.deep.equal([]);
    for (let k = 0; k < 100 && (await ch.queryOffset('sacn', 'a')) !== 3; k++) await sleep(20);
    await conns[0]!.conn.close(); // a1 goes with 4..9 unacked
    await waitFor(() => got.get('a2')!.length === 6, 'a2 takes over after offset 3');
    expect(got.get('a2')).to.deep.equal([4, 5, 6, 7, 8, 9]);
    expect(got.get('b2')).to.deep.equal([]);
    const q = await managementGet<{ stream: { readers: { name?: string; active: boolean }[] } }>(
      fx.tb,
      '/api/queues/%2F/sacn',
    );
    expect(
      q.stream.readers
        .filter((r) => r.active)
        .map((r) => r.name)
        .sort(),
    ).to.deep.equal(['a', 'b']);
  });

  it('per-object metrics show first/last offset and each named reader lag', async () => {
    const { ch } = await open(fx.tb.url, fx.conns);
    await ch.assertQueue('metered', STREAM);
    await fill(ch, 'metered', 0, 12);
    await ch.storeOffset('metered', 'slow', 1);
    const res = await fetch(`${fx.tb.broker.managementUrl}/metrics/per-object`);
    const body = await res.text();
    expect(body).to.include('switchyard_stream_first_offset{vhost="/",queue="metered"} 0');
    expect(body).to.include('switchyard_stream_last_offset{vhost="/",queue="metered"} 11');
    expect(body).to.include('switchyard_stream_reader_lag_messages{vhost="/",queue="metered",reader="slow"} 10');
    expect(body).to.match(/switchyard_stream_reader_lag_seconds\{vhost="\/",queue="metered",reader="slow"\} [0-9.]+/);
  });
});

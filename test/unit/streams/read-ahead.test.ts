import { expect } from 'chai';
import type { MessageRecord, StoredMessage } from '../../../broker/src/store/store.js';
import { ReadAhead, type RangeReader } from '../../../broker/src/streams/read-window.js';

/** A log of `n` messages (seq 1..n) of `size` bytes each, minus `removed`; counts range reads. */
function log(n: number, size = 10, removed = new Set<number>()): { read: RangeReader; reads: number[][] } {
  const reads: number[][] = [];
  const read: RangeReader = (from, to, limit, maxBytes) => {
    const out: StoredMessage[] = [];
    let bytes = 0;
    for (let seq = from; seq <= Math.min(to, n) && out.length < limit && bytes < maxBytes; seq++) {
      if (removed.has(seq)) continue;
      const record: MessageRecord = {
        exchange: '',
        routingKey: 'k',
        properties: { headers: { app: seq } },
        content: new Uint8Array(size),
      };
      out.push({ seq, record });
      bytes += size;
    }
    reads.push([from, to, out.length]);
    return out;
  };
  return { read, reads };
}

describe('stream read-ahead (one range read per chunk)', () => {
  it('hands out every message in order, one range read per chunk, with its x-stream-offset header', () => {
    const { read, reads } = log(1000);
    const ahead = new ReadAhead(read, { chunkMessages: 100, chunkBytes: 1 << 20 });
    for (let seq = 1; seq <= 1000; seq++) {
      const d = ahead.next(seq, 1000)!;
      expect(d.seq).to.equal(seq);
      expect(d.record.properties?.headers).to.deep.equal({ app: seq, 'x-stream-offset': seq - 1 });
    }
    expect(reads).to.have.length(10);
    expect(ahead.next(1001, 1000)).to.equal(undefined);
  });

  it('never reads past the committed end, and picks up what was committed later', () => {
    const { read, reads } = log(1000);
    const ahead = new ReadAhead(read, { chunkMessages: 100, chunkBytes: 1 << 20 });
    for (let seq = 1; seq <= 30; seq++) expect(ahead.next(seq, 30)!.seq).to.equal(seq);
    expect(ahead.next(31, 30)).to.equal(undefined);
    expect(reads).to.deep.equal([[1, 30, 30]]);
    expect(ahead.next(31, 500)!.seq).to.equal(31);
    expect(reads[1]).to.deep.equal([31, 130, 100]);
  });

  it('bounds a chunk by bytes (at least one message)', () => {
    const { read, reads } = log(100, 4096);
    const ahead = new ReadAhead(read, { chunkMessages: 100, chunkBytes: 10_000 });
    ahead.next(1, 100);
    expect(reads[0]![2]).to.equal(3);
    const big = log(5, 1 << 20);
    new ReadAhead(big.read, { chunkMessages: 100, chunkBytes: 1000 }).next(1, 5);
    expect(big.reads[0]![2]).to.equal(1);
  });

  it('skips what retention removed: the next stored message, across empty chunks', () => {
    const removed = new Set(Array.from({ length: 350 }, (_, i) => i + 1));
    const { read } = log(1000, 10, removed);
    const ahead = new ReadAhead(read, { chunkMessages: 100, chunkBytes: 1 << 20 });
    expect(ahead.next(1, 1000)!.seq).to.equal(351);
    expect(new ReadAhead(read, { chunkMessages: 100, chunkBytes: 1 << 20 }).next(1, 300)).to.equal(undefined);
  });

  it('after clear() a position behind the chunk is read again', () => {
    const { read } = log(1000);
    const ahead = new ReadAhead(read, { chunkMessages: 100, chunkBytes: 1 << 20 });
    expect(ahead.next(50, 1000)!.seq).to.equal(50);
    ahead.clear();
    expect(ahead.next(10, 1000)!.seq).to.equal(10);
  });
});

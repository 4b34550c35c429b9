import { expect } from 'chai';
import { CountBook } from '@switchyard/broker/internal';

/** A book with queue 1 loaded empty. */
function book(): CountBook {
  const b = new CountBook();
  b.load(1, { messages: 0, bytes: 0, lastSeq: 0 }, undefined, false);
  return b;
}

const none = (): undefined => undefined;

function enqueueRange(b: CountBook, from: number, to: number, size = 10): void {
  for (let seq = from; seq <= to; seq++) b.enqueue(1, seq, { size, priority: 0 }, none);
}

/** The record the next turn writes for queue 1 (undefined: none). */
function nextRecord(b: CountBook): unknown {
  return b.closeTurn().records.find(([id]) => id === 1)?.[1];
}

describe('CountBook (counts kept beside batches that may fail)', () => {
  it('writes the counts of each turn that changed them', () => {
    const b = book();
    enqueueRange(b, 1, 3);
    expect(nextRecord(b)).to.deep.equal([3, 30, 3]);
    expect(b.pending).to.equal(false);
    expect(nextRecord(b)).to.equal(undefined);
  });

  it('a failed batch is taken back, and a second failed batch carrying the correction does not undo it', () => {
    const b = book();
    enqueueRange(b, 1, 100);
    const a = b.closeTurn(); // its batch fails
    enqueueRange(b, 101, 200);
    const turnB = b.closeTurn(); // committed: its record said 200
    expect(turnB.records[0]![1]).to.deep.equal([200, 2000, 200]);
    b.failed(a.turn, [1]);
    expect(b.get(1)!.messages).to.equal(100);
    // The correction goes with the next batch; that one fails too (the disk is still full).
    const c = b.closeTurn();
    expect(c.records[0]![1]).to.deep.equal([100, 1000, 200]);
    b.failed(c.turn, [1]);
    expect(b.get(1)).to.deep.include({ messages: 100, bytes: 1000 });
    // ...and is written again later, still right.
    expect(b.pending).to.equal(true);
    expect(nextRecord(b)).to.deep.equal([100, 1000, 200]);
  });

  it('messages whose enqueue failed are not counted out again when settled', () => {
    const b = book();
    enqueueRange(b, 1, 2);
    b.closeTurn(); // committed
    enqueueRange(b, 3, 5);
    const failed = b.closeTurn();
    b.failed(failed.turn, [1]);
    expect(b.get(1)!.messages).to.equal(2);
    // The queue still holds 3..5 in memory and delivers them; their acks change nothing.
    for (const seq of [3, 4, 5]) expect(b.remove(1, seq, 10, undefined)).to.equal(false);
    expect(b.get(1)!.messages).to.equal(2);
    expect(b.remove(1, 1, 10, undefined)).to.equal(true);
    expect(b.get(1)).to.deep.include({ messages: 1, bytes: 10 });
    // Once only: the same sequence settled again would be a stored message.
    expect(b.remove(1, 3, 10, undefined)).to.equal(true);
  });

  it('a range removal does not count out messages whose enqueue failed', () => {
    const b = book();
    enqueueRange(b, 1, 4);
    b.closeTurn();
    enqueueRange(b, 5, 6);
    b.failed(b.closeTurn().turn, [1]);
    // The queue counted 3..6 in its unread tail (4 messages, 40 bytes); 5 and 6 are not stored.
    b.removeFrom(1, 3, { messages: 4, bytes: 40 });
    expect(b.get(1)).to.deep.include({ messages: 2, bytes: 20 });
  });

  it('a replay of a stored message whose batch fails leaves that message counted', () => {
    const b = book();
    enqueueRange(b, 1, 2);
    b.closeTurn();
    b.enqueue(1, 2, { size: 15, priority: 0 }, () => ({ size: 10, priority: 0 }));
    expect(b.get(1)).to.deep.include({ messages: 2, bytes: 25 });
    b.failed(b.closeTurn().turn, [1]);
    expect(b.get(1)).to.deep.include({ messages: 2, bytes: 20 });
    expect(b.remove(1, 2, 10, undefined)).to.equal(true);
    expect(b.get(1)!.messages).to.equal(1);
  });

  it('priority levels follow the same rules', () => {
    const b = new CountBook();
    b.load(1, { messages: 0, bytes: 0, lastSeq: 0 }, [0, 0, 0, 0], false);
    b.enqueue(1, 1, { size: 10, priority: 1 }, none);
    b.closeTurn();
    b.enqueue(1, 2, { size: 10, priority: 0 }, none);
    b.enqueue(1, 3, { size: 10, priority: 1 }, none);
    b.failed(b.closeTurn().turn, [1]);
    expect(b.levelsOf(1)).to.deep.equal([0, 0, 1, 10]);
    expect(b.remove(1, 3, 10, 1)).to.equal(false);
    expect(b.remove(1, 1, 10, 1)).to.equal(true);
    expect(b.levelsOf(1)).to.deep.equal([0, 0, 0, 0]);
    expect(nextRecord(b)).to.deep.equal([0, 0, 3, [0, 0, 0, 0]]);
  });
});

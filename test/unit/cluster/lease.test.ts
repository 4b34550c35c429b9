import { expect } from 'chai';
import { ClusterLease, LeaseClock, type LeaseBucket } from '@switchyard/broker/internal';
import { testLogger } from '../../helpers/broker.js';
import { sleep } from '../../helpers/client.js';

/** One KV key's compare-and-set rules, in memory: the lease logic's other side (pure). */
class MemoryBucket implements LeaseBucket {
  readonly keys = new Map<string, { value: string; revision: number }>();
  private seq = 0;
  create(key: string, value: string): ReturnType<LeaseBucket['create']> {
    const now = this.keys.get(key);
    if (now !== undefined) return Promise.resolve({ created: false, value: now.value });
    this.keys.set(key, { value, revision: ++this.seq });
    return Promise.resolve({ created: true, revision: this.seq });
  }
  update(key: string, value: string, revision: number): ReturnType<LeaseBucket['update']> {
    const now = this.keys.get(key);
    if (now?.revision !== revision) return Promise.resolve('conflict');
    this.keys.set(key, { value, revision: ++this.seq });
    return Promise.resolve(this.seq);
  }
  remove(key: string, revision: number): Promise<void> {
    if (this.keys.get(key)?.revision === revision) this.keys.delete(key);
    return Promise.resolve();
  }
}

const events = () => {
  const log: string[] = [];
  return {
    log,
    handlers: (who: string) => ({ acquired: () => log.push(`${who}+`), lost: () => void log.push(`${who}-`) }),
  };
};

describe('cluster: leases (pure logic)', () => {
  it('a holder may act until ttl minus the margin after the write it sent', () => {
    const c = new LeaseClock(3000, 1000);
    expect(c.holds(0)).to.equal(false);
    c.confirmed(10_000);
    expect(c.holds(11_999)).to.equal(true);
    expect(c.holds(12_000)).to.equal(false);
    c.reset();
    expect(c.holds(10_001)).to.equal(false);
    expect(new LeaseClock(3000).renewEveryMs).to.equal(1000);
  });

  it('one of two contenders holds the lease; when it stops the other takes it', async () => {
    const bucket = new MemoryBucket();
    const { log, handlers } = events();
    const a = new ClusterLease(bucket, 'k', 'a', 1_000, handlers('a'), testLogger());
    const b = new ClusterLease(bucket, 'k', 'b', 1_000, handlers('b'), testLogger());
    a.start();
    await sleep(20);
    b.start();
    await sleep(50);
    expect(log).to.deep.equal(['a+']);
    expect([a.held, b.held]).to.deep.equal([true, false]);
    await a.stop();
    expect(log).to.deep.equal(['a+', 'a-']);
    for (let i = 0; i < 100 && !b.held; i++) await sleep(20);
    expect(log).to.deep.equal(['a+', 'a-', 'b+']);
    await b.stop();
  });

  it('a holder whose key was taken over stops at its next renewal', async () => {
    const bucket = new MemoryBucket();
    const { log, handlers } = events();
    const a = new ClusterLease(bucket, 'k', 'a', 600, handlers('a'), testLogger());
    a.start();
    await sleep(30);
    expect(a.held).to.equal(true);
    // The key expired on the server and another node created it.
    bucket.keys.set('k', { value: 'b', revision: 999 });
    for (let i = 0; i < 50 && a.held; i++) await sleep(20);
    expect(log).to.deep.equal(['a+', 'a-']);
    await a.stop();
  });

  it('a holder that cannot renew gives the lease up before the server can expire it', async () => {
    const bucket = new MemoryBucket();
    let down = false;
    const flaky: LeaseBucket = {
      create: (k, v) => bucket.create(k, v),
      update: (k, v, r) => (down ? Promise.reject(new Error('no answer')) : bucket.update(k, v, r)),
      remove: (k, r) => bucket.remove(k, r),
    };
    const { log, handlers } = events();
    const a = new ClusterLease(flaky, 'k', 'a', 900, handlers('a'), testLogger());
    a.start();
    await sleep(30);
    down = true;
    for (let i = 0; i < 100 && log.length < 2; i++) await sleep(10);
    expect(log).to.deep.equal(['a+', 'a-']);
    await a.stop();
  });
});

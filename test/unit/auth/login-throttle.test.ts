import { expect } from 'chai';
import { LoginThrottle, throttledMessage } from '@switchyard/broker/internal';

describe('LoginThrottle', () => {
  let t = 0;
  const make = () => new LoginThrottle({ maxFailures: 3, windowMs: 1_000, blockMs: 5_000, maxPeers: 4 }, () => t);
  beforeEach(() => (t = 1_000_000));

  it('refuses a peer after maxFailures failures within the window, until blockMs has passed', () => {
    const th = make();
    expect(th.failed('1.2.3.4')).to.equal(0);
    expect(th.failed('1.2.3.4')).to.equal(0);
    expect(th.retryAfterMs('1.2.3.4')).to.equal(0);
    expect(th.failed('1.2.3.4')).to.equal(5_000);
    t += 1_200;
    expect(th.retryAfterMs('1.2.3.4')).to.equal(3_800);
    expect(th.retryAfterMs('5.6.7.8'), 'other peers are not affected').to.equal(0);
    t += 3_800;
    expect(th.retryAfterMs('1.2.3.4')).to.equal(0);
  });

  it('forgets failures older than the window', () => {
    const th = make();
    th.failed('p');
    th.failed('p');
    t += 1_000;
    expect(th.failed('p')).to.equal(0);
    expect(th.failed('p')).to.equal(0);
    expect(th.failed('p')).to.equal(5_000);
  });

  it('clears a peer on a successful login, but not while it is blocked', () => {
    const th = make();
    th.failed('p');
    th.failed('p');
    th.succeeded('p');
    expect(th.failed('p')).to.equal(0);
    th.failed('p');
    expect(th.failed('p')).to.equal(5_000);
    th.succeeded('p');
    expect(th.retryAfterMs('p')).to.equal(5_000);
  });

  it('treats an IPv4-mapped address as the IPv4 peer and bounds the peers it remembers', () => {
    const th = make();
    for (let i = 0; i < 3; i++) th.failed('::ffff:10.0.0.1');
    expect(th.retryAfterMs('10.0.0.1')).to.equal(5_000);
    for (let i = 0; i < 10; i++) th.failed(`10.9.0.${i}`);
    expect(th.size).to.equal(4);
  });

  it('says when to retry', () => {
    expect(throttledMessage('::ffff:10.0.0.1', 1_500)).to.equal(
      'login refused: too many failed logins from 10.0.0.1; retry in 2 s',
    );
  });
});

import { expect } from 'chai';
import { needsOperator } from '@switchyard/broker/internal';

const withCode = (message: string, code: number): Error => Object.assign(new Error(message), { code });

describe('needsOperator (a link is failed, not reconnecting)', () => {
  it('is true for the reply codes and names an operator must fix', () => {
    expect(needsOperator(withCode("no queue 'dst' in vhost '/'", 404))).to.equal(true);
    expect(needsOperator(withCode('login refused', 403))).to.equal(true);
    expect(needsOperator(withCode('no such vhost', 530))).to.equal(true);
    expect(needsOperator(new Error("NOT_FOUND - no queue 'dst' in vhost '/'"))).to.equal(true);
    expect(
      needsOperator(new Error('Channel closed by server: 404 (NOT-FOUND) with message "NOT_FOUND - no queue \'q\'"')),
    ).to.equal(true);
    expect(needsOperator(new Error('ACCESS_REFUSED - Login was refused'))).to.equal(true);
    expect(needsOperator(new Error("PRECONDITION_FAILED - inequivalent arg 'durable'"))).to.equal(true);
  });

  it('is false for a broker that is down, whatever digits its address has (port 40429 is not a 404)', () => {
    expect(needsOperator(withCode('connect ECONNREFUSED 127.0.0.1:40429', -111))).to.equal(false);
    expect(needsOperator(new Error('connect ECONNREFUSED 127.0.0.1:40429'))).to.equal(false);
    expect(needsOperator(new Error('socket hang up (ws://127.0.0.1:40633/%2F)'))).to.equal(false);
    expect(needsOperator(new Error('connection closed'))).to.equal(false);
  });
});

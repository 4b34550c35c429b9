import { expect } from 'chai';
import { clusterRefusal, keyToken, parseQueueArguments, queueAddress, tokenName } from '@switchyard/broker/internal';

describe('cluster: names and refusals (pure)', () => {
  it('encodes any name as one valid KV key token and back', () => {
    for (const name of ['', '/', 'orders.eu', 'a b/c*>', 'ü€😀', 'x'.repeat(255)]) {
      const t = keyToken(name);
      expect(t).to.match(/^[-_=A-Za-z0-9]+$/); // no '.', so tokens join with '.'
      expect(tokenName(t)).to.equal(name);
    }
  });

  it('derives the same stream, subject and consumer for a queue on every node, distinct per vhost', () => {
    const a = queueAddress('/', 'jobs', 8);
    expect(queueAddress('/', 'jobs', 8)).to.deep.equal(a);
    expect(a.subject).to.match(/^syq\.[0-7]\.[0-9a-f]{16}$/);
    expect(a.stream).to.equal(`SY_Q_${a.subject.split('.')[1]}`);
    expect(a.consumer).to.equal(`Q${a.subject.split('.')[2]}`);
    expect(queueAddress('other', 'jobs', 8).subject).to.not.equal(a.subject);
  });

  it('refuses arguments a cluster queue cannot honour, naming them; allows the rest', () => {
    const refusal = (args: Record<string, unknown>, autoDelete = false): string | undefined =>
      clusterRefusal(parseQueueArguments('q', args), autoDelete);
    expect(refusal({ 'x-max-priority': 5 })).to.include("'x-max-priority'");
    expect(refusal({ 'x-max-length': 10 })).to.include("'x-max-length'");
    expect(refusal({ 'x-single-active-consumer': true })).to.include("'x-single-active-consumer'");
    expect(refusal({ 'x-expires': 1000 })).to.include("'x-expires'");
    expect(refusal({}, true)).to.include('auto-delete');
    expect(refusal({ 'x-message-ttl': 1000, 'x-dead-letter-exchange': 'dlx', 'x-delivery-limit': 3 })).to.equal(
      undefined,
    );
  });
});

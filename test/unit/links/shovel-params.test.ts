import { expect } from 'chai';
import {
  backoffDelay,
  dedupIdOf,
  DEDUP_HEADER,
  forwardedProperties,
  LinkParameterError,
  parseLinkUri,
  parseShovelValue,
  stableMessageId,
} from '@switchyard/broker/internal';

describe('links: shovel parameters', () => {
  const base = { 'src-uri': 'ws://h:1', 'src-queue': 'q', 'dest-uri': 'amqp://u:p@h2/v%2Fx', 'dest-queue': 'd' };

  it("applies RabbitMQ's defaults", () => {
    const d = parseShovelValue(base);
    expect(d).to.include({
      srcPrefetchCount: 1000,
      ackMode: 'on-confirm',
      reconnectDelayMs: 5000,
      srcDeleteAfter: 'never',
      addForwardHeaders: false,
    });
    expect(d.dest).to.include({ username: 'u', password: 'p', vhost: 'v/x', redacted: 'amqp://h2:5672/v%2Fx' });
    expect(d.src).to.include({ username: 'guest', vhost: '/', redacted: 'ws://h:1/%2F' });
  });

  it('names the field of each bad value', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ ...base, 'src-uri': 'ftp://h' }, 'src-uri'],
      [{ ...base, 'src-uri': 'ws://' + 'h'.repeat(3000) }, 'src-uri'],
      [{ ...base, 'src-uri': 42 }, 'src-uri'],
      [{ ...base, 'src-exchange': 'x' }, 'src-queue'],
      [{ ...base, 'dest-exchange': 'x' }, 'dest-queue'],
      [{ ...base, 'dest-exchange-key': 'k' }, 'dest-exchange-key'],
      [{ ...base, 'ack-mode': 1 }, 'ack-mode'],
      [{ ...base, 'src-prefetch-count': 1.5 }, 'src-prefetch-count'],
      [{ ...base, 'src-prefetch-count': 1e9 }, 'src-prefetch-count'],
      [{ ...base, 'reconnect-delay': 'soon' }, 'reconnect-delay'],
      [{ ...base, 'src-delete-after': -1 }, 'src-delete-after'],
      [{ ...base, 'dest-add-forward-headers': 'yes' }, 'dest-add-forward-headers'],
      [{ ...base, 'src-protocol': 'amqp10' }, 'src-protocol'],
      [{ ...base, surprise: 1 }, 'surprise'],
    ];
    for (const [value, field] of cases) {
      let err: unknown;
      try {
        parseShovelValue(value);
      } catch (e) {
        err = e;
      }
      expect(err, field).to.be.instanceOf(LinkParameterError);
      expect((err as LinkParameterError).field).to.equal(field);
    }
    expect(() => parseShovelValue(null)).to.throw(LinkParameterError);
    expect(() => parseShovelValue([])).to.throw(LinkParameterError);
  });

  it('takes the first URI of a list, as RabbitMQ accepts one', () => {
    expect(parseShovelValue({ ...base, 'src-uri': ['ws://a:2', 'ws://b:3'] }).src.redacted).to.equal('ws://a:2/%2F');
  });

  it('keeps credentials out of the redacted form', () => {
    expect(parseLinkUri('wss://alice:s3cret@h:9/prod').redacted).to.equal('wss://h:9/prod');
  });
});

describe('links: backoff', () => {
  it('doubles from the reconnect delay, never below 100 ms, capped at 60 s', () => {
    expect([0, 1, 2, 3].map((n) => backoffDelay(1000, n))).to.deep.equal([1000, 2000, 4000, 8000]);
    expect(backoffDelay(0, 0)).to.equal(100);
    expect(backoffDelay(5000, 100)).to.equal(60_000);
  });
});

describe('links: forwarding', () => {
  const props = { messageId: 'm1', headers: { a: 1 }, persistent: true, userId: 'bob' };
  it('gives a redelivered message the same id and another message another id', () => {
    const id = stableMessageId('src', props, Buffer.from('x'));
    expect(stableMessageId('src', { ...props, headers: { a: 1 } }, Buffer.from('x'))).to.equal(id);
    expect(stableMessageId('src', props, Buffer.from('y'))).to.not.equal(id);
    expect(stableMessageId('src2', props, Buffer.from('x'))).to.not.equal(id);
    // a message that crossed an earlier link: that link's dedup header is not part of its identity
    const x = Buffer.from('x');
    expect(stableMessageId('s', forwardedProperties(props, 'one', {}), x)).to.equal(
      stableMessageId('s', forwardedProperties(props, 'two', {}), x),
    );
  });

  it('stamps the dedup header, drops userId and adds forward headers on request', () => {
    const p = forwardedProperties(props, 'id-1', {
      origin: {
        name: 's',
        vhost: '/',
        srcUri: 'ws://a',
        srcQueue: 'q',
        srcExchange: undefined,
        destUri: 'ws://b',
        destQueue: 'd',
        destExchange: undefined,
      },
      timestampSeconds: 7,
    });
    expect(p.userId).to.equal(undefined);
    expect(p.headers).to.include({ a: 1, [DEDUP_HEADER]: 'id-1', 'x-shovelled-timestamp': 7 });
    expect(p.headers!['x-shovelled']).to.deep.equal([
      {
        'shovel-type': 'dynamic',
        'shovel-name': 's',
        'shovel-vhost': '/',
        'src-uri': 'ws://a',
        'dest-uri': 'ws://b',
        'src-queue': 'q',
        'dest-queue': 'd',
      },
    ]);
  });

  it('deduplication windows key on x-deduplication-header, else on messageId', () => {
    expect(dedupIdOf({ messageId: 'm', headers: { [DEDUP_HEADER]: 'h' } })).to.equal('h');
    expect(dedupIdOf({ messageId: 'm', headers: { [DEDUP_HEADER]: 5 } })).to.equal('m');
    expect(dedupIdOf({ messageId: 'm' })).to.equal('m');
    expect(dedupIdOf(null)).to.equal(undefined);
  });
});

import { expect } from 'chai';
import { LmdbStore, VirtualHost } from '@switchyard/broker/internal';
import { FakeClock } from '../../helpers/fake-clock.js';
import { makeTmpDir } from '../../helpers/tmp.js';

describe('vhost timers (issue 11 item 1)', () => {
  it('an error thrown in TTL expiry -> dead-letter is reported with its queue, and does not escape the timer', async () => {
    const tmp = await makeTmpDir('timer-guard');
    const store = LmdbStore.open({ path: tmp.dir, noSync: true });
    try {
      const clock = new FakeClock();
      const errors: { err: unknown; context: Record<string, string> }[] = [];
      const vhost = new VirtualHost('/', store, clock, (err, context) => errors.push({ err, context }));
      const declare = (queue: string, durable: boolean, args: Record<string, unknown> = {}) =>
        vhost.declareQueue(
          { queue, passive: false, durable, exclusive: false, autoDelete: false, arguments: args },
          'c1',
        );
      declare('dlq', true);
      declare('ttl', false, { 'x-message-ttl': 10, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'dlq' });
      // Bypasses the codec's validation (as a stored value from an older version could): the
      // dead-lettered copy is persistent, so storing it in the durable 'dlq' throws in the timer.
      const [ttl] = vhost.route('', 'ttl', undefined);
      ttl!.enqueue('', 'ttl', { persistent: true, headers: { big: 2n ** 70n } }, Buffer.from('x'));
      expect(() => clock.advance(50)).to.not.throw();
      expect(errors).to.have.length.greaterThan(0);
      expect(errors[0]!.context).to.deep.equal({ component: 'queue', queue: 'ttl' });
      // the vhost keeps working
      const [dlq] = vhost.route('', 'dlq', undefined);
      dlq!.enqueue('', 'dlq', { persistent: true }, Buffer.from('fine'));
      expect(dlq!.messageCount).to.equal(1);
      vhost.stop();
    } finally {
      await store.close();
      await tmp.remove();
    }
  });
});

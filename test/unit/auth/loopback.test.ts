import { expect } from 'chai';
import { AccessControl, MemoryStore, isLoopbackAddress } from '@switchyard/broker/internal';

/** Access data in the in-memory store: AccessControl's whole storage contract, nothing faked. */
const memoryAccessStore = () => MemoryStore.open();

describe('the one loopback check (auth/loopback.ts)', () => {
  it('treats 127.0.0.0/8, ::1 and IPv4-mapped 127.x as loopback', () => {
    for (const a of ['127.0.0.1', '127.255.0.9', '::1', '::ffff:127.0.0.1', '::ffff:127.3.2.1'])
      expect(isLoopbackAddress(a), a).to.equal(true);
  });

  it('refuses everything else, host names that look like loopback included', () => {
    for (const a of [
      '10.0.0.1',
      '::ffff:10.0.0.1',
      '::2',
      'fe80::1',
      '127.evil.example',
      '127.',
      'localhost',
      '',
      undefined,
    ]) {
      expect(isLoopbackAddress(a), String(a)).to.equal(false);
    }
  });

  it('is what the guest login rule reads, for client connections and the management API alike', async () => {
    const lifecycle = { vhostAdded: () => undefined, vhostDeleted: () => undefined };
    const strict = new AccessControl(memoryAccessStore(), lifecycle, undefined, false);
    await strict.load(); // creates guest/guest
    expect(strict.mayLogInFrom('guest', '127.0.0.1')).to.equal(true);
    expect(strict.mayLogInFrom('guest', '::ffff:127.0.0.1')).to.equal(true);
    expect(strict.mayLogInFrom('guest', '10.0.0.7')).to.equal(false);
    expect(strict.mayLogInFrom('guest', '127.evil.example')).to.equal(false);
    expect(strict.mayLogInFrom('guest', undefined)).to.equal(false);
    expect(strict.mayLogInFrom('alice', '10.0.0.7')).to.equal(true);
    await strict.authenticate('guest', 'guest', '127.0.0.1', '/');
    let refused: unknown;
    await strict.authenticate('guest', 'guest', '10.0.0.7', '/').catch((err: unknown) => (refused = err));
    expect(refused)
      .to.have.property('message')
      .that.matches(/can only connect via localhost/);

    const anywhere = new AccessControl(memoryAccessStore(), lifecycle, undefined, true);
    await anywhere.load();
    expect(anywhere.mayLogInFrom('guest', '10.0.0.7')).to.equal(true);
  });
});

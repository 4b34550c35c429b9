import { expect } from 'chai';
import { guardRefusal, isLoopbackAddress } from '@switchyard/broker/internal';

describe('management guard', () => {
  const req = (remoteAddress: string, host: string | undefined, method = 'GET', origin?: string) => ({
    remoteAddress,
    host,
    method,
    origin,
  });

  it('treats 127.0.0.0/8, ::1 and IPv4-mapped loopback as loopback, nothing else', () => {
    for (const a of ['127.0.0.1', '127.0.0.2', '::1', '::ffff:127.0.0.1'])
      expect(isLoopbackAddress(a), a).to.equal(true);
    for (const a of ['10.0.0.1', '192.0.2.2', '::ffff:10.0.0.1', 'fe80::1', undefined])
      expect(isLoopbackAddress(a), String(a)).to.equal(false);
  });

  it('lets non-loopback peers through to authentication (administrators may log in remotely, spec/security.md)', () => {
    expect(guardRefusal(req('10.1.2.3', '10.0.0.5:15680'), '0.0.0.0')).to.equal(undefined);
    expect(guardRefusal(req('::ffff:192.0.2.7', 'broker.example:15680'), '0.0.0.0')).to.equal(undefined);
    expect(guardRefusal(req('2001:db8::1', '[2001:db8::2]:15680'), '::')).to.equal(undefined);
  });

  it('refuses a loopback peer whose Host names another machine (DNS rebinding)', () => {
    expect(guardRefusal(req('127.0.0.1', 'evil.example:80'), '127.0.0.1')).to.match(/Host header 'evil.example:80'/);
    expect(guardRefusal(req('127.0.0.1', 'localhost:15680'), '127.0.0.1')).to.equal(undefined);
    expect(guardRefusal(req('::1', '[::1]:15680'), '::1')).to.equal(undefined);
  });

  it('refuses state-changing cross-origin requests from anyone', () => {
    expect(guardRefusal(req('10.1.2.3', 'b:1', 'PUT', 'http://evil.example'), '0.0.0.0')).to.match(/cross-origin/);
    expect(guardRefusal(req('127.0.0.1', 'localhost:1', 'DELETE', 'http://localhost:1'), '127.0.0.1')).to.equal(
      undefined,
    );
    expect(guardRefusal(req('127.0.0.1', 'localhost:1', 'GET', 'http://evil.example'), '127.0.0.1')).to.equal(
      undefined,
    );
  });
});

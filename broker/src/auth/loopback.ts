import { isIP } from 'node:net';

/**
 * True for a loopback peer address: 127.0.0.0/8, `::1`, or IPv4-mapped 127.x
 * (`::ffff:127.0.0.1`, as a dual-stack listener reports IPv4 peers). The one loopback
 * check: the `guest` login rule (spec/security.md §Users and authentication) and the management guard's Host
 * check read it. Only an IP literal counts, so a host name such as `127.evil.example` does not.
 */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(a) === 4) return a.startsWith('127.');
  return a === '::1';
}

import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { HttpError } from './http-util.js';

/**
 * Until users and permissions exist (security issue), the management API is for the local
 * machine only. It listens on the broker's `host` (loopback by default) and, as defence in
 * depth, refuses peers that are not loopback addresses, requests whose `Host` header names
 * another machine (DNS rebinding) and cross-origin browser requests that change state.
 */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(a) === 4) return a.startsWith('127.');
  return a === '::1';
}

/** Host names a browser on this machine uses to reach the API. */
function isLocalHostHeader(host: string, boundHost: string): boolean {
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  const lower = name.toLowerCase();
  return lower === 'localhost' || lower.endsWith('.localhost') || isLoopbackAddress(lower) || lower === boundHost.toLowerCase();
}

export function checkRequest(req: IncomingMessage, boundHost: string): void {
  if (!isLoopbackAddress(req.socket.remoteAddress)) {
    throw new HttpError(403, 'access_refused', `the management API accepts only loopback clients until users exist; ${req.socket.remoteAddress ?? 'unknown peer'} refused`);
  }
  const host = req.headers.host;
  if (host !== undefined && !isLocalHostHeader(host, boundHost)) {
    throw new HttpError(403, 'access_refused', `Host header '${host}' does not name this machine`);
  }
  const origin = req.headers.origin;
  if (origin !== undefined && req.method !== 'GET' && req.method !== 'HEAD') {
    let originHost: string;
    try {
      originHost = new URL(origin).host;
    } catch {
      originHost = '';
    }
    if (originHost !== host) throw new HttpError(403, 'access_refused', `cross-origin request from '${origin}' refused`);
  }
}

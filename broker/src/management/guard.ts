import type { IncomingMessage } from 'node:http';
import { isLoopbackAddress } from '../auth/loopback.js';
import { HttpError } from './http-util.js';

/*
 * Who may reach the management port (spec/security.md §Management API). As in RabbitMQ, any
 * user tagged `administrator` may use it from any address the listener is reachable on (it
 * binds the broker's `host`, loopback by default); only `guest` is limited to loopback, which
 * the login check enforces. This guard adds the browser defences that need no credentials:
 * a loopback peer whose `Host` header names another machine is a DNS-rebinding page, and a
 * state-changing request whose `Origin` differs from its `Host` is cross-site.
 */

/** The one loopback check lives in auth/ (the login rule uses it too); re-exported for callers of the guard. */
export { isLoopbackAddress };

/** Host names a browser on this machine uses to reach the API. */
function isLocalHostHeader(host: string, boundHost: string): boolean {
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  const lower = name.toLowerCase();
  return (
    lower === 'localhost' ||
    lower.endsWith('.localhost') ||
    isLoopbackAddress(lower) ||
    lower === boundHost.toLowerCase()
  );
}

/** The parts of a request the guard decides on. */
export interface GuardedRequest {
  remoteAddress: string | undefined;
  method: string | undefined;
  host: string | undefined;
  origin: string | undefined;
}

/** Why the request is refused before authentication, or undefined when it may go on. Pure. */
export function guardRefusal(r: GuardedRequest, boundHost: string): string | undefined {
  // A page that rebinds its DNS name to 127.0.0.1 reaches us from loopback with its own Host.
  // Remote peers reach us by this machine's external name, and need an administrator's
  // credentials (never guest's) anyway.
  if (r.host !== undefined && isLoopbackAddress(r.remoteAddress) && !isLocalHostHeader(r.host, boundHost)) {
    return `Host header '${r.host}' does not name this machine`;
  }
  if (r.origin !== undefined && r.method !== 'GET' && r.method !== 'HEAD') {
    let originHost: string;
    try {
      originHost = new URL(r.origin).host;
    } catch {
      originHost = '';
    }
    if (originHost !== r.host) return `cross-origin request from '${r.origin}' refused`;
  }
  return undefined;
}

export function checkRequest(req: IncomingMessage, boundHost: string): void {
  const origin = req.headers.origin;
  const refusal = guardRefusal(
    { remoteAddress: req.socket.remoteAddress, method: req.method, host: req.headers.host, origin },
    boundHost,
  );
  if (refusal !== undefined) throw new HttpError(403, 'access_refused', refusal);
}

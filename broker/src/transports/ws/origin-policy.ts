const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/**
 * Whether a WebSocket upgrade from this `Origin` may proceed. Only browsers send `Origin`;
 * a request without one (Node clients, the CLI) is always allowed, since a web page cannot
 * omit it. With no list configured, only pages served from loopback are allowed, so a random
 * site the user visits cannot reach a broker on their machine or network. `'*'` allows any.
 */
export function isOriginAllowed(origin: string | undefined, allowed: readonly string[] | undefined): boolean {
  if (origin === undefined || origin === '') return true;
  if (allowed === undefined) {
    try {
      const url = new URL(origin);
      return (url.protocol === 'http:' || url.protocol === 'https:') && LOOPBACK_HOSTS.has(url.hostname);
    } catch {
      return false;
    }
  }
  return allowed.includes('*') || allowed.some((a) => a.replace(/\/+$/, '') === origin.replace(/\/+$/, ''));
}

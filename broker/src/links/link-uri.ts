/**
 * Link URIs, as AMQP URIs carry them: `scheme://user:pass@host:port/vhost`
 * (spec/links.md §URIs). Pure.
 */

/** A parsed link URI. */
export interface LinkUri {
  scheme: 'ws' | 'wss' | 'amqp' | 'amqps';
  /** The URI as given (with credentials): what the link connects with and what is stored. */
  raw: string;
  /** scheme://host:port/vhost without credentials: safe to show and log. */
  redacted: string;
  username: string;
  password: string;
  vhost: string;
}

const MAX_URI = 2048;
const DEFAULT_PORTS = { ws: 5680, wss: 5680, amqp: 5672, amqps: 5671 } as const;

/**
 * Parses a link URI. An absent user is guest/guest, an absent vhost is `/`; the vhost is the
 * percent-decoded path (so `/` is `%2F`, as in AMQP URIs).
 * @throws Error with a message saying what to fix
 */
export function parseLinkUri(raw: string): LinkUri {
  if (raw.length > MAX_URI) throw new Error(`URI longer than ${MAX_URI} characters`);
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Error(`'${raw.replace(/\/\/[^@/]*@/, '//***@')}' is not a URI; use ws://user:pass@host:port/vhost`);
  }
  const scheme = u.protocol.slice(0, -1);
  if (scheme !== 'ws' && scheme !== 'wss' && scheme !== 'amqp' && scheme !== 'amqps')
    throw new Error(`scheme '${scheme}' is not supported; use ws://, wss://, amqp:// or amqps://`);
  if (u.hostname === '') throw new Error('the URI names no host; give host:port of the broker');
  const path = u.pathname === '' || u.pathname === '/' ? '' : u.pathname.slice(1);
  let vhost: string;
  try {
    vhost = path === '' ? '/' : decodeURIComponent(path);
  } catch {
    throw new Error('the vhost in the URI is not valid percent-encoding');
  }
  const port = u.port === '' ? DEFAULT_PORTS[scheme] : Number(u.port);
  return {
    scheme,
    raw,
    redacted: `${scheme}://${u.hostname}:${port}/${encodeURIComponent(vhost)}`,
    username: u.username === '' ? 'guest' : decodeURIComponent(u.username),
    password: u.password === '' ? 'guest' : decodeURIComponent(u.password),
    vhost,
  };
}

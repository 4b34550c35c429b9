import type { TestBroker } from '../helpers/broker.js';

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

/** One request to the broker's management API; JSON in, JSON (or text) out. */
export async function api<T = any>(
  tb: TestBroker,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiResponse<T>> {
  const res = await fetch(tb.broker.managementUrl! + path, {
    method,
    headers: {
      authorization: GUEST_AUTH,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  return {
    status: res.status,
    body: (type.startsWith('application/json') && text !== '' ? JSON.parse(text) : text) as T,
    headers: res.headers,
  };
}

/** HTTP Basic credentials of the default administrator, guest/guest. */
export const GUEST_AUTH = `Basic ${Buffer.from('guest:guest').toString('base64')}`;

/** `/` as a path segment. */
export const V = '%2F';

import { connect } from '@switchyard/client';

export type Connection = Awaited<ReturnType<typeof connect>>;
export type Channel = Awaited<ReturnType<Connection['createChannel']>>;
export type Message = NonNullable<Parameters<Parameters<Channel['consume']>[1]>[0]>;
export type ConnectOptions = NonNullable<Parameters<typeof connect>[1]>;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Connects with the default credentials and tracks the connection for `closeAll`. */
export async function open(url: string, tracked: Connection[]): Promise<{ conn: Connection; ch: Channel }> {
  const conn = await connect(url);
  tracked.push(conn);
  const ch = await conn.createChannel();
  return { conn, ch };
}

export async function closeAll(conns: Connection[]): Promise<void> {
  await Promise.all(conns.splice(0).map((c) => c.close().catch(() => undefined)));
}

/** Resolves when `predicate` holds, polling; rejects after `ms` with `what` in the message. */
export async function waitFor(predicate: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** The next `event` of `emitter`, with a timeout. */
export function nextEvent<T = unknown>(
  emitter: { once(event: string, fn: (arg: T) => void): unknown },
  event: string,
  ms = 5_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for '${event}'`)), ms);
    emitter.once(event, (arg: T) => {
      clearTimeout(timer);
      resolve(arg);
    });
  });
}

export const text = (m: Message | false | null): string => (m ? Buffer.from(m.content).toString() : String(m));

import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type Options } from 'amqplib';
import type { BrokerOptions } from '@switchyard/broker';
import { startBroker, type TestBroker } from './broker.js';

/**
 * `AMQP_TEST_URL` (e.g. amqp://guest:guest@127.0.0.1:5672, the local RabbitMQ) runs the AMQP
 * suites against that broker instead of Switchyard, which is how their expectations are
 * checked to be RabbitMQ's; Switchyard-only tests skip themselves there.
 */
export const AMQP_TEST_URL = process.env['AMQP_TEST_URL'];

/** A broker speaking AMQP 0-9-1 for the tests of a suite, and the amqplib connections to close. */
export interface AmqpFixture {
  /** URL amqplib connects to (Switchyard: `broker.amqpUrl`, which has no credentials: guest/guest). */
  amqpUrl: string;
  /** The Switchyard broker; undefined against `AMQP_TEST_URL`. */
  tb: TestBroker | undefined;
  /** Connections opened through `connect()`; closed after the test (or suite). */
  readonly conns: ChannelModel[];
  /** An amqplib connection to the broker, closed by the fixture. */
  connect: (options?: Options.Connect | string, socketOptions?: object) => Promise<ChannelModel>;
  /** A connection and a channel on it. */
  channel: () => Promise<Channel>;
  /** A connection and a confirm channel on it. */
  confirmChannel: () => Promise<ConfirmChannel>;
}

/** The Switchyard broker of the fixture, skipping the test when the suite runs against another broker. */
export function switchyardOnly(ctx: Mocha.Context, fx: AmqpFixture): TestBroker {
  if (fx.tb === undefined) ctx.skip();
  return fx.tb;
}

/** `broker.amqpUrl`; the fixture always starts the listener. */
export function amqpUrlOf(tb: TestBroker): string {
  const url = tb.broker.amqpUrl;
  if (url === undefined) throw new Error('the broker has no AMQP listener (amqpPort: false)');
  return url;
}

/**
 * Registers mocha hooks that start a Switchyard broker with its AMQP listener on an
 * ephemeral port (`amqpPort: 0`, management on 0) per test or per suite, or use
 * `AMQP_TEST_URL` when set; amqplib connections made through the fixture are closed after.
 */
export function useAmqpBroker(
  options: BrokerOptions = { noSync: true },
  { per = 'suite' }: { per?: 'test' | 'suite' } = {},
): AmqpFixture {
  const fx: AmqpFixture = {
    amqpUrl: AMQP_TEST_URL ?? '',
    tb: undefined,
    conns: [],
    connect: async (opts, socketOptions) => {
      const conn = await amqp.connect(
        typeof opts === 'string' ? opts : { ...parseUrl(fx.amqpUrl), ...opts },
        socketOptions,
      );
      conn.on('error', () => undefined); // tests look at close reasons themselves
      fx.conns.push(conn);
      return conn;
    },
    channel: async () => (await fx.connect()).createChannel(),
    confirmChannel: async () => (await fx.connect()).createConfirmChannel(),
  };
  const start = async (): Promise<void> => {
    if (AMQP_TEST_URL !== undefined) return;
    fx.tb = await startBroker({ ...options, amqpPort: 0 });
    fx.amqpUrl = amqpUrlOf(fx.tb);
  };
  const stop = async (): Promise<void> => {
    await Promise.all(fx.conns.splice(0).map((c) => c.close().catch(() => undefined)));
    const tb = fx.tb;
    fx.tb = undefined;
    await tb?.stop();
  };
  if (per === 'suite') {
    before(start);
    after(stop);
  } else {
    beforeEach(start);
    afterEach(stop);
  }
  return fx;
}

/** amqp://user:pass@host:port/vhost as amqplib's connect object (so options can be merged in). */
function parseUrl(url: string): Options.Connect {
  const u = new URL(url);
  return {
    protocol: 'amqp',
    hostname: u.hostname,
    port: u.port === '' ? 5672 : Number(u.port),
    username: u.username === '' ? 'guest' : decodeURIComponent(u.username),
    password: u.password === '' ? 'guest' : decodeURIComponent(u.password),
    vhost: u.pathname.length > 1 ? decodeURIComponent(u.pathname.slice(1)) : '/',
  };
}

/** A name no other test (or earlier run against a shared RabbitMQ) uses. */
export const uniq = (prefix: string): string => `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

/** The error a rejected amqplib call carried: `code` (reply code) and `message` (with the reply text). */
export async function replyOf(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { code?: number; message: string };
    return { code: e.code ?? -1, message: e.message };
  }
  throw new Error('expected the broker to refuse');
}

/** The values amqplib negotiated in connection.tune (on its connection object, untyped in @types/amqplib). */
export const tuned = (conn: ChannelModel): { frameMax: number; channelMax: number; heartbeat: number } =>
  conn.connection as unknown as { frameMax: number; channelMax: number; heartbeat: number };

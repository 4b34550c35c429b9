// @switchyard/client adapter. Same shape as amqp-driver.mjs (see the comment there).
// Written against the public SDK contract in ARCHITECTURE.md:
//   connect(url, opts) -> conn; conn.createChannel(); ch.assertQueue/assertExchange/bindQueue/
//   prefetch/deleteQueue/deleteExchange; ch.publish(ex, key, buf, opts) and
//   ch.sendToQueue(q, buf, opts) -> Promise settled on the broker's confirm (rejects on nack);
//   ch.consume(q, cb, { noAck }) -> { consumerTag }; ch.ack(msg); ch.cancel(tag); close().
// On a confirm channel (the default) "fast" publishing does not await each promise: it
// attaches a handler to every one and, every FAST_CHECKPOINT messages, awaits the
// checkpoint promise from the previous batch, which bounds unconfirmed messages to about
// 2 x FAST_CHECKPOINT. On a channel without confirms (`channel({ confirm: false })`, W2,
// as amqplib's plain channel) a publish resolves once handed to the socket; publishFast
// hands back its promise only when it had to wait (socket backed up, broker blocked), the
// counterpart of amqplib's publish() returning false and waiting for 'drain'.

const FAST_CHECKPOINT = 1000;
const noop = () => {};

// `sdk` may be injected (tests of this adapter); by default it is @switchyard/client.
export async function createSwitchyardDriver(url, { username, password, vhost, sdk } = {}) {
  if (!sdk) {
    try {
      sdk = await import('@switchyard/client');
    } catch (err) {
      throw new Error(`@switchyard/client could not be loaded (run \`npm run build\`): ${err.message}`, { cause: err });
    }
  }
  const connect = sdk.connect ?? sdk.default?.connect;
  if (typeof connect !== 'function') {
    throw new Error('@switchyard/client does not export connect() yet (SDK not built or incomplete)');
  }
  const connOpts = { reconnect: false };
  if (username !== undefined) connOpts.username = username;
  if (password !== undefined) connOpts.password = password;
  if (vhost !== undefined) connOpts.vhost = vhost;

  return {
    name: 'switchyard',
    label: url,
    url,
    async connect() {
      const conn = await connect(url, connOpts);
      let errorHandler = null;
      if (typeof conn.on === 'function') {
        conn.on('error', (err) => errorHandler?.(err));
        conn.on('blocked', (reason) => process.stderr.write(`  [switchyard] connection blocked: ${reason ?? ''}\n`));
      }
      return {
        raw: conn,
        onError(fn) {
          errorHandler = fn;
        },
        async channel({ confirm = true } = {}) {
          return wrapChannel(await conn.createChannel({ confirm }), confirm);
        },
        async close() {
          try {
            await conn.close();
          } catch {
            /* already closed */
          }
        },
      };
    },
  };
}

function wrapChannel(ch, confirm = true) {
  let errorHandler = null;
  if (typeof ch.on === 'function') ch.on('error', (err) => errorHandler?.(err));

  const send = (ex, key, buf, opts) => (ex === '' ? ch.sendToQueue(key, buf, opts) : ch.publish(ex, key, buf, opts));

  // Fast-publish bookkeeping.
  let fastCount = 0;
  let outstanding = 0;
  let checkpoint = null;
  let fastError = null;
  let idleWaiters = [];
  const settle = () => {
    outstanding--;
    if (outstanding === 0 && idleWaiters.length) {
      const w = idleWaiters;
      idleWaiters = [];
      for (const r of w) r();
    }
  };
  const onFastError = (err) => {
    fastError ??= err;
    settle();
  };

  return {
    raw: ch,
    onError(fn) {
      errorHandler = fn;
    },
    assertQueue: (name, opts) => ch.assertQueue(name, opts),
    assertExchange: (name, type, opts) => ch.assertExchange(name, type, opts),
    bindQueue: (q, ex, key) => ch.bindQueue(q, ex, key),
    prefetch: (n) => ch.prefetch(n),
    checkQueue: (q) => ch.checkQueue(q),
    deleteQueue: (q) => ch.deleteQueue(q),
    deleteExchange: (ex) => ch.deleteExchange(ex),

    publishConfirmed(ex, key, buf, opts) {
      return send(ex, key, buf, opts);
    },

    publishFast(ex, key, buf, opts) {
      const p = send(ex, key, buf, opts);
      // Without confirms: settled on hand-over; still unsettled means it waits (backpressure).
      if (!confirm) return ch.outstandingConfirms > 0 ? p : undefined;
      if (!p || typeof p.then !== 'function') return undefined;
      outstanding++;
      p.then(settle, onFastError);
      if (++fastCount % FAST_CHECKPOINT === 0) {
        const prev = checkpoint;
        checkpoint = p.then(noop, noop);
        if (fastError) return Promise.reject(fastError);
        return prev ?? undefined;
      }
      return undefined;
    },

    writable() {
      return undefined; // the SDK exposes no socket-level backpressure signal in the contract
    },

    async flush() {
      if (!confirm) return ch.waitForConfirms(); // every publish handed to the socket
      if (outstanding > 0) await new Promise((r) => idleWaiters.push(r));
      if (fastError) throw fastError;
    },

    async consume(q, onMessage, { noAck = false, arguments: args } = {}) {
      const res = await ch.consume(q, (msg) => onMessage(msg), { noAck, arguments: args });
      return res?.consumerTag ?? res;
    },
    ack: (msg) => ch.ack(msg),
    cancel: (tag) => ch.cancel(tag),
    async close() {
      try {
        await ch.close();
      } catch {
        /* channel may already be closed */
      }
    },
  };
}

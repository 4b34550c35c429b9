// amqplib adapter (AMQP 0-9-1, e.g. RabbitMQ). Same shape as switchyard-driver.mjs:
//
//   driver = { name, label, url, connect() -> conn }
//   conn   = { channel({ confirm }) -> ch, close(), onError(fn) }
//   ch     = { assertQueue, assertExchange, bindQueue, prefetch, deleteQueue, deleteExchange,
//              publishConfirmed(ex, key, buf, opts) -> Promise (settles on broker confirm),
//              publishFast(ex, key, buf, opts)      -> undefined | Promise to await (backpressure),
//              writable()                           -> undefined | Promise to await (backpressure),
//              flush()                              -> Promise (all fast publishes handed off),
//              consume(q, onMessage, { noAck }) -> consumerTag, ack(msg), cancel(tag), close(),
//              onError(fn) }
import { once } from 'node:events';

export async function createAmqpDriver(url) {
  let amqp;
  try {
    amqp = (await import('amqplib')).default;
  } catch (err) {
    throw new Error(`amqplib is not installed (it is a devDependency; run npm install): ${err.message}`, {
      cause: err,
    });
  }
  // Hide credentials when printing.
  const label = url.replace(/\/\/([^:@/]+):([^@/]*)@/, '//$1:***@');
  return {
    name: 'amqp',
    label,
    url,
    async connect() {
      // noDelay: amqplib leaves Nagle on by default, which adds up to ~40 ms of latency to
      // small writes; ws (Switchyard) disables it, so disable it here too for a fair comparison.
      const conn = await amqp.connect(url, { noDelay: true });
      const errors = [];
      let errorHandler = null;
      conn.on('error', (err) => {
        errors.push(err);
        errorHandler?.(err);
      });
      conn.on('blocked', (reason) => {
        process.stderr.write(`  [amqp] connection blocked by broker: ${reason}\n`);
      });
      return {
        raw: conn,
        onError(fn) {
          errorHandler = fn;
        },
        async channel({ confirm = false } = {}) {
          const ch = confirm ? await conn.createConfirmChannel() : await conn.createChannel();
          return wrapChannel(ch, confirm);
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

function wrapChannel(ch, confirm) {
  let blocked = false; // last publish() returned false: wait for 'drain'
  let drainP = null;
  let errorHandler = null;
  ch.on('error', (err) => errorHandler?.(err));
  ch.on('drain', () => {
    blocked = false;
  });
  const writable = () => {
    if (!blocked) return undefined;
    if (!drainP) {
      drainP = once(ch, 'drain').finally(() => {
        drainP = null;
        blocked = false;
      });
    }
    return drainP;
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
      if (!confirm) throw new Error('publishConfirmed needs a confirm channel');
      return new Promise((resolve, reject) => {
        const ok = ch.publish(ex, key, buf, opts, (err) => (err ? reject(err) : resolve()));
        if (!ok) blocked = true;
      });
    },

    publishFast(ex, key, buf, opts) {
      const ok = confirm ? ch.publish(ex, key, buf, opts, () => {}) : ch.publish(ex, key, buf, opts);
      if (!ok) blocked = true;
      return writable();
    },

    writable,
    async flush() {
      const w = writable();
      if (w) await w;
      if (confirm) await ch.waitForConfirms();
    },

    async consume(q, onMessage, { noAck = false, arguments: args } = {}) {
      const { consumerTag } = await ch.consume(
        q,
        (msg) => {
          if (msg !== null) onMessage(msg);
        },
        { noAck, arguments: args },
      );
      return consumerTag;
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

// Times declaring N durable queues through one cluster node (spec/cluster.md §Measured on this machine): node scripts/cluster/declare-queues.mjs WS_URL N TAG
import { connect } from '@switchyard/client';
const conn = await connect(process.argv[2]);
const ch = await conn.createChannel();
const n = Number(process.argv[3] ?? 100);
const t0 = performance.now();
await Promise.all(
  Array.from({ length: n }, (_, i) => ch.assertQueue(`decl-${process.argv[4] ?? 'a'}-${i}`, { durable: true })),
);
await ch.publish('', `decl-${process.argv[4] ?? 'a'}-0`, Buffer.from('x'), { persistent: true }); // waits for KV writes too (durable())
console.log(`declared ${n} durable queues in ${Math.round(performance.now() - t0)} ms`);
await conn.close();

import { open } from 'lmdb';
import { readFileSync, rmSync } from 'node:fs';
const ps = Number(process.argv[2]); const n = Number(process.argv[3] ?? 1e6);
const dir = `/tmp/deep/ps/env-${ps}`; rmSync(dir, { recursive: true, force: true });
const root = open({ path: dir + '/x.mdb', maxDbs: 8, remapChunks: true, separateFlushed: true, ...(ps ? { pageSize: ps } : {}) });
const db = root.openDB({ name: 'messages', encoding: 'binary', keyEncoding: 'binary' });
const mem = () => { const s = readFileSync('/proc/self/status', 'utf8'); const f = (k) => Math.round(Number(new RegExp(k + ':\\s+(\\d+)').exec(s)[1]) / 1024); return `rss ${f('VmRSS')} anon ${f('RssAnon')} file ${f('RssFile')}`; };
console.log('maxKey', root.getMaxKeySize?.() ?? '?', 'stat psize', root.getStats().pageSize);
const val = Buffer.alloc(160, 1);
let t = performance.now();
for (let i = 0; i < n; i += 1000) { for (let j = i; j < i + 1000; j++) { const k = Buffer.alloc(12); k.writeUInt32BE(j % 10, 0); k.writeUInt32BE(j, 8); db.put(k, val); } await db.committed; }
await root.flushed;
console.log('fill', Math.round(n / ((performance.now() - t) / 1000)), '/s', mem());
t = performance.now(); let c = 0;
for (let q = 0; q < 10; q++) { const s = Buffer.alloc(12); s.writeUInt32BE(q, 0); const e = Buffer.alloc(12); e.writeUInt32BE(q + 1, 0);
  for (const { key, value } of db.getRange({ start: s, end: e, snapshot: false })) { c++; db.remove(key); if ((c & 1023) === 0) { await db.committed; } } }
await db.committed;
console.log('drain', c, Math.round(c / ((performance.now() - t) / 1000)), '/s', mem());

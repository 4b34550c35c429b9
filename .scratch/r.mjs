import { open } from 'lmdb';
import { readFileSync } from 'node:fs';
const dir = `/tmp/deep/ps/env-4096`;
const mem = () => { const s = readFileSync('/proc/self/status', 'utf8'); const f = (k) => Math.round(Number(new RegExp(k + ':\\s+(\\d+)').exec(s)[1]) / 1024); return `rss ${f('VmRSS')} anon ${f('RssAnon')} file ${f('RssFile')}`; };
const o = () => open({ path: dir + '/x.mdb', maxDbs: 8, remapChunks: true, separateFlushed: true });
let root = o(); let db = root.openDB({ name: 'messages', encoding: 'binary', keyEncoding: 'binary' });
const val = Buffer.alloc(160, 1);
for (let i = 0; i < 1e6; i += 1000) { for (let j = i; j < i + 1000; j++) { const k = Buffer.alloc(12); k.writeUInt32BE(1, 0); k.writeUInt32BE(j, 8); db.put(k, val); } await db.committed; }
await root.flushed; console.log('filled', mem());
let c = 0; for (const { value } of db.getRange({ snapshot: false })) c += value.length; console.log('read all', mem());
let t = performance.now();
const p = root.close(); console.log('close returned', typeof p?.then, performance.now() - t); await p; console.log('closed', (performance.now() - t).toFixed(1), 'ms', mem());
t = performance.now(); root = o(); db = root.openDB({ name: 'messages', encoding: 'binary', keyEncoding: 'binary' }); console.log('reopened', (performance.now() - t).toFixed(1), 'ms', mem());
c = 0; for (const { value } of db.getRange({ snapshot: false, limit: 2048 })) c++; console.log('read 2048', c, mem());

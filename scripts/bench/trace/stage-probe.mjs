// Preload for w3-trace.mjs --stages: epoch timestamps of one W3 message along its path, matched
// by the message number W3 writes at byte 8 of the body. In the broker: when the publish
// reached its channel (decoded), when the deliver frame was queued on the consumer's
// connection, and every WebSocket send with the type of its first frame (a send whose first
// frame is a deliver carries the deliveries queued before it). In the client: every
// WebSocket send and every received WebSocket message, with the type of the first frame.
// Written with stall-probe.mjs's file (same process), as `stages`. Patches prototypes of the
// built modules (broker/dist, ws): diagnosis only, never in production.
import { createRequire } from 'node:module';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const T0 = performance.timeOrigin;
const now = () => T0 + performance.now();
const stages = { brokerIn: [], deliverQueued: [], sends: [], receives: [] };
globalThis.__stageProbe = stages;
const seqOf = (content) =>
  content && content.byteLength >= 12
    ? new DataView(content.buffer, content.byteOffset, content.byteLength).getUint32(8, true)
    : -1;
const firstType = (data) => {
  const u8 = data instanceof Uint8Array ? data : new Uint8Array(data);
  return u8.byteLength > 4 ? u8[4] : -1;
};

const require = createRequire(path.join(repo, 'package.json'));
const WebSocket = require('ws');
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (data, ...rest) {
  stages.sends.push([now(), firstType(data)]);
  return send.call(this, data, ...rest);
};
const emit = WebSocket.prototype.emit;
WebSocket.prototype.emit = function (event, data, ...rest) {
  if (event === 'message') stages.receives.push([now(), firstType(data)]);
  return emit.call(this, event, data, ...rest);
};

const isBroker = /cli[\\/]main\.js$/.test(process.argv[1] ?? '');
if (isBroker) {
  const dist = (p) => pathToFileURL(path.join(repo, 'broker', 'dist', p)).href;
  const { ServerChannel } = await import(dist('server/channel.js'));
  const publish = ServerChannel.prototype.publish;
  ServerChannel.prototype.publish = function (exchange, routingKey, mandatory, properties, content) {
    stages.brokerIn.push([seqOf(content), now()]);
    return publish.call(this, exchange, routingKey, mandatory, properties, content);
  };
  const { FrameSink } = await import(dist('transports/ws/frame-channel.js'));
  const deliver = FrameSink.prototype.deliver;
  FrameSink.prototype.deliver = function (...args) {
    stages.deliverQueued.push([seqOf(args[8]), now()]);
    return deliver.apply(this, args);
  };
}

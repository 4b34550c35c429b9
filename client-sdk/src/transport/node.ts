/**
 * Node transport over the `ws` package (Node 20 has no stable global WebSocket). The only
 * place in the SDK, with index.node.ts, allowed to import Node-only modules.
 */
import { Buffer } from 'node:buffer';
import WebSocket from 'ws';
import type { Transport, TransportHandlers } from './transport.js';

/**
 * Largest WebSocket message accepted. The broker bounds what it sends (frames up to its
 * maxFrameBytes, batches of about BATCH_TARGET_BYTES plus one frame); this only guards
 * against a runaway peer, so it is generous enough for any broker configuration.
 */
export const NODE_MAX_PAYLOAD_BYTES = 1024 * 1024 * 1024;

function toBytes(data: WebSocket.RawData): Uint8Array {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return new Uint8Array(data);
}

/** TLS settings for `wss://` in Node (browsers use their own trust store). */
export interface NodeTlsOptions {
  /** CA certificate(s) to trust, PEM, e.g. a self-signed broker certificate. */
  ca?: string | Buffer | (string | Buffer)[];
  /** Client certificate and key, PEM, for brokers that ask for one. */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Verify the broker's certificate. Default true; false only for tests. */
  rejectUnauthorized?: boolean;
  /** Name to verify the certificate against, when it differs from the URL's host. */
  servername?: string;
}

/** Opens a `ws` WebSocket to `url` as a Transport. Throws (SyntaxError) for an invalid URL. */
export function createNodeTransport(url: string, handlers: TransportHandlers, tls?: NodeTlsOptions): Transport {
  // Frames are msgpack + raw bodies: compression would cost CPU on the hot path for little gain.
  const ws = new WebSocket(url, { maxPayload: NODE_MAX_PAYLOAD_BYTES, perMessageDeflate: false, ...(tls ?? {}) });
  // Buffer views let index.node.ts hand out message bodies as Buffers without copying.
  ws.binaryType = 'nodebuffer';
  let error: Error | undefined;
  ws.on('open', () => handlers.onOpen());
  ws.on('message', (data, isBinary) => handlers.onMessage(isBinary ? toBytes(data) : toBytes(data).toString()));
  // 'error' is always followed by 'close' in ws; report the two as one onClose.
  ws.on('error', (err) => {
    error ??= err;
  });
  ws.on('close', (code, reason) => handlers.onClose(code, reason.toString(), error));
  return {
    send(bytes) {
      if (ws.readyState === WebSocket.OPEN) ws.send(bytes);
    },
    close(code, reason) {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(code, reason);
    },
    terminate() {
      if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
    },
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
  };
}

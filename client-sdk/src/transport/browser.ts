/** Browser transport over `globalThis.WebSocket`. No Node built-ins here. */
import type { Transport, TransportHandlers } from './transport.js';

/** Opens a browser WebSocket to `url` as a Transport. Throws (SyntaxError) for an invalid URL. */
export function createBrowserTransport(url: string, handlers: TransportHandlers): Transport {
  const WS = globalThis.WebSocket;
  if (typeof WS !== 'function') throw new TypeError('globalThis.WebSocket is not available');
  const ws = new WS(url);
  // ArrayBuffer (not Blob) so messages can be decoded synchronously in onmessage.
  ws.binaryType = 'arraybuffer';
  let error: Error | undefined;
  ws.onopen = () => handlers.onOpen();
  ws.onmessage = (ev: MessageEvent) => {
    const data: unknown = ev.data;
    handlers.onMessage(data instanceof ArrayBuffer ? new Uint8Array(data) : String(data));
  };
  // Browsers give no detail about socket errors (deliberately); 'close' always follows.
  ws.onerror = () => {
    error ??= new Error(`WebSocket error on ${url}`);
  };
  ws.onclose = (ev: CloseEvent) => handlers.onClose(ev.code, ev.reason, error);
  return {
    send(bytes) {
      if (ws.readyState === WS.OPEN) ws.send(bytes);
    },
    close(code, reason) {
      if (ws.readyState === WS.OPEN || ws.readyState === WS.CONNECTING) ws.close(code, reason);
    },
    terminate() {
      // Browsers have no abrupt close; the closing handshake is the best available.
      if (ws.readyState === WS.OPEN || ws.readyState === WS.CONNECTING) ws.close();
    },
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
  };
}

import WebSocket from 'ws';
import { PROTOCOL_VERSION, decodeAll, encodeFrames, type Frame } from '@switchyard/client/protocol';

/** The `hello` frame of the default user (guest/guest on `/`), at `version` (default: current). */
export function guestHello(version: number = PROTOCOL_VERSION): Frame {
  return {
    type: 'hello',
    channel: 0,
    version,
    username: 'guest',
    password: 'guest',
    vhost: '/',
    heartbeatMs: 0,
    clientProperties: {},
  };
}

/** A bare WebSocket speaking frames by hand, to send what the SDK never would. */
export class RawClient {
  readonly frames: Frame[] = [];
  closed: { code: number } | undefined;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => this.frames.push(...decodeAll(new Uint8Array(data))));
    ws.on('close', (code) => (this.closed = { code }));
  }

  static async connect(url: string, hello = true): Promise<RawClient> {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const c = new RawClient(ws);
    if (hello) {
      c.send(guestHello());
      await c.waitFor((f) => f.type === 'helloOk');
    }
    return c;
  }

  send(...frames: Frame[]): void {
    this.ws.send(encodeFrames(frames));
  }

  async waitFor(pred: (f: Frame) => boolean, ms = 3000): Promise<Frame> {
    const deadline = Date.now() + ms;
    for (;;) {
      const f = this.frames.find(pred);
      if (f) return f;
      if (Date.now() > deadline)
        throw new Error(`no matching frame; got ${JSON.stringify(this.frames.map((x) => x.type))}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async waitClosed(ms = 3000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('socket not closed');
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

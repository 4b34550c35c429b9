import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy a test controls, standing for a WAN link: it forwards to a target port,
 * can cut every connection (and refuse new ones while down), hold the client-to-server
 * direction (acks sent but never arriving), and be pointed at a broker restarted on another port.
 */
export class TcpProxy {
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();
  private down = false;
  private holding = false;
  connections = 0;

  private constructor(
    private readonly server: Server,
    private targetPort: number,
  ) {}

  static async start(targetPort: number): Promise<TcpProxy> {
    const server = createServer();
    const proxy = new TcpProxy(server, targetPort);
    server.on('connection', (c) => proxy.accept(c));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  private accept(client: Socket): void {
    if (this.down) {
      client.destroy();
      return;
    }
    this.connections++;
    const upstream = connect(this.targetPort, '127.0.0.1');
    const pair = { client, upstream };
    this.pairs.add(pair);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.on('data', (d) => {
      if (!this.holding) upstream.write(d);
    });
    upstream.pipe(client);
  }

  /** Drops what clients send from now on (until the next cut), as a half-dead link does. */
  hold(): void {
    this.holding = true;
  }

  /** Destroys every connection; with `downMs`, refuses new ones for that long. */
  cut(downMs = 0): void {
    this.holding = false;
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    this.pairs.clear();
    if (downMs > 0) {
      this.down = true;
      setTimeout(() => (this.down = false), downMs).unref();
    }
  }

  /** Refuses new connections until `retarget` names where to send them again. */
  refuseUntilRetarget(): void {
    this.down = true;
  }

  retarget(port: number): void {
    this.targetPort = port;
    this.down = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

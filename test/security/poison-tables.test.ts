import { expect } from 'chai';
import { Packr } from 'msgpackr';
import WebSocket from 'ws';
import { connect } from '@switchyard/client';
import { FrameCode, PROTOCOL_VERSION, decodeAll, encodeFrames, type Frame } from '@switchyard/client/protocol';
import { spawnBroker, type BrokerProcess } from '../helpers/broker-process.js';
import { closeAll, type Connection } from '../helpers/client.js';
import { GUEST_AUTH } from '../helpers/http.js';
import { makeTmpDir } from '../helpers/tmp.js';

/**
 * issue 11 item 1, as reported: a user allowed only `rest\..*` publishes one frame whose
 * headers hold a msgpackr structured-clone self-referencing array into a TTL queue whose
 * dead-letter queue has a consumer. Before the fix, the TTL timer dead-lettered the message,
 * re-encoding it threw inside the timer, and the broker process exited.
 */
describe('poison field tables (spawned broker)', function () {
  this.timeout(30_000);
  let p: BrokerProcess | undefined;
  let remove: (() => Promise<void>) | undefined;
  const conns: Connection[] = [];

  after(async () => {
    await closeAll(conns);
    if (p !== undefined && p.child.exitCode === null) {
      p.child.kill('SIGTERM');
      await p.exited;
    }
    await remove?.();
  });

  /** A publish frame built by hand: its fields packed with structured cloning on. */
  function poisonPublish(exchange: string, routingKey: string): Uint8Array {
    const selfRef: unknown[] = [];
    selfRef.push(selfRef);
    const fields = new Packr({ structuredClone: true, useRecords: false }).pack([
      exchange,
      routingKey,
      false,
      { headers: { h: selfRef } },
    ]);
    const content = Buffer.from('boom');
    const out = Buffer.alloc(11 + fields.length + content.length);
    out.writeUInt32BE(out.length - 4, 0);
    out.writeUInt8(FrameCode.publish, 4);
    out.writeUInt16BE(1, 5);
    out.writeUInt32BE(fields.length, 7);
    Buffer.from(fields).copy(out, 11);
    content.copy(out, 11 + fields.length);
    return out;
  }

  it('refuses the frame with 502 naming the field, and keeps serving', async () => {
    const tmp = await makeTmpDir('poison');
    remove = tmp.remove;
    p = await spawnBroker(tmp.dir);
    const mgmt = /"management":"(http:\/\/[^"]+)"/.exec(p.output.join('\n'))![1]!;
    const guest = GUEST_AUTH;
    const put = async (path: string, body: unknown) => {
      const res = await fetch(`${mgmt}${path}`, {
        method: 'PUT',
        headers: { authorization: guest, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status, path).to.be.oneOf([200, 201, 204]);
    };
    await put('/api/users/rest', { password: 'rest', tags: [] });
    await put('/api/permissions/%2F/rest', { configure: 'rest\\..*', write: 'rest\\..*', read: 'rest\\..*' });

    const conn = await connect(p.url, { username: 'rest', password: 'rest' });
    conns.push(conn);
    const ch = await conn.createChannel();
    await ch.assertExchange('rest.dlx', 'fanout', { durable: true });
    await ch.assertQueue('rest.dlq', { durable: true });
    await ch.bindQueue('rest.dlq', 'rest.dlx', '');
    await ch.assertQueue('rest.ttl', {
      durable: true,
      arguments: { 'x-message-ttl': 50, 'x-dead-letter-exchange': 'rest.dlx' },
    });
    await ch.assertExchange('rest.in', 'direct', { durable: true });
    await ch.bindQueue('rest.ttl', 'rest.in', 'k');
    const received: string[] = [];
    await ch.consume(
      'rest.dlq',
      (m) => {
        if (m) received.push(Buffer.from(m.content).toString());
      },
      { noAck: true },
    );

    // The attacker: a bare socket, logged in as the restricted user.
    const ws = new WebSocket(p.url);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const frames: Frame[] = [];
    ws.on('message', (data: Buffer) => frames.push(...decodeAll(new Uint8Array(data))));
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    ws.send(
      encodeFrames([
        {
          type: 'hello',
          channel: 0,
          version: PROTOCOL_VERSION,
          username: 'rest',
          password: 'rest',
          vhost: '/',
          heartbeatMs: 0,
          clientProperties: {},
        },
        { type: 'channelOpen', channel: 1 },
      ]),
    );
    ws.send(poisonPublish('rest.in', 'k'));
    await Promise.race([closed, new Promise((r) => setTimeout(r, 3000))]);
    expect(p.child.exitCode, `broker died: ${p.output.slice(-5).join('\n')}`).to.equal(null);
    const close = frames.find((f): f is Extract<Frame, { type: 'close' }> => f.type === 'close');
    expect(close, JSON.stringify(frames.map((f) => f.type))).to.not.equal(undefined);
    expect(close!.code).to.equal(502);
    expect(close!.message).to.match(/headers\.h/);
    expect(close!.message).to.match(/extension/);

    // Well past the TTL: the broker is alive, and the TTL -> DLX -> consumer path still works.
    await new Promise((r) => setTimeout(r, 300));
    expect(p.child.exitCode, p.output.slice(-5).join('\n')).to.equal(null);
    await ch.publish('rest.in', 'k', 'fine', { persistent: true });
    const deadline = Date.now() + 5000;
    while (!received.includes('fine') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(received).to.deep.equal(['fine']);
  });
});

import { expect } from 'chai';
// @ts-expect-error: plain ESM script without type declarations
import { fuzzAmqp, fuzzBroker, fuzzDecoder } from '../../scripts/fuzz/fuzz.mjs';
// @ts-expect-error: plain ESM script without type declarations
import { fuzzSchemas } from '../../scripts/fuzz/schemas.mjs';
import { AMQP_TEST_URL } from '../helpers/amqp.js';

interface BrokerFuzzResult {
  badFrames: number;
  errorReplies: number;
  brokerAlive: boolean;
  dlxConsumerAlive: boolean;
  probeDeadLettered: boolean;
  confirmedBefore: number;
  stillStored: number;
  intactInOrder: number;
  rssEarlyMB: number | null;
  rssLateMB: number | null;
  preAuth: { halfOpen: number; halfOpenClosed: number; pipelined: number; clientDuringFlood: boolean };
}

describe('hostile input (bounded fuzz run)', function () {
  this.timeout(90_000);
  const seed = Number(process.env['FUZZ_SEED'] ?? Date.now() % 100_000);

  it(`the decoder only ever throws ProtocolError (seed ${seed})`, () => {
    const r = (fuzzDecoder as (o: object) => { rejected: number; decoded: number })({ iterations: 50_000, seed });
    expect(r.rejected).to.be.greaterThan(0);
  });

  it(`the live broker answers bad frames, stays up, keeps its memory and every confirmed message (seed ${seed})`, async () => {
    const r = await (fuzzBroker as (o: object) => Promise<BrokerFuzzResult>)({
      seconds: 20,
      frames: 100_000,
      seed,
    });
    expect(r.brokerAlive).to.equal(true);
    expect(r.dlxConsumerAlive, 'a poison message closed the dead-letter consumer').to.equal(true);
    expect(r.probeDeadLettered).to.equal(true);
    // A floor that proves the run did something, low enough for a loaded 2-core machine.
    expect(r.badFrames).to.be.greaterThan(1_000);
    expect(r.errorReplies).to.be.at.least(r.badFrames * 0.9);
    expect(r.stillStored).to.equal(r.confirmedBefore);
    expect(r.intactInOrder).to.equal(r.confirmedBefore);
    if (r.rssEarlyMB !== null && r.rssLateMB !== null) expect(r.rssLateMB).to.be.below(r.rssEarlyMB + 64);
    // pre-auth floods and half-open sockets on both ports
    expect(r.preAuth.clientDuringFlood).to.equal(true);
    expect(r.preAuth.halfOpenClosed).to.equal(r.preAuth.halfOpen);
  });

  it(`the AMQP port answers hostile input with the spec's errors, stays up and keeps every confirmed message (seed ${seed})`, async () => {
    // AMQP_TEST_URL runs it against that broker (RabbitMQ) to check the expectations
    const r = await (
      fuzzAmqp as (o: object) => Promise<{
        classes: Record<string, { ok: boolean }>;
        brokerAlive: boolean;
        confirmedBefore: number;
        stillStored: number;
        intactInOrder: number;
      }>
    )({ seed, random: 300, ...(AMQP_TEST_URL !== undefined ? { url: AMQP_TEST_URL } : {}) });
    for (const [name, c] of Object.entries(r.classes)) expect(c.ok, `${name}: ${JSON.stringify(c)}`).to.equal(true);
    expect(Object.keys(r.classes)).to.include.members([
      'garbageHeader',
      'wrongVersion',
      'oversizeFrame',
      'badFrameEnd',
      'contentWithoutHeader',
      'methodOnClosedChannel',
      'unknownMethod',
      'silentPeer',
      'stalledHandshake',
      'randomMethods',
    ]);
    expect(r.brokerAlive).to.equal(true);
    expect(r.stillStored).to.equal(r.confirmedBefore);
    expect(r.intactInOrder).to.equal(r.confirmedBefore);
  });

  it(`the schema registry answers hostile schemas and REST bodies with 4xx, validating exchanges nack hostile payloads (seed ${seed})`, async () => {
    const r = await (
      fuzzSchemas as (o: object) => Promise<{
        serverErrors: number;
        nonJsonAnswers: number;
        publishes: { accepted: number; nacked: number; other: number };
        registryServing: boolean;
        brokerAlive: boolean;
      }>
    )({ iterations: 200, seed });
    expect(r.serverErrors).to.equal(0);
    expect(r.nonJsonAnswers).to.equal(0);
    expect(r.publishes.other, 'a publish failed other than by a 406 nack').to.equal(0);
    expect(r.publishes.nacked).to.be.greaterThan(0);
    expect(r.registryServing).to.equal(true);
    expect(r.brokerAlive).to.equal(true);
  });
});

/**
 * Topology recovery: re-declares a connection's recorded exchanges, queues and bindings on
 * a fresh session, before its channels are re-opened, in dependency order (exchanges,
 * queues, exchange-to-exchange bindings, queue bindings). Requests of one phase are
 * pipelined on an SDK-internal channel. A declaration the broker refuses closes that
 * channel (AMQP channel error): the refused entity is reported and forgotten, and the
 * requests that failed only because the channel closed under them are sent again on a new
 * channel.
 */
import { BrokerError, ErrorCode } from '../protocol/errors.js';
import type { Frame } from '../protocol/frames.js';
import type { RpcFrame } from './channel-base.js';
import { expectReply } from './channel-base.js';
import type { RecordedBinding, RecordedExchange, RecordedQueue, Topology } from './topology.js';

/** The channel recovery declares on: sends raw requests; `closeRef` names the one that failed. */
export interface RecoveryChannel {
  request(build: (rid: number) => RpcFrame): { rid: number; reply: Promise<Frame> };
  readonly closeRef: number;
  readonly state: string;
  close(): Promise<void>;
}

/** Callbacks of a topology replay. */
export interface ReplayHooks {
  /** Opens a new internal channel on the current session. */
  openChannel(): Promise<RecoveryChannel>;
  /** False once the session recovery runs on has ended. */
  isCurrent(): boolean;
  /** The broker refused to re-declare something; it has been forgotten. */
  onRefused(err: Error, what: string): void;
  /** A server-named queue got a new name. */
  onRenamed(from: string, to: string): void;
}

/**
 * The broker still holds an exclusive queue of the connection that dropped (it has not
 * noticed the drop yet): recovery must be retried after a backoff, not given up.
 */
export class RetryRecoveryError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RetryRecoveryError';
  }
}

/** One re-declaration. */
interface Step {
  readonly what: string;
  frame(rid: number): RpcFrame;
  done(reply: Frame): void;
  /** Removes the entity from the recorded topology (the broker refused it). */
  forget(): void;
  /** True if a refusal should make the whole recovery retry later (405 on an exclusive queue). */
  retryable?(err: BrokerError): boolean;
}

interface Holder {
  channel: RecoveryChannel | undefined;
}

/** Sends `steps` on internal channels until each succeeded or was refused. */
async function runPhase(steps: Step[], hooks: ReplayHooks, holder: Holder): Promise<void> {
  let remaining = steps;
  while (remaining.length > 0) {
    if (holder.channel === undefined || holder.channel.state !== 'open') holder.channel = await hooks.openChannel();
    const ch = holder.channel;
    const sent = remaining.map((step) => ({ step, req: ch.request((rid) => step.frame(rid)) }));
    const results = await Promise.allSettled(sent.map((x) => x.req.reply));
    const failed: number[] = [];
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') sent[i]!.step.done(r.value);
      else failed.push(i);
    });
    if (failed.length === 0) return;
    const firstReason = (results[failed[0]!] as PromiseRejectedResult).reason as Error;
    // Not a refusal: the session ended (or something unexpected) - recovery starts over.
    if (!hooks.isCurrent() || ch.state !== 'closed' || !(firstReason instanceof BrokerError)) throw firstReason;
    // The broker names the refused request in channelClose.ref; the others died with the channel.
    const refusedAt = failed.find((i) => sent[i]!.req.rid === ch.closeRef) ?? failed[0]!;
    const { step } = sent[refusedAt]!;
    const err = (results[refusedAt] as PromiseRejectedResult).reason as BrokerError;
    if (step.retryable?.(err) === true)
      throw new RetryRecoveryError(`recovery must wait: ${err.message}`, { cause: err });
    step.forget();
    hooks.onRefused(err, step.what);
    remaining = failed.filter((i) => i !== refusedAt).map((i) => sent[i]!.step);
  }
}

function exchangeStep(topology: Topology, e: RecordedExchange): Step {
  return {
    what: `exchange '${e.name}'`,
    frame: (rid) => ({
      type: 'exchangeDeclare',
      channel: 0,
      rid,
      exchange: e.name,
      exchangeType: e.type,
      passive: false,
      durable: e.durable,
      autoDelete: e.autoDelete,
      internal: e.internal,
      arguments: e.arguments,
    }),
    done: (r) => void expectReply(r, 'exchangeDeclareOk'),
    forget: () => topology.deleteExchange(e.name),
  };
}

function queueStep(topology: Topology, q: RecordedQueue, hooks: ReplayHooks): Step {
  return {
    what: `queue '${q.name}'`,
    frame: (rid) => ({
      type: 'queueDeclare',
      channel: 0,
      rid,
      queue: q.serverNamed ? '' : q.name,
      passive: false,
      durable: q.durable,
      exclusive: q.exclusive,
      autoDelete: q.autoDelete,
      arguments: q.arguments,
    }),
    done: (r) => {
      const { queue } = expectReply(r, 'queueDeclareOk');
      if (queue === q.name) return;
      topology.renameQueue(q.name, queue);
      hooks.onRenamed(q.name, queue);
    },
    forget: () => topology.deleteQueue(q.name),
    retryable: (err) => q.exclusive && err.code === ErrorCode.RESOURCE_LOCKED,
  };
}

function bindingStep(topology: Topology, b: RecordedBinding): Step {
  const what = `binding of ${b.kind} '${b.destination}' to exchange '${b.source}' with key '${b.routingKey}'`;
  const forget = (): void => topology.deleteBinding(b);
  if (b.kind === 'queue') {
    return {
      what,
      frame: (rid) => ({
        type: 'queueBind',
        channel: 0,
        rid,
        queue: b.destination,
        exchange: b.source,
        routingKey: b.routingKey,
        arguments: b.arguments,
      }),
      done: (r) => void expectReply(r, 'queueBindOk'),
      forget,
    };
  }
  return {
    what,
    frame: (rid) => ({
      type: 'exchangeBind',
      channel: 0,
      rid,
      destination: b.destination,
      source: b.source,
      routingKey: b.routingKey,
      arguments: b.arguments,
    }),
    done: (r) => void expectReply(r, 'exchangeBindOk'),
    forget,
  };
}

/**
 * Re-declares everything `topology` holds. Refused entities are reported through
 * `hooks.onRefused` and removed from `topology`. Rejects with RetryRecoveryError when an
 * exclusive queue is still locked by the dropped connection, and with the session's error
 * if the session ends meanwhile.
 */
export async function replayTopology(topology: Topology, hooks: ReplayHooks): Promise<void> {
  if (topology.exchanges.size === 0 && topology.queues.size === 0 && topology.bindings.size === 0) return;
  const holder: Holder = { channel: undefined };
  await runPhase(
    [...topology.exchanges.values()].map((e) => exchangeStep(topology, e)),
    hooks,
    holder,
  );
  await runPhase(
    [...topology.queues.values()].map((q) => queueStep(topology, q, hooks)),
    hooks,
    holder,
  );
  // Snapshots taken after the queue phase: renames and forgotten queues are applied.
  const bindings = [...topology.bindings.values()];
  await runPhase(
    bindings.filter((b) => b.kind === 'exchange').map((b) => bindingStep(topology, b)),
    hooks,
    holder,
  );
  await runPhase(
    bindings.filter((b) => b.kind === 'queue').map((b) => bindingStep(topology, b)),
    hooks,
    holder,
  );
  if (holder.channel !== undefined && holder.channel.state === 'open') await holder.channel.close();
}

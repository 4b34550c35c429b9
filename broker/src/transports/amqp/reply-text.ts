import type { BrokerError } from '@switchyard/client/protocol';

/** AMQP's 505, which our own protocol never sends (its codec has no content frames). */
export const UNEXPECTED_FRAME = 505;

/**
 * Where our error text differs from RabbitMQ's, RabbitMQ's words (clients and their users
 * match on them); our own protocol keeps the longer hint. Most of our messages are RabbitMQ's
 * already (`no queue 'x' in vhost '/'`, `inequivalent arg ...`). spec/amqp.md §Errors.
 */
const REWRITES: [RegExp, string][] = [
  [/(NOT_ALLOWED - vhost )'(.*)' not found$/s, '$1$2 not found'],
  [/invalid exchange type '([^']*)': use .*$/s, "unknown exchange type '$1'"],
  [/(queue name '.*' contains reserved prefix 'amq\.)'; choose another name$/s, "$1*'"],
  [/(queue '.*' in vhost '.*') is not empty$/s, '$1 not empty'],
  [/(attempt to reuse consumer tag '.*') on channel \d+$/s, '$1'],
  [/(fast reply consumer does not exist): consume from .*$/s, '$1'],
];

/** A `NAME - message` reply text in RabbitMQ's words. */
export function rabbitText(text: string): string {
  for (const [re, to] of REWRITES) if (re.test(text)) return text.replace(re, to);
  return text;
}

/** The reply text of a connection.close: `NAME - message`, as RabbitMQ. */
export function replyText(err: BrokerError): string {
  const name = err.code === UNEXPECTED_FRAME ? 'UNEXPECTED_FRAME' : err.name;
  return rabbitText(`${name} - ${err.message}`);
}

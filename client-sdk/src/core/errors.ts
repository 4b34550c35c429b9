/**
 * SDK-side errors. Refusals by the broker are BrokerError (protocol/errors.ts) with an AMQP
 * reply code; these classes cover the cases where there is no broker answer to report:
 * the connection or channel is already gone, or the broker did not answer in time.
 */

/**
 * The connection is closed (by the client, by the broker with code 200, or because the
 * socket failed): the operation could not complete. `cause` holds the underlying error
 * (socket error, heartbeat timeout ...) when there is one.
 */
export class ConnectionClosedError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConnectionClosedError';
  }
}

/**
 * The channel is closed, or closed while the operation was pending. `cause` is the reason
 * the channel closed (a BrokerError for a channel error, a ConnectionClosedError when the
 * connection went away), so the stack of the original failure is not lost.
 */
export class ChannelClosedError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ChannelClosedError';
  }
}

/** The broker did not answer within the allowed time (handshake, close). */
export class TimeoutError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TimeoutError';
  }
}

/**
 * A publish was refused locally because the connection is down (recovering) and the
 * buffer of publishes waiting for it is full (`reconnect.maxBufferedPublishes` /
 * `maxBufferedBytes`). Nothing was sent; the application may retry later or drop it.
 */
export class PublishBufferFullError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PublishBufferFullError';
  }
}

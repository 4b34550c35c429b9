/** Protocol version spoken by this codec; sent in `hello` and checked by the broker. */
export const PROTOCOL_VERSION = 3;

/**
 * Oldest protocol version a broker still accepts: version 2 only added `confirmSelect` and
 * version 3 the stream offset frames, which older clients never send. spec/protocol.md §9.
 */
export const MIN_PROTOCOL_VERSION = 1;

/** Default largest message body the broker accepts (RabbitMQ 4's `max_message_size`). */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** Room for the frame header, fields and properties on top of the body. */
export const FRAME_OVERHEAD_BYTES = 64 * 1024;

/** Default largest single frame: the largest body plus its fields and properties. */
export const DEFAULT_MAX_FRAME_BYTES = DEFAULT_MAX_MESSAGE_BYTES + FRAME_OVERHEAD_BYTES;

/**
 * A sender stops adding frames to one WebSocket message once it holds this many bytes;
 * a single larger frame still travels alone. Batching ~50 small frames per WebSocket
 * message is what lets `ws` carry 340,000 rather than 94,000 messages a second.
 */
export const BATCH_TARGET_BYTES = 256 * 1024;

/** Default heartbeat interval proposed by both sides (ms); 0 disables heartbeats. */
export const DEFAULT_HEARTBEAT_MS = 30_000;

/** Highest channel number (channel 0 is the connection itself). */
export const MAX_CHANNEL = 65535;

/**
 * Field tables (headers, arguments, client properties): tables and arrays nest at most this
 * deep below the table itself. spec/protocol.md §Field tables.
 */
export const MAX_TABLE_DEPTH = 16;

/** Most keys one field table (or nested table) may hold. spec/protocol.md §Field tables. */
export const MAX_TABLE_KEYS = 4096;

/**
 * Most table entries and array elements, counted together, in one frame's fields (or one
 * field table given to the SDK or the management API). Bounds the work and heap one frame can cost.
 */
export const MAX_FIELD_ENTRIES = 16384;

/** Longest table key, queue or exchange name, routing key or consumer tag: AMQP's shortstr, in UTF-8 bytes. */
export const MAX_SHORTSTR_BYTES = 255;

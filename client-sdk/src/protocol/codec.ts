/**
 * Frame codec for protocol version 1. Pure functions over Uint8Array; no I/O.
 *
 * One WebSocket binary message carries one or more frames, back to back:
 *
 *   0          4        5             7                11               11+F
 *   +----------+--------+-------------+----------------+----------------+-------------+
 *   | size u32 | type u8| channel u16 | fieldsSize u32 | fields (F)     | content ... |
 *   +----------+--------+-------------+----------------+----------------+-------------+
 *   size = bytes after the size word (7 + F + content length); integers big-endian
 *   fields = one msgpack array, the frame's fields in schema order (frames.ts)
 *   content = raw message body, only for frame types whose last field is `content`
 *
 * Keeping the body out of msgpack means it is copied once into the outgoing buffer and
 * decoded as a zero-copy view of the incoming one.
 */
import { Packr } from 'msgpackr';
import { ErrorCode, ProtocolError } from './errors.js';
import { FRAME_SCHEMAS, type FieldKind, type Frame, type FrameName } from './frames.js';
import { fieldPath, isPlainObject } from './field-table.js';
import {
  BATCH_TARGET_BYTES,
  MAX_FIELD_ENTRIES,
  MAX_SHORTSTR_BYTES,
  MAX_TABLE_DEPTH,
  MAX_TABLE_KEYS,
} from './limits.js';
import { ScanError, releaseScanBuffer, scanMsgpack, type ScanLimits } from './msgpack-scan.js';
import { validateProperties } from './properties.js';

/** Bytes before the msgpack fields: size, type, channel, fieldsSize. */
export const FRAME_HEADER_BYTES = 11;

const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number', structuredClone: false });

/**
 * What a frame's fields may hold before msgpackr sees them (msgpack-scan.ts), the same rules
 * as `fieldTableError`, so decoded tables need no second walk. spec/protocol.md §Field tables.
 */
const SCAN_LIMITS: ScanLimits = {
  maxDepth: MAX_TABLE_DEPTH + 3,
  tableDepth: MAX_TABLE_DEPTH,
  maxMapEntries: MAX_TABLE_KEYS,
  maxEntries: MAX_FIELD_ENTRIES,
  maxKeyBytes: MAX_SHORTSTR_BYTES,
};

/** Nesting each field kind may hold: a table and 16 levels below it; properties one more. */
function depthOf(kind: FieldKind): number {
  return kind === 'table' ? MAX_TABLE_DEPTH + 1 : kind === 'props' ? MAX_TABLE_DEPTH + 2 : 1;
}

interface CompiledSchema {
  name: FrameName;
  code: number;
  names: string[];
  kinds: FieldKind[];
  /** Per field, the nesting the scan allows (depthOf). */
  depths: number[];
  /** Per field, how an error names it (built once, not per decoded frame). */
  wheres: string[];
  /** How an error in the properties names them. */
  propsPath: string;
  /**
   * Every key of a decoded frame, in order: a decoded frame is a copy of it, so it is made
   * with its final shape at once instead of growing a property at a time.
   */
  template: Record<string, unknown>;
  /** Holds a frame's field values while they are packed. */
  scratch: unknown[];
  hasContent: boolean;
}

const BY_CODE: (CompiledSchema | undefined)[] = [];
const BY_NAME = new Map<string, CompiledSchema>();
for (const [name, schema] of Object.entries(FRAME_SCHEMAS)) {
  const fields = schema.fields as readonly (readonly [string, FieldKind])[];
  const last = fields[fields.length - 1];
  const hasContent = last !== undefined && last[1] === 'content';
  const plain = hasContent ? fields.slice(0, -1) : fields;
  const compiled: CompiledSchema = {
    name: name as FrameName,
    code: schema.code,
    names: plain.map((f) => f[0]),
    kinds: plain.map((f) => f[1]),
    depths: plain.map((f) => depthOf(f[1])),
    wheres: plain.map((f) => `${name} frame field "${f[0]}"`),
    propsPath: `${name} frame: properties`,
    template: { type: name, channel: 0 },
    scratch: new Array<unknown>(plain.length).fill(undefined),
    hasContent,
  };
  for (const f of plain) compiled.template[f[0]] = undefined;
  if (hasContent) compiled.template['content'] = undefined;
  BY_CODE[schema.code] = compiled;
  BY_NAME.set(name, compiled);
}

const EMPTY = new Uint8Array(0);

function defaultFor(kind: FieldKind): unknown {
  switch (kind) {
    case 'str':
      return '';
    case 'bool':
      return false;
    case 'table':
      return {};
    case 'props':
      return null;
    default:
      return 0;
  }
}

interface PreparedFrame {
  schema: CompiledSchema;
  channel: number;
  fields: Uint8Array;
  content: Uint8Array;
}

function prepare(frame: Frame): PreparedFrame {
  const schema = BY_NAME.get(frame.type);
  if (schema === undefined) throw new TypeError(`Unknown frame type "${String(frame.type)}"`);
  const record = frame as unknown as Record<string, unknown>;
  // The schema's scratch array, not a new one per frame: pack() reads it synchronously.
  const values = schema.scratch;
  for (let i = 0; i < schema.names.length; i++) {
    const v = record[schema.names[i]!];
    values[i] = v === undefined ? defaultFor(schema.kinds[i]!) : v;
  }
  // pack() returns a view into msgpackr's shared buffer: copied below before the next pack.
  let fields: Uint8Array;
  try {
    fields = packr.pack(values);
  } finally {
    values.fill(undefined); // holds no message's values between frames
  }
  const content = schema.hasContent ? ((record['content'] as Uint8Array | undefined) ?? EMPTY) : EMPTY;
  return { schema, channel: frame.channel, fields, content };
}

function sizeOf(p: PreparedFrame): number {
  return FRAME_HEADER_BYTES + p.fields.length + p.content.length;
}

function write(p: PreparedFrame, out: Uint8Array, view: DataView, at: number): number {
  const total = sizeOf(p);
  view.setUint32(at, total - 4);
  view.setUint8(at + 4, p.schema.code);
  view.setUint16(at + 5, p.channel);
  view.setUint32(at + 7, p.fields.length);
  out.set(p.fields, at + FRAME_HEADER_BYTES);
  if (p.content.length > 0) out.set(p.content, at + FRAME_HEADER_BYTES + p.fields.length);
  return at + total;
}

/** Encodes one frame into a new buffer. Throws TypeError for an unknown frame type. */
export function encodeFrame(frame: Frame): Uint8Array {
  const p = prepare(frame);
  const out = new Uint8Array(sizeOf(p));
  write(p, out, new DataView(out.buffer), 0);
  return out;
}

const MIN_BATCH_BYTES = 256;
const EMPTY_VIEW = new DataView(EMPTY.buffer);

/**
 * Incrementally builds one WebSocket message out of several frames. Each frame is written
 * into the batch's buffer when added (fields packed, body copied), so a batch allocates one
 * buffer (grown by doubling, sized from the previous batch) rather than a copy of every
 * frame's fields plus a final buffer: less garbage per message (docs/perf/tail-latency.md).
 */
export class FrameBatch {
  private buf: Uint8Array = EMPTY;
  private view: DataView = EMPTY_VIEW;
  private frames = 0;
  /**
   * Room the next batch starts with: a quarter more than the last one (so a connection that
   * sends a confirm a turn allocates a few hundred bytes, one that sends deliveries ~ its
   * usual batch), at least MIN_BATCH_BYTES.
   */
  private sizeHint = MIN_BATCH_BYTES;
  /** Bytes the batch will occupy when finished. */
  byteLength = 0;

  get frameCount(): number {
    return this.frames;
  }

  add(frame: Frame): void {
    const p = prepare(frame);
    const size = sizeOf(p);
    const end = this.byteLength + size;
    if (end > this.buf.length) this.grow(end);
    write(p, this.buf, this.view, this.byteLength);
    this.byteLength = end;
    this.frames++;
  }

  finish(): Uint8Array {
    const out = this.buf.subarray(0, this.byteLength);
    this.sizeHint = Math.min(Math.max(Math.ceil(this.byteLength * 1.25), MIN_BATCH_BYTES), BATCH_TARGET_BYTES * 2);
    this.buf = EMPTY;
    this.view = EMPTY_VIEW;
    this.byteLength = 0;
    this.frames = 0;
    return out;
  }

  private grow(needed: number): void {
    let capacity = Math.max(this.buf.length * 2, this.sizeHint);
    while (capacity < needed) capacity *= 2;
    // A batch past BATCH_TARGET_BYTES is sent at once: a large frame gets exactly its room.
    if (needed >= BATCH_TARGET_BYTES) capacity = needed;
    const buf = new Uint8Array(capacity);
    buf.set(this.buf.subarray(0, this.byteLength));
    this.buf = buf;
    this.view = new DataView(buf.buffer);
  }
}

/** Encodes several frames into one buffer, to be sent as one WebSocket message. */
export function encodeFrames(frames: readonly Frame[]): Uint8Array {
  const batch = new FrameBatch();
  for (const f of frames) batch.add(f);
  return batch.finish();
}

function checkField(
  kind: FieldKind,
  v: unknown,
  where: string,
  name: string,
  frameName: string,
  propsPath: string,
): unknown {
  switch (kind) {
    case 'str':
      if (typeof v === 'string') return v;
      break;
    case 'bool':
      if (typeof v === 'boolean') return v;
      break;
    case 'u8':
      if (Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xff) return v;
      break;
    case 'u16':
      if (Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffff) return v;
      break;
    case 'u32':
      if (Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff) return v;
      break;
    case 'uint':
      if (Number.isSafeInteger(v) && (v as number) >= 0) return v;
      break;
    case 'int':
      if (Number.isSafeInteger(v)) return v;
      break;
    case 'table':
      if (v === null || v === undefined) return {};
      // The scan already held its values to fieldTableError's rules: only the shape is left.
      if (isPlainObject(v)) return v;
      throw new ProtocolError(`${frameName} frame: ${name}: expected a map`, ErrorCode.SYNTAX_ERROR);
    case 'props':
      return validateProperties(v, where, propsPath, false);
    case 'content':
      break;
  }
  const expected = kind === 'str' ? 'a string' : kind === 'bool' ? 'a boolean' : `an integer (${kind})`;
  throw new ProtocolError(`${where}: expected ${expected}`, ErrorCode.SYNTAX_ERROR);
}

/** `properties.headers.h[0]: ` for a scan error's path, naming the frame field. */
function scanPath(schema: CompiledSchema, path: readonly (string | number)[]): string {
  if (path.length === 0) return '';
  const first = path[0]!;
  let out = typeof first === 'number' ? (schema.names[first] ?? `[${first}]`) : String(first);
  for (const key of path.slice(1)) out = fieldPath(out, key);
  return `${out}: `;
}

function decodeOne(bytes: Uint8Array, view: DataView, at: number, end: number): Frame {
  const code = view.getUint8(at + 4);
  const schema = BY_CODE[code];
  if (schema === undefined) {
    throw new ProtocolError(`unknown frame type 0x${code.toString(16).padStart(2, '0')}`, ErrorCode.FRAME_ERROR);
  }
  const channel = view.getUint16(at + 5);
  const fieldsSize = view.getUint32(at + 7);
  const fieldsStart = at + FRAME_HEADER_BYTES;
  const fieldsEnd = fieldsStart + fieldsSize;
  if (fieldsEnd > end) {
    throw new ProtocolError(`${schema.name} frame: fields size ${fieldsSize} exceeds the frame`, ErrorCode.FRAME_ERROR);
  }
  if (!schema.hasContent && fieldsEnd !== end) {
    throw new ProtocolError(
      `${schema.name} frame: ${end - fieldsEnd} unexpected bytes after the fields`,
      ErrorCode.FRAME_ERROR,
    );
  }
  try {
    if (fieldsSize > 0) scanMsgpack(bytes, fieldsStart, fieldsEnd, SCAN_LIMITS, schema.depths);
  } catch (err) {
    if (!(err instanceof ScanError)) throw err;
    throw new ProtocolError(
      `${schema.name} frame: ${scanPath(schema, err.path)}${err.message}`,
      ErrorCode.SYNTAX_ERROR,
    );
  }
  let values: unknown;
  try {
    // start/end rather than a subarray: msgpackr caches a DataView on the array it is given,
    // so a subarray per frame would cost a view, a DataView and a property; this way one
    // DataView serves every frame of the message.
    values = fieldsSize === 0 ? [] : packr.unpack(bytes, { start: fieldsStart, end: fieldsEnd });
  } catch (err) {
    throw new ProtocolError(`${schema.name} frame: fields are not valid msgpack`, ErrorCode.SYNTAX_ERROR, {
      cause: err,
    });
  }
  if (!Array.isArray(values) || values.length !== schema.names.length) {
    throw new ProtocolError(
      `${schema.name} frame: expected an array of ${schema.names.length} fields`,
      ErrorCode.SYNTAX_ERROR,
    );
  }
  const frame: Record<string, unknown> = { ...schema.template };
  frame['channel'] = channel;
  for (let i = 0; i < schema.names.length; i++) {
    const name = schema.names[i]!;
    frame[name] = checkField(schema.kinds[i]!, values[i], schema.wheres[i]!, name, schema.name, schema.propsPath);
  }
  if (schema.hasContent) frame['content'] = bytes.subarray(fieldsEnd, end);
  return frame as unknown as Frame;
}

/**
 * Decodes every frame of one WebSocket message, calling `onFrame` for each in order.
 * Content fields are views into `bytes`, not copies. Throws ProtocolError on the first
 * malformed frame (frames before it have already been handed out) or on a frame larger
 * than `maxFrameBytes`.
 */
export function decodeFrames(
  bytes: Uint8Array,
  onFrame: (frame: Frame) => void,
  maxFrameBytes: number = Number.MAX_SAFE_INTEGER,
): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  if (bytes.length === 0) throw new ProtocolError('empty message: expected at least one frame', ErrorCode.FRAME_ERROR);
  try {
    while (at < bytes.length) {
      if (bytes.length - at < FRAME_HEADER_BYTES) {
        throw new ProtocolError(`truncated frame header: ${bytes.length - at} bytes`, ErrorCode.FRAME_ERROR);
      }
      const size = view.getUint32(at);
      if (size + 4 > maxFrameBytes) {
        throw new ProtocolError(
          `frame of ${size + 4} bytes exceeds the limit of ${maxFrameBytes} bytes`,
          ErrorCode.FRAME_ERROR,
        );
      }
      const end = at + 4 + size;
      if (size < FRAME_HEADER_BYTES - 4 || end > bytes.length) {
        throw new ProtocolError(
          `truncated frame: size says ${size} bytes, ${bytes.length - at - 4} present`,
          ErrorCode.FRAME_ERROR,
        );
      }
      onFrame(decodeOne(bytes, view, at, end));
      at = end;
    }
  } finally {
    releaseScanBuffer(); // the scan keeps the message's DataView between its frames only
  }
}

/** Decodes every frame of one WebSocket message into an array. */
export function decodeAll(bytes: Uint8Array, maxFrameBytes?: number): Frame[] {
  const out: Frame[] = [];
  decodeFrames(bytes, (f) => out.push(f), maxFrameBytes);
  return out;
}

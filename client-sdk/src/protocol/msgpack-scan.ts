/**
 * A walk over msgpack bytes that builds nothing, run before msgpackr unpacks a frame's fields.
 *
 * Why not an msgpackr option: msgpackr's extension table is global and always on when
 * unpacking (structured-clone references 0x69/0x70 that build self-referencing arrays, records
 * 0x72, bundled strings 0x62, Error 0x65, RegExp 0x78, Set 0x73, typed arrays 0x74, BigInt
 * 0x42, Date -1); only `structuredClone: false` refuses 0x69/0x70, and nothing refuses the
 * rest. It also replaces invalid UTF-8 by U+FFFD instead of failing. So the codec checks the
 * bytes first: plain msgpack types only (fixext 1 of type 0, msgpackr's `undefined`, is the one
 * extension allowed), strings valid UTF-8, map keys strings of at most 255 bytes, finite
 * floats, bounded nesting and entry counts. The counts are checked before anything is
 * allocated, so a 10 MiB frame of header keys costs one pass over its bytes and no heap.
 * spec/protocol.md §Field tables.
 */

/** Limits of one scan. */
export interface ScanLimits {
  /** Deepest nesting of arrays and maps, the outermost value counting as 1. */
  maxDepth: number;
  /** The nesting allowed below a table, for error messages. */
  tableDepth: number;
  /** Most entries of one map. */
  maxMapEntries: number;
  /** Most map entries and array elements, all together. */
  maxEntries: number;
  /** Longest map key, in bytes. */
  maxKeyBytes: number;
}

/** A value the scan refused; `path` leads from the outermost value to it (array indexes, map keys). */
export class ScanError extends Error {
  readonly path: (string | number)[] = [];
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const EMPTY = new Uint8Array(0);
const EMPTY_VIEW = new DataView(EMPTY.buffer);

class Scanner {
  pos = 0;
  entries = 0;
  /** Deepest nesting allowed for the value being read (per frame field, see `fieldDepths`). */
  private maxDepth = 0;
  private bytes: Uint8Array = EMPTY;
  private view: DataView = EMPTY_VIEW;
  private end = 0;
  private limits!: ScanLimits;
  private fieldDepths: readonly number[] | undefined;

  /**
   * Points the scanner at a value. One scanner serves every scan (a scan runs to completion
   * synchronously), and the DataView is kept while the frames of one message are scanned:
   * no allocation per frame.
   */
  reset(
    bytes: Uint8Array,
    start: number,
    end: number,
    limits: ScanLimits,
    fieldDepths: readonly number[] | undefined,
  ): this {
    if (bytes !== this.bytes) {
      this.bytes = bytes;
      this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    this.pos = start;
    this.end = end;
    this.entries = 0;
    this.limits = limits;
    this.fieldDepths = fieldDepths;
    this.maxDepth = limits.maxDepth;
    return this;
  }

  /** Drops the reference to the scanned bytes, so an idle scanner does not pin a message. */
  release(): void {
    this.bytes = EMPTY;
    this.view = EMPTY_VIEW;
  }

  private need(n: number): void {
    if (n > this.end - this.pos)
      throw new ScanError(`not valid msgpack: truncated, ${n} more bytes needed at byte ${this.pos}`);
  }

  private u8(): number {
    this.need(1);
    return this.bytes[this.pos++]!;
  }

  private uint(size: 1 | 2 | 4): number {
    this.need(size);
    const v =
      size === 1 ? this.bytes[this.pos]! : size === 2 ? this.view.getUint16(this.pos) : this.view.getUint32(this.pos);
    this.pos += size;
    return v;
  }

  private skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  /** Checks a string of `n` bytes is UTF-8 (ASCII without a decoder call) and returns it if wanted. */
  private str(n: number, keep: boolean): string | undefined {
    this.need(n);
    const start = this.pos;
    this.pos += n;
    let ascii = true;
    for (let i = start; i < this.pos; i++) {
      if (this.bytes[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii && !keep) return undefined;
    try {
      return utf8.decode(this.bytes.subarray(start, this.pos));
    } catch {
      throw new ScanError('string is not valid UTF-8');
    }
  }

  private count(n: number, what: string): void {
    this.entries += n;
    if (this.entries > this.limits.maxEntries)
      throw new ScanError(`more than ${this.limits.maxEntries} table entries and array elements in one frame`);
    // Every element takes at least one byte: a count beyond the bytes left is a lie.
    if (n > this.end - this.pos)
      throw new ScanError(`not valid msgpack: truncated, ${what} of ${n} entries in ${this.end - this.pos} bytes`);
  }

  private array(n: number, depth: number): void {
    this.count(n, 'array');
    for (let i = 0; i < n; i++) {
      // The outermost array holds a frame's fields: each has its own nesting allowance.
      if (depth === 1 && this.fieldDepths !== undefined) this.maxDepth = 1 + (this.fieldDepths[i] ?? 0);
      try {
        this.value(depth);
      } catch (err) {
        if (err instanceof ScanError) err.path.unshift(i);
        throw err;
      }
    }
  }

  private map(n: number, depth: number): void {
    if (n > this.limits.maxMapEntries) throw new ScanError(`more than ${this.limits.maxMapEntries} keys in one table`);
    this.count(n, 'map');
    for (let i = 0; i < n; i++) {
      const keyEnd = this.key();
      try {
        this.value(depth);
      } catch (err) {
        // The key is only decoded to name it in an error: decoding every key costs more than the scan.
        if (err instanceof ScanError) err.path.unshift(utf8.decode(this.bytes.subarray(keyEnd.start, keyEnd.end)));
        throw err;
      }
    }
  }

  /** Checks a map key; returns where its bytes are. */
  private key(): { start: number; end: number } {
    const t = this.u8();
    let n: number;
    if (t >= 0xa0 && t <= 0xbf) n = t & 0x1f;
    else if (t === 0xd9) n = this.uint(1);
    else if (t === 0xda) n = this.uint(2);
    else if (t === 0xdb) n = this.uint(4);
    else throw new ScanError(`table key is not a string (msgpack type 0x${hex(t)})`);
    if (n > this.limits.maxKeyBytes)
      throw new ScanError(`table key of ${n} bytes; the limit is ${this.limits.maxKeyBytes}`);
    this.str(n, false);
    return { start: this.pos - n, end: this.pos };
  }

  value(depth: number): void {
    const t = this.u8();
    if (t < 0x80 || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) return; // ints, nil, bool
    if (t >= 0xa0 && t <= 0xbf) return void this.str(t & 0x1f, false);
    if (t <= 0x9f) {
      if (depth >= this.maxDepth) throw this.tooDeep();
      return t <= 0x8f ? this.map(t & 0x0f, depth + 1) : this.array(t & 0x0f, depth + 1);
    }
    switch (t) {
      case 0xc4:
        return this.skip(this.uint(1)); // bin
      case 0xc5:
        return this.skip(this.uint(2));
      case 0xc6:
        return this.skip(this.uint(4));
      case 0xca:
        return this.float(4);
      case 0xcb:
        return this.float(8);
      case 0xcc:
      case 0xd0:
        return this.skip(1); // ints
      case 0xcd:
      case 0xd1:
        return this.skip(2);
      case 0xce:
      case 0xd2:
        return this.skip(4);
      case 0xcf:
      case 0xd3:
        return this.skip(8);
      case 0xd9:
        return void this.str(this.uint(1), false);
      case 0xda:
        return void this.str(this.uint(2), false);
      case 0xdb:
        return void this.str(this.uint(4), false);
      case 0xdc:
      case 0xdd:
      case 0xde:
      case 0xdf: {
        if (depth >= this.maxDepth) throw this.tooDeep();
        const n = this.uint(t === 0xdc || t === 0xde ? 2 : 4);
        return t <= 0xdd ? this.array(n, depth + 1) : this.map(n, depth + 1);
      }
      case 0xd4: {
        // msgpackr (and notepack) write `undefined` as fixext 1 of type 0: read as void.
        this.need(2);
        if (this.bytes[this.pos] === 0) return this.skip(2);
        throw extension(this.bytes[this.pos]!);
      }
      case 0xd5:
      case 0xd6:
      case 0xd7:
      case 0xd8:
      case 0xc7:
      case 0xc8:
      case 0xc9: {
        const lengthBytes = t === 0xc7 ? 1 : t === 0xc8 ? 2 : t === 0xc9 ? 4 : 0;
        this.need(lengthBytes + 1);
        throw extension(this.bytes[this.pos + lengthBytes]!);
      }
      default:
        throw new ScanError(`not valid msgpack: type byte 0x${hex(t)} is never used`);
    }
  }

  private tooDeep(): ScanError {
    return new ScanError(`nested more than ${this.limits.tableDepth} tables or arrays deep`);
  }

  private float(size: 4 | 8): void {
    this.need(size);
    const v = size === 4 ? this.view.getFloat32(this.pos) : this.view.getFloat64(this.pos);
    this.pos += size;
    if (!Number.isFinite(v)) throw new ScanError(`${String(v)} is not a finite number`);
  }
}

function hex(n: number): string {
  return n.toString(16).padStart(2, '0');
}

function extension(type: number): ScanError {
  return new ScanError(
    `msgpack extension type 0x${hex(type)} is not a field value (no extensions: use plain maps, arrays, strings, numbers, booleans, bytes, null)`,
  );
}

/**
 * Checks that `bytes[start, end)` is exactly one msgpack value within `limits`, made of plain
 * msgpack types only. With `fieldDepths`, the value is a frame's fields array and element i
 * may nest `fieldDepths[i]` levels (the element itself counting as one). Throws ScanError
 * naming the path to the refused value.
 */
const scanner = new Scanner();

/** Lets go of the last scanned message (the scanner keeps it to reuse its DataView). */
export function releaseScanBuffer(): void {
  scanner.release();
}

export function scanMsgpack(
  bytes: Uint8Array,
  start: number,
  end: number,
  limits: ScanLimits,
  fieldDepths?: readonly number[],
): void {
  const s = scanner.reset(bytes, start, end, limits, fieldDepths);
  s.value(0);
  if (s.pos !== end) throw new ScanError(`not valid msgpack: ${end - s.pos} bytes after the value`);
}

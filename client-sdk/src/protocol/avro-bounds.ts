import type avro from 'avsc';

/** The part of avsc's internal Tap the bounded readers use. */
interface Tap {
  buf: Uint8Array;
  pos: number;
  readLong(): number;
  skipLong(): void;
  readString(): string;
}
interface Reader {
  _read(tap: Tap): unknown;
}

const patched = new WeakSet<object>();

/**
 * Makes avsc refuse an array or map block that claims more items than bytes are left.
 * avsc 5.7.9 trusts the block count: `new Array(n)` on a 7-byte hostile message with
 * n = 2^31 exhausts the heap (the process dies; a broker validating Avro would too). Every
 * item takes at least one byte except zero-size types (`null`, an empty record), so an
 * array of more nulls than its message has bytes is refused as well: a deliberate bound.
 * Replaces avsc's `_read` of ArrayType and MapType with the same logic plus the check;
 * idempotent per avsc module. avsc is pinned (5.7.9): re-check on upgrade.
 */
export function boundAvroBlocks(lib: typeof avro): void {
  const { ArrayType, MapType } = lib.types as unknown as Record<string, { prototype: Reader }>;
  if (ArrayType === undefined || MapType === undefined || patched.has(ArrayType.prototype)) return;
  patched.add(ArrayType.prototype);
  ArrayType.prototype._read = function (this: { itemsType: Reader }, tap: Tap): unknown[] {
    const val: unknown[] = [];
    for (let n = blockCount(tap); n > 0; n = blockCount(tap)) while (n-- > 0) val.push(this.itemsType._read(tap));
    return val;
  };
  MapType.prototype._read = function (this: { valuesType: Reader }, tap: Tap): Record<string, unknown> {
    const val: Record<string, unknown> = {};
    for (let n = blockCount(tap); n > 0; n = blockCount(tap))
      while (n-- > 0) {
        const key = tap.readString();
        val[key] = this.valuesType._read(tap);
      }
    return val;
  };
}

/** Reads a block count (a negative count is followed by the block's byte size), bounded by the bytes left. */
function blockCount(tap: Tap): number {
  let n = tap.readLong();
  if (n < 0) {
    n = -n;
    tap.skipLong();
  }
  const left = tap.buf.length - tap.pos;
  if (n > left) throw new Error(`Avro block of ${n} items is longer than the ${Math.max(left, 0)} bytes left`);
  return n;
}

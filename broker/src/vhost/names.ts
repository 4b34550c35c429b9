import { BrokerError, ErrorCode, MAX_SHORTSTR_BYTES, utf8ByteLength } from '@switchyard/client/protocol';

/** C0 controls, DEL and C1 controls: invisible, unprintable in logs, the CLI and the dashboard. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * 406 for a name, routing key or consumer tag longer than AMQP's shortstr: 255 bytes of UTF-8
 * (spec/semantics.md §Names). Invalid UTF-8 never gets here: the codec refuses it (502).
 */
export function checkShortString(what: string, value: string): void {
  // A string of at most 85 UTF-16 units is at most 255 bytes: skip counting on the hot path.
  if (value.length <= MAX_SHORTSTR_BYTES / 3) return;
  const bytes = utf8ByteLength(value);
  if (bytes > MAX_SHORTSTR_BYTES) {
    throw new BrokerError(
      ErrorCode.PRECONDITION_FAILED,
      `${what} is ${bytes} bytes of UTF-8; the limit is ${MAX_SHORTSTR_BYTES}`,
    );
  }
}

/** A queue or exchange name used to look something up: the length rule only. */
export function checkName(kind: string, name: string): void {
  checkShortString(`${kind} name`, name);
}

/**
 * A queue or exchange name about to be created: the length rule, and no control characters
 * (spec/semantics.md §Names). Lookups and deletes only check the length, so an entity created
 * before this rule can still be found and deleted.
 */
export function checkNewName(kind: string, name: string): void {
  checkName(kind, name);
  const m = CONTROL.exec(name);
  if (m !== null) {
    const code = m[0].charCodeAt(0).toString(16).padStart(4, '0');
    throw new BrokerError(
      ErrorCode.PRECONDITION_FAILED,
      `${kind} name ${JSON.stringify(name.slice(0, 64))} contains the control character U+${code.toUpperCase()}; use printable characters`,
    );
  }
}

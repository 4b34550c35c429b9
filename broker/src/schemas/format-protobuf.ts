import { createRequire } from 'node:module';
import type protobuf from 'protobufjs';
import type { ParsedSchema, Violations } from './parsed-schema.js';

/*
 * Protobuf through protobufjs: protobufjs parses the `.proto` text and decodes payloads.
 * Compatibility follows Confluent's Protobuf rules (its SchemaDiff), listed in spec/schemas.md
 * §Protobuf compatibility; this module compares the two parsed descriptors.
 */

const require = createRequire(import.meta.url);
let loaded: typeof protobuf | undefined;

/** protobufjs, loaded the first time a Protobuf schema is parsed (not at start-up). */
function protobufjs(): typeof protobuf {
  return (loaded ??= require('protobufjs') as typeof protobuf);
}

/** Parses `.proto` text (proto2 or proto3; no imports). */
export function parseProtobuf(text: string): ParsedSchema {
  const parsed = protobufjs().parse(text, { keepCase: true });
  const root = parsed.root.resolveAll();
  const messages = messageTypes(root);
  if (messages.length === 0) throw new Error('the schema declares no message type');
  return {
    type: 'PROTOBUF',
    canonical: text.trim(),
    validate(payload: Uint8Array, messageIndexes: number[] = [0]): Violations {
      const type = messageAt(root, messageIndexes);
      if (type === undefined) return [`message index ${messageIndexes.join('.')} names no message of the schema`];
      try {
        const msg = type.decode(payload);
        const err = type.verify(msg);
        return err === null ? [] : [err];
      } catch (err) {
        return [`payload is not a ${type.name} message: ${(err as Error).message}`];
      }
    },
    readIssues(writer: ParsedSchema): string[] {
      const old = protobufjs().parse(writer.canonical, { keepCase: true });
      return protobufIssues(old.package, old.root.resolveAll(), parsed.package, root);
    },
  };
}

/** Top-level message types in declaration order (Confluent's message index 0, 1, ...). */
function messageTypes(ns: protobuf.NamespaceBase): protobuf.Type[] {
  const out: protobuf.Type[] = [];
  for (const child of ns.nestedArray) {
    if (child instanceof protobufjs().Type) out.push(child);
    else if (child instanceof protobufjs().Namespace) out.push(...messageTypes(child));
  }
  return out;
}

/** Confluent's message indexes: a path of positions, from the top level into nested types. */
function messageAt(root: protobuf.NamespaceBase, indexes: number[]): protobuf.Type | undefined {
  let list = messageTypes(root);
  let type: protobuf.Type | undefined;
  for (const i of indexes) {
    type = list[i];
    if (type === undefined) return undefined;
    list = type.nestedArray.filter((n): n is protobuf.Type => n instanceof protobufjs().Type);
  }
  return type;
}

function allMessages(ns: protobuf.NamespaceBase, out = new Map<string, protobuf.Type>()): Map<string, protobuf.Type> {
  for (const child of ns.nestedArray) {
    if (child instanceof protobufjs().Type) out.set(child.fullName.replace(/^\./, ''), child);
    if (child instanceof protobufjs().Namespace || child instanceof protobufjs().Type) allMessages(child, out);
  }
  return out;
}

/** A field's kind as `.proto` writes it: `int32`, `repeated shop.Item`, `map<string,int64>`. */
function kindOf(f: protobuf.Field): string {
  const type = f.resolvedType?.fullName.replace(/^\./, '') ?? f.type;
  if (f.map) return `map<${(f as unknown as protobuf.MapField).keyType},${type}>`;
  return f.repeated ? `repeated ${type}` : type;
}

/**
 * Confluent's incompatible differences between an old (`writer`) and new schema: package
 * changed, message removed, field type (kind, scalar or named type) changed, required field
 * added or removed, field moved in or out of a oneof. Added or removed optional fields,
 * renamed fields, added messages and enum constants are compatible (proto3 skips unknown
 * fields and defaults missing ones).
 */
export function protobufIssues(
  oldPackage: string | undefined,
  oldRoot: protobuf.NamespaceBase,
  newPackage: string | undefined,
  newRoot: protobuf.NamespaceBase,
): string[] {
  if ((oldPackage ?? '') !== (newPackage ?? ''))
    return [`package changed from ${oldPackage ?? '(none)'} to ${newPackage ?? '(none)'}`];
  const issues: string[] = [];
  const fresh = allMessages(newRoot);
  for (const [name, oldType] of allMessages(oldRoot)) {
    const newType = fresh.get(name);
    if (newType === undefined) {
      issues.push(`message ${name} removed`);
      continue;
    }
    for (const of of oldType.fieldsArray) {
      const nf = newType.fieldsById[of.id];
      if (nf === undefined) {
        if (of.required) issues.push(`field ${name}.${of.name} (#${of.id}): required field removed`);
        continue;
      }
      if (kindOf(of) !== kindOf(nf))
        issues.push(`field ${name}.${of.name} (#${of.id}): type ${kindOf(of)} -> ${kindOf(nf)}`);
      if ((of.partOf?.name ?? '') !== (nf.partOf?.name ?? ''))
        issues.push(
          `field ${name}.${of.name} (#${of.id}): moved from oneof ${of.partOf?.name ?? '(none)'} to ${nf.partOf?.name ?? '(none)'}`,
        );
    }
    for (const nf of newType.fieldsArray) {
      if (nf.required && oldType.fieldsById[nf.id] === undefined)
        issues.push(`field ${name}.${nf.name} (#${nf.id}): required field added`);
    }
  }
  return issues;
}

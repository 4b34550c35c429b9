/** A strict-enough parser of the Prometheus text format (0.0.4), for tests. */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/;

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const m = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(text.slice(i));
    if (m === null) throw new Error(`bad label at ${i} in: ${line}`);
    i += m[0].length;
    let value = '';
    for (;;) {
      const c = text[i++];
      if (c === undefined) throw new Error(`unterminated label value in: ${line}`);
      if (c === '"') break;
      if (c === '\\') {
        const e = text[i++];
        value +=
          e === 'n'
            ? '\n'
            : e === '\\'
              ? '\\'
              : e === '"'
                ? '"'
                : (() => {
                    throw new Error(`bad escape \\${e} in: ${line}`);
                  })();
      } else value += c;
    }
    labels[m[1]!] = value;
    if (text[i] === ',') i++;
  }
  return labels;
}

function parseValue(v: string): number {
  if (v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  if (v === 'NaN') return NaN;
  const n = Number(v);
  if (Number.isNaN(n)) throw new Error(`bad value ${v}`);
  return n;
}

/** Families by name. Throws on a sample without a preceding TYPE, or a malformed line. */
export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  let current: Family | undefined;
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ')) {
      const [, name, ...rest] = line.split(' ').slice(1);
      current = { name: name!, type: 'untyped', help: rest.join(' '), samples: [] };
      if (families.has(name!)) throw new Error(`family ${name} declared twice`);
      families.set(name!, current);
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.split(' ').slice(2);
      if (current === undefined || current.name !== name) throw new Error(`TYPE for ${name} without HELP`);
      current.type = type!;
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (m === null) throw new Error(`malformed sample: ${line}`);
    const name = m[1]!;
    if (
      current === undefined ||
      !(
        name === current.name ||
        (current.type === 'histogram' &&
          /_(bucket|sum|count)$/.test(name) &&
          name.replace(/_(bucket|sum|count)$/, '') === current.name) ||
        (current.type === 'summary' && /_(sum|count)$/.test(name) && name.replace(/_(sum|count)$/, '') === current.name)
      )
    ) {
      throw new Error(`sample ${name} outside its family`);
    }
    current.samples.push({ name, labels: m[3] === undefined ? {} : parseLabels(m[3], line), value: parseValue(m[4]!) });
  }
  return families;
}

/** The value of the one sample of `name` whose labels include `labels`. */
export function valueOf(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}

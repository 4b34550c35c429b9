/** Plain-text output of the client commands: aligned tables and human units. */

export interface Column<T> {
  header: string;
  value: (row: T) => string | number | boolean | null | undefined;
  /** Right-align numbers. Default left. */
  align?: 'left' | 'right';
}

/** An aligned table, header first, two spaces between columns, no trailing spaces. */
export function table<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((r) => columns.map((c) => cell(c.value(r))));
  const rightAligned = columns.map((c) => c.align === 'right');
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]): string =>
    values
      .map((v, i) => (rightAligned[i] ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n') + '\n';
}

function cell(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return String(v).replace(/[\r\n\t]/g, ' ');
}

/** A rate as `12.5/s`-free number text: integers plain, else one decimal. */
export function rate(v: unknown): string {
  const n = typeof v === 'number' ? v : 0;
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/** `850ms`, `12.3s`, `4m 05s`, `3h 12m`, `2d 4h`. */
export function duration(ms: unknown): string {
  const n = typeof ms === 'number' ? ms : 0;
  if (n < 1000) return `${Math.round(n)}ms`;
  const s = n / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** `512 B`, `1.5 KiB`, `20.0 MiB`. */
export function bytes(v: unknown): string {
  let n = typeof v === 'number' ? v : 0;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${n.toFixed(1)} ${units[u]}`;
}

/** Field tables on one line; `-` when empty. */
export function compactJson(v: unknown): string {
  if (v === undefined || v === null) return '-';
  if (typeof v === 'object' && Object.keys(v).length === 0) return '-';
  return JSON.stringify(v);
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}

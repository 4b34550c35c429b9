import type { Histogram } from './histogram.js';

/**
 * A writer for the Prometheus text exposition format (version 0.0.4): one `# HELP` and
 * `# TYPE` line per metric family, then its samples. Label values are escaped as the
 * format requires (backslash, double quote, newline).
 */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type Labels = Readonly<Record<string, string>>;
export type MetricType = 'gauge' | 'counter' | 'histogram' | 'summary';

export class ExpositionWriter {
  private readonly lines: string[] = [];

  /** Starts a metric family. Every sample of a family must follow its header. */
  family(name: string, type: MetricType, help: string): this {
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
    return this;
  }

  sample(name: string, value: number, labels: Labels = {}): this {
    this.lines.push(`${name}${formatLabels(labels)} ${formatValue(value)}`);
    return this;
  }

  /** A family with one sample. */
  single(name: string, type: 'gauge' | 'counter', help: string, value: number, labels: Labels = {}): this {
    return this.family(name, type, help).sample(name, value, labels);
  }

  /** A histogram family from {@link Histogram}: `_bucket{le}`, `_sum`, `_count`. */
  histogram(name: string, help: string, h: Histogram, labels: Labels = {}): this {
    this.family(name, 'histogram', help);
    const cumulative = h.cumulative();
    h.bounds.forEach((bound, i) =>
      this.sample(`${name}_bucket`, cumulative[i]!, { ...labels, le: formatValue(bound) }),
    );
    this.sample(`${name}_bucket`, h.count, { ...labels, le: '+Inf' });
    this.sample(`${name}_sum`, h.sum, labels);
    return this.sample(`${name}_count`, h.count, labels);
  }

  /** A summary family: one sample per `quantile` label, then `_sum` and `_count`. */
  summary(
    name: string,
    help: string,
    quantiles: readonly (readonly [q: number, value: number])[],
    sum: number,
    count: number,
  ): this {
    this.family(name, 'summary', help);
    for (const [q, v] of quantiles) this.sample(name, v, { quantile: formatValue(q) });
    this.sample(`${name}_sum`, sum);
    return this.sample(`${name}_count`, count);
  }

  /** Lines written so far. */
  get length(): number {
    return this.lines.length;
  }

  toString(): string {
    return this.lines.join('\n') + '\n';
  }

  /** The text written so far (empty string if none), forgetting it: for streaming in chunks. */
  take(): string {
    if (this.lines.length === 0) return '';
    const text = this.toString();
    this.lines.length = 0;
    return text;
  }
}

function formatLabels(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  return '{' + keys.map((k) => `${k}="${escapeLabelValue(labels[k]!)}"`).join(',') + '}';
}

export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Numbers as Prometheus writes them: `+Inf`, `-Inf`, `NaN`, else JavaScript's shortest form. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

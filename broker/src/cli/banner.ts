/**
 * What `switchyard server` shows a person at a terminal: a short banner with the URLs and how
 * to log in, and human-readable log lines. Anything else (a pipe, a file, a service manager)
 * gets JSON lines only, which tools parse. spec/management.md §Logging.
 */

export type LogFormat = 'json' | 'pretty';

/** The log format: the one set by a flag, variable or config file; else pretty on a terminal, JSON otherwise. */
export function chooseLogFormat(configured: LogFormat | undefined, isTTY: boolean): LogFormat {
  return configured ?? (isTTY ? 'pretty' : 'json');
}

/** Whether to print the banner: on a terminal, unless JSON logs were asked for. */
export function showBanner(configured: LogFormat | undefined, isTTY: boolean): boolean {
  return isTTY && configured !== 'json';
}

/** What the banner shows. */
export interface BannerInfo {
  version: string;
  /** Client URL, `ws://...` or `wss://...`. */
  url: string;
  /** Management base URL, or undefined when the management port is off. */
  managementUrl: string | undefined;
  dataDir: string;
  /** The default `guest`/`guest` login still works (loopback only). */
  defaultLogin: boolean;
}

/** The banner text, newline-terminated. */
export function renderBanner(b: BannerInfo): string {
  const rows: [string, string][] = [['clients', b.url]];
  if (b.managementUrl !== undefined) {
    rows.push(['dashboard', `${b.managementUrl}/`]);
    rows.push(['management', `${b.managementUrl}/api   (CLI: switchyard status, switchyard --help)`]);
  }
  rows.push(['data', b.dataDir]);
  if (b.defaultLogin)
    rows.push([
      'login',
      'guest / guest (from this machine only; add your own: switchyard users add <name> <password>)',
    ]);
  rows.push(['stop', 'Ctrl+C (graceful; twice to force)']);
  const width = Math.max(...rows.map(([k]) => k.length));
  return [
    '',
    `  Switchyard ${b.version} is running`,
    '',
    ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
    '',
    '',
  ].join('\n');
}

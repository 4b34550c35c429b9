import { readFileSync, readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { notFound } from './http-util.js';

/**
 * The dashboard's files: plain HTML, CSS and ES-module JavaScript in
 * `src/management/dashboard/`, served as they are (no build step). The path is the same
 * relative to `src/management/` and `dist/management/`, so it resolves from either.
 */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../src/management/dashboard/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export interface StaticFile {
  body: Buffer;
  contentType: string;
}

/** Reads the dashboard's files once, on first use. */
export class StaticFiles {
  private files: Map<string, StaticFile> | undefined;

  constructor(private readonly dir = DASHBOARD_DIR) {}

  get(name: string): StaticFile {
    this.files ??= this.load();
    const f = this.files.get(name);
    if (f === undefined) throw notFound(`no dashboard file '${name}'`);
    return f;
  }

  private load(): Map<string, StaticFile> {
    const files = new Map<string, StaticFile>();
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return files; // a package without the dashboard: '/' answers 404
    }
    for (const name of names) {
      const type = TYPES[extname(name)];
      if (type !== undefined) files.set(name, { body: readFileSync(join(this.dir, name)), contentType: type });
    }
    return files;
  }
}

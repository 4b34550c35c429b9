#!/usr/bin/env node
// The `switchyard` command. A committed launcher rather than dist/cli/main.js itself:
// npm links a workspace's bin before `prepare` builds dist/, so a bin pointing into dist/
// is skipped (or left non-executable) on a fresh clone. This file always exists.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write(
    'switchyard: the broker is not built (broker/dist/cli/main.js is missing): run `npm run build` in the repository root\n',
  );
  process.exit(1);
}
await import(main.href);

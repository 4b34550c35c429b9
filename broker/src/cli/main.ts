#!/usr/bin/env node
import { createProgram } from './program.js';

createProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    // One line, and an exit code scripts can switch on (exit-codes.ts).
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`switchyard: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
    const code = (err as { exitCode?: unknown }).exitCode;
    process.exit(typeof code === 'number' && code > 0 ? code : 1);
  });

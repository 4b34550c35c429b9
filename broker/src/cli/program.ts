import { Command } from 'commander';
import { VERSION } from '../version.js';
import { registerServerCommand } from './commands/server.js';

/** Where the CLI writes; tests pass their own to capture output. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const PROCESS_IO: CliIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
};

/** Builds the `switchyard` command line (commander). */
export function createProgram(io: CliIo = PROCESS_IO): Command {
  const program = new Command('switchyard')
    .description('Switchyard: a durable message broker for Node.js and browsers')
    .version(VERSION)
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run with --help for usage)');
  registerServerCommand(program, io);
  return program;
}

import { Command } from 'commander';
import { VERSION } from '../version.js';
import { registerCloseConnectionCommand, registerDefinitionsCommand, registerStatusCommand } from './commands/admin.js';
import { registerListCommand } from './commands/list.js';
import {
  registerPermissionsCommand,
  registerTokenCommand,
  registerUsersCommand,
  registerVhostsCommand,
} from './commands/access.js';
import { registerGetCommand, registerPublishCommand } from './commands/messages.js';
import { registerSchemasCommand } from './commands/schemas.js';
import { registerServerCommand } from './commands/server.js';
import { registerFederationCommand } from './commands/federation.js';
import { registerShovelCommand } from './commands/shovel.js';
import { registerStreamsCommand } from './commands/streams.js';
import {
  registerBindCommands,
  registerDeclareCommand,
  registerDeleteCommand,
  registerPurgeCommand,
} from './commands/topology.js';
import { EXIT } from './exit-codes.js';
import type { CliIo } from './io.js';

export type { CliIo } from './io.js';

/** Where the CLI writes; tests pass their own to capture output. */

const PROCESS_IO: CliIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
};

const HELP_FOOTER = `
Client commands talk to a running broker's management API: --url (SWITCHYARD_URL,
default http://127.0.0.1:15680), --user / --password (SWITCHYARD_USER / SWITCHYARD_PASSWORD),
--vhost (SWITCHYARD_VHOST, default /). Run \`switchyard <command> --help\` for its options.

Examples:
  $ switchyard server --data-dir ./data
  $ switchyard status
  $ switchyard list queues
  $ switchyard declare queue orders -a x-max-length=10000
  $ switchyard publish '' orders '{"id": 1}' --persistent
  $ switchyard get orders --ack
  $ switchyard definitions export topology.json

Exit codes: ${EXIT.OK} ok, ${EXIT.FAILURE} failure, ${EXIT.NOT_FOUND} not found, ${EXIT.CONFLICT} conflict (in use, not empty,
inequivalent), ${EXIT.REFUSED} access refused, ${EXIT.UNREACHABLE} broker unreachable, ${EXIT.BAD_REQUEST} rejected as invalid,
${EXIT.UNROUTABLE} not routed (publish --mandatory).
`;

/** Builds the `switchyard` command line (commander). */
export function createProgram(io: CliIo = PROCESS_IO): Command {
  const program = new Command('switchyard')
    .description('Switchyard: a durable message broker for Node.js and browsers')
    .version(VERSION)
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', HELP_FOOTER);
  registerServerCommand(program, io);
  registerStatusCommand(program, io);
  registerListCommand(program, io);
  registerDeclareCommand(program, io);
  registerDeleteCommand(program, io);
  registerPurgeCommand(program, io);
  registerBindCommands(program, io);
  registerStreamsCommand(program, io);
  registerPublishCommand(program, io);
  registerGetCommand(program, io);
  registerCloseConnectionCommand(program, io);
  registerDefinitionsCommand(program, io);
  registerSchemasCommand(program, io);
  registerUsersCommand(program, io);
  registerVhostsCommand(program, io);
  registerPermissionsCommand(program, io);
  registerTokenCommand(program, io);
  registerShovelCommand(program, io);
  registerFederationCommand(program, io);
  return program;
}

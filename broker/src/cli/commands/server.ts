import { Command, InvalidArgumentError, Option } from 'commander';
import { Broker } from '../../broker.js';
import { DEFAULTS } from '../../config.js';
import { LOG_LEVELS, type LogLevel } from '../../logging.js';
import type { CliIo } from '../program.js';

function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError(`expected a port number from 0 to 65535, got '${value}'.`);
  return n;
}

interface ServerFlags {
  port: number;
  host: string;
  managementPort: number;
  management: boolean;
  dataDir: string;
  logLevel: LogLevel;
  logFormat: 'json' | 'pretty';
}

/** `switchyard server`: runs a broker in the foreground until SIGTERM/SIGINT. */
export function registerServerCommand(program: Command, io: CliIo): void {
  program
    .command('server')
    .description('run a broker in the foreground')
    .option('-p, --port <port>', 'client WebSocket port (0 = any free port)', parsePort, DEFAULTS.port)
    .option('--host <host>', 'interface to listen on', DEFAULTS.host)
    .option('--management-port <port>', 'management HTTP port (0 = any free port)', parsePort, DEFAULTS.managementPort as number)
    .option('--no-management', 'do not start the management HTTP server')
    .option('-d, --data-dir <dir>', 'directory for the message store', DEFAULTS.dataDir)
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default(DEFAULTS.logLevel))
    .addOption(new Option('--log-format <format>', 'log format').choices(['json', 'pretty']).default(DEFAULTS.logFormat))
    .addHelpText('after', '\nExamples:\n  $ switchyard server\n  $ switchyard server --port 5680 --data-dir /var/lib/switchyard --log-format pretty\n')
    .action(async (flags: ServerFlags) => {
      const broker = await Broker.start({
        port: flags.port,
        host: flags.host,
        managementPort: flags.management ? flags.managementPort : false,
        dataDir: flags.dataDir,
        logLevel: flags.logLevel,
        logFormat: flags.logFormat,
      });
      let signals = 0;
      const onSignal = (signal: string): void => {
        signals++;
        if (signals > 1) {
          io.stderr(`switchyard: second ${signal}: exiting without waiting for shutdown\n`);
          process.exit(1);
        }
        broker.logger.info('signal received: shutting down gracefully (send again to force)', { component: 'cli', signal });
        broker.close().then(
          () => process.exit(0),
          (err: unknown) => {
            io.stderr(`switchyard: shutdown failed: ${err instanceof Error ? err.message : String(err)}\n`);
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => onSignal('SIGTERM'));
      process.on('SIGINT', () => onSignal('SIGINT'));
    });
}

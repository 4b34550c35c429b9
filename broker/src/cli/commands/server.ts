import { InvalidArgumentError, Option, type Command } from 'commander';
import type { BrokerOptions } from '../../config.js';
import type { LogLevel } from '../../logging.js';
import type { BrokerRuntime as BrokerInstance } from '../../broker.js';
import { chooseLogFormat, renderBanner, showBanner } from '../banner.js';
import type { CliIo } from '../io.js';

/** logging.ts's LOG_LEVELS but 'silent' (for embedding; a server prints at least errors), repeated so the client commands need not load winston. */
const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

/**
 * config.ts's DEFAULTS as the help shows them, repeated so that the client commands need not
 * load the broker (test/cli/config.test.ts keeps the two in step). The real defaults are
 * applied by resolveOptions, below flags, env and config file.
 */
export const HELP_DEFAULTS = {
  port: 5680,
  host: '127.0.0.1',
  managementPort: 15680,
  amqpPort: 5672,
  dataDir: './data',
  logLevel: 'info',
  logFormat: 'json',
} as const;

function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535)
    throw new InvalidArgumentError(`expected a port number from 0 to 65535, got '${value}'.`);
  return n;
}

function parseWholeNumber(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`expected a whole number, got '${value}'.`);
  return Number(value);
}

/** Flag name → BrokerOptions key, for the flags that set broker options. */
const FLAG_OPTIONS = {
  port: 'port',
  host: 'host',
  managementPort: 'managementPort',
  amqpPort: 'amqpPort',
  amqpsPort: 'amqpsPort',
  dataDir: 'dataDir',
  logLevel: 'logLevel',
  logFormat: 'logFormat',
  definitions: 'definitions',
  tlsCertFile: 'tlsCertFile',
  tlsKeyFile: 'tlsKeyFile',
  tlsCaFile: 'tlsCaFile',
  cluster: 'cluster',
  nodeName: 'nodeName',
  leaseTtlMs: 'leaseTtlMs',
} as const satisfies Record<
  string,
  keyof BrokerOptions | 'tlsCertFile' | 'tlsKeyFile' | 'tlsCaFile' | 'nodeName' | 'leaseTtlMs'
>;

/** The options the command line set explicitly (defaults come last, below env and file). */
function explicitFlags(cmd: Command): BrokerOptions {
  const values = cmd.opts<Record<string, unknown>>();
  const given = (key: string): boolean => cmd.getOptionValueSource(key) === 'cli';
  const flags: Record<string, unknown> = {};
  for (const [flag, key] of Object.entries(FLAG_OPTIONS)) if (given(flag)) flags[key] = values[flag];
  if (given('management') && values['management'] === false) flags['managementPort'] = false;
  if (given('amqp') && values['amqp'] === false) flags['amqpPort'] = false;
  return flags;
}

/** `switchyard server`: runs a broker in the foreground until SIGTERM/SIGINT. */
export function registerServerCommand(program: Command, io: CliIo): void {
  program
    .command('server')
    .description('run a broker in the foreground')
    .option('-p, --port <port>', 'client WebSocket port (0 = any free port)', parsePort, HELP_DEFAULTS.port)
    .option('--host <host>', 'interface to listen on (client and management ports)', HELP_DEFAULTS.host)
    .option(
      '--management-port <port>',
      'management HTTP port (0 = any free port)',
      parsePort,
      HELP_DEFAULTS.managementPort,
    )
    .option('--no-management', 'do not start the management HTTP server')
    .option('--amqp-port <port>', 'AMQP 0-9-1 port (0 = any free port)', parsePort, HELP_DEFAULTS.amqpPort)
    .option('--no-amqp', 'do not start the AMQP 0-9-1 listener')
    .option('--amqps-port <port>', 'AMQP 0-9-1 over TLS port (needs --tls-cert-file and --tls-key-file)', parsePort)
    .option('-d, --data-dir <dir>', 'directory for the message store', HELP_DEFAULTS.dataDir)
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default(HELP_DEFAULTS.logLevel))
    .addOption(
      new Option(
        '--log-format <format>',
        `log format (default: ${HELP_DEFAULTS.logFormat}; on a terminal, pretty with a banner)`,
      ).choices(['json', 'pretty']),
    )
    .option('-c, --config <file>', 'config file, JSON or YAML (also SWITCHYARD_CONFIG)')
    .option('--definitions <file>', 'import exchanges, queues and bindings from this definitions file at start')
    .option('--tls-cert-file <file>', 'PEM certificate: serve wss:// and https:// (with --tls-key-file)')
    .option('--tls-key-file <file>', 'PEM private key for --tls-cert-file')
    .option('--tls-ca-file <file>', 'PEM CA bundle to present with the certificate')
    .option('--cluster <urls>', 'run as a cluster node on these JetStream servers (comma-separated nats:// URLs)')
    .option('--node-name <name>', "this node's name in the cluster (with --cluster)")
    .option(
      '--lease-ttl-ms <ms>',
      "how soon a dead node's shovels and federation links move to another node (with --cluster; default 15000)",
      parseWholeNumber,
    )
    .addHelpText(
      'after',
      `
Settings come from flags, then SWITCHYARD_* environment variables (SWITCHYARD_PORT,
SWITCHYARD_MANAGEMENT_PORT, SWITCHYARD_DATA_DIR, SWITCHYARD_LOG_LEVEL, ...), then the config
file (keys as in the embedding API: port, managementPort, dataDir, logLevel, ...), then the
defaults shown above. Secrets belong in the environment or the file, not on the command
line: SWITCHYARD_TOKEN_SECRET enables login tokens for browsers. SIGTERM or SIGINT shuts
down gracefully; a second signal forces.

Examples:
  $ switchyard server
  $ switchyard server --port 5680 --data-dir /var/lib/switchyard --log-format pretty
  $ switchyard server --config /etc/switchyard.yaml --definitions topology.json
  $ SWITCHYARD_LOG_LEVEL=debug switchyard server`,
    )
    .action(async (_flags: unknown, cmd: Command) => {
      // Loaded here so that the client commands start fast.
      const { loadServerConfig } = await import('../../config-file.js');
      const config = loadServerConfig({
        flags: explicitFlags(cmd),
        env: process.env,
        configFile: cmd.opts<{ config?: string }>().config,
      });
      // After an unclean stop, the store check runs while the broker's modules load.
      const { startPreOpenCheck } = await import('../../store/pre-open-check.js');
      const o = config.options;
      const preOpenCheck =
        o.verifyStore === false || o.cluster !== undefined
          ? undefined
          : startPreOpenCheck(o.dataDir ?? HELP_DEFAULTS.dataDir);
      const { BrokerRuntime: Broker } = await import('../../broker.js');
      const { errorFields } = await import('../../logging.js');
      for (const w of config.warnings) io.stderr(`switchyard: warning: ${w}\n`);
      // Handlers go in before the start, so a signal during start-up (or right after the
      // 'listening' line) still shuts down gracefully.
      // eslint-disable-next-line prefer-const -- assigned once below, but read earlier by the signal handler
      let broker: BrokerInstance | undefined;
      let stopRequested = false;
      let signals = 0;
      const shutdown = (b: BrokerInstance): void => {
        b.close().then(
          () => process.exit(0),
          (err: unknown) => {
            io.stderr(`switchyard: shutdown failed: ${err instanceof Error ? err.message : String(err)}\n`);
            process.exit(1);
          },
        );
      };
      const onSignal = (signal: string): void => {
        signals++;
        if (signals > 1) {
          io.stderr(`switchyard: second ${signal}: exiting without waiting for shutdown\n`);
          process.exit(1);
        }
        if (broker === undefined) {
          stopRequested = true;
          return;
        }
        broker.logger.info('signal received: shutting down gracefully (send again to force)', {
          component: 'cli',
          signal,
        });
        shutdown(broker);
      };
      process.on('SIGTERM', () => onSignal('SIGTERM'));
      process.on('SIGINT', () => onSignal('SIGINT'));
      const isTTY = process.stdout.isTTY === true;
      const configured = config.options.logFormat;
      broker = await Broker.start(
        { ...config.options, logFormat: chooseLogFormat(configured, isTTY) },
        // Damage found by the background store check: the broker logged it and closed.
        { storeDamaged: () => process.exit(1), ...(preOpenCheck === undefined ? {} : { preOpenCheck }) },
      );
      if (showBanner(configured, isTTY)) {
        const defaultLogin = await broker.access.checkPassword('guest', 'guest');
        io.stdout(
          renderBanner({
            version: broker.version,
            url: broker.url,
            managementUrl: broker.managementUrl,
            dataDir: broker.options.dataDir,
            defaultLogin,
          }),
        );
      }
      // Last resort, only here: the embeddable Broker leaves its host's process alone. Every
      // known timer and socket callback is guarded where it runs; anything else reaching the
      // top is logged with its stack and the broker keeps serving rather than dropping every
      // connection (all confirmed messages are in LMDB either way). spec/semantics.md
      // §Unexpected errors.
      const log = broker.logger;
      process.on('uncaughtException', (err) => {
        log.error('uncaught exception: the broker carries on; please report this', {
          component: 'cli',
          ...errorFields(err),
        });
      });
      if (stopRequested) {
        broker.logger.info('signal received during start-up: shutting down gracefully', { component: 'cli' });
        shutdown(broker);
      }
    });
}

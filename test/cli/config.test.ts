import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DEFAULTS } from '@switchyard/broker';
import { ConfigError, loadServerConfig, HELP_DEFAULTS } from '@switchyard/broker/internal';
import { makeTmpDir } from '../helpers/tmp.js';
import { CLI, runCli } from '../helpers/run-cli.js';

describe('server configuration (flags > env > config file > defaults)', () => {
  let tmp: { dir: string; remove: () => Promise<void> };
  beforeEach(async () => {
    tmp = await makeTmpDir('config');
  });
  afterEach(async () => {
    await tmp.remove();
  });
  const file = async (name: string, text: string): Promise<string> => {
    const path = join(tmp.dir, name);
    await writeFile(path, text);
    return path;
  };
  const failure = (fn: () => unknown): string => {
    try {
      fn();
    } catch (err) {
      expect(err).to.be.instanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('expected a ConfigError');
  };

  it('reads YAML (camelCase or kebab-case keys) and JSON files', async () => {
    const yaml = await file(
      'c.yaml',
      'port: 6000\nmanagement-port: false\ndata_dir: /var/lib/sy\nlogLevel: debug\nheartbeatMs: 0\n',
    );
    expect(loadServerConfig({ configFile: yaml }).options).to.deep.equal({
      port: 6000,
      managementPort: false,
      dataDir: '/var/lib/sy',
      logLevel: 'debug',
      heartbeatMs: 0,
    });
    const json = await file('c.json', JSON.stringify({ host: '0.0.0.0', noSync: true }));
    expect(loadServerConfig({ configFile: json }).options).to.deep.equal({ host: '0.0.0.0', noSync: true });
    expect(loadServerConfig({ configFile: await file('empty.yaml', '') }).options).to.deep.equal({});
  });

  it('lets env override the file and flags override both; SWITCHYARD_CONFIG names the file', async () => {
    const yaml = await file('c.yaml', 'port: 6000\nmanagementPort: 16000\nlogFormat: pretty\n');
    const env = {
      SWITCHYARD_CONFIG: yaml,
      SWITCHYARD_PORT: '7000',
      SWITCHYARD_LOG_FORMAT: 'json',
      SWITCHYARD_NO_SYNC: 'yes',
      SWITCHYARD_MANAGEMENT_PORT: 'off',
    };
    const c = loadServerConfig({ env, flags: { port: 8000 } });
    expect(c.options).to.deep.equal({ port: 8000, managementPort: false, logFormat: 'json', noSync: true });
    expect(c.origins).to.deep.include({
      port: 'option --port',
      logFormat: 'environment variable SWITCHYARD_LOG_FORMAT',
    });
  });

  it('warns about unknown SWITCHYARD_* variables but not the client ones', () => {
    const c = loadServerConfig({
      env: { SWITCHYARD_PROT: '1', SWITCHYARD_URL: 'http://x', SWITCHYARD_USER: 'u', PATH: '/bin' },
    });
    expect(c.warnings).to.deep.equal(['ignoring unknown environment variable SWITCHYARD_PROT']);
  });

  it('names the bad key and where it came from', async () => {
    const typo = await file('typo.yaml', 'prot: 5680\n');
    expect(failure(() => loadServerConfig({ configFile: typo }))).to.match(
      /^config file '.*typo\.yaml': unknown key "prot" \(did you mean "port"\?\); known keys: port, host, /,
    );
    const type = await file('type.json', '{"heartbeatMs": "30s"}');
    expect(failure(() => loadServerConfig({ configFile: type }))).to.match(
      /^config file '.*type\.json': key "heartbeatMs": expected an integer, got "30s"$/,
    );
    const range = await file('range.yaml', 'port: 70000\n');
    expect(failure(() => loadServerConfig({ configFile: range }))).to.match(
      /^config file '.*range\.yaml': key "port": expected an integer port from 0 to 65535, got 70000$/,
    );
    const level = await file('level.yaml', 'logLevel: loud\n');
    expect(failure(() => loadServerConfig({ configFile: level }))).to.match(
      /key "logLevel": expected silent, error, warn, info or debug, got "loud"/,
    );
    expect(failure(() => loadServerConfig({ env: { SWITCHYARD_HEARTBEAT_MS: 'often' } }))).to.equal(
      'environment variable SWITCHYARD_HEARTBEAT_MS: expected an integer, got "often"',
    );
    expect(failure(() => loadServerConfig({ env: { SWITCHYARD_PORT: '99999' } }))).to.equal(
      'environment variable SWITCHYARD_PORT: expected an integer port from 0 to 65535, got 99999',
    );
    expect(failure(() => loadServerConfig({ env: { SWITCHYARD_NO_SYNC: 'maybe' } }))).to.equal(
      'environment variable SWITCHYARD_NO_SYNC: expected true or false, got "maybe"',
    );
    expect(failure(() => loadServerConfig({ configFile: join(tmp.dir, 'missing.yaml') }))).to.match(
      /^cannot read config file '.*missing\.yaml': no such file$/,
    );
    const broken = await file('broken.json', '{"port": ');
    expect(failure(() => loadServerConfig({ configFile: broken }))).to.match(
      /^config file '.*broken\.json' is not valid JSON/,
    );
    const list = await file('list.yaml', '- port\n');
    expect(failure(() => loadServerConfig({ configFile: list }))).to.match(
      /expected a mapping of settings at the top level/,
    );
  });

  it('shows the real defaults in `switchyard server --help`', () => {
    expect(HELP_DEFAULTS).to.deep.equal({
      port: DEFAULTS.port,
      host: DEFAULTS.host,
      managementPort: DEFAULTS.managementPort,
      amqpPort: DEFAULTS.amqpPort,
      dataDir: DEFAULTS.dataDir,
      logLevel: DEFAULTS.logLevel,
      logFormat: DEFAULTS.logFormat,
    });
  });

  describe('switchyard server --config (real process)', function () {
    this.timeout(20_000);

    it('exits 1 with one line naming the bad key', async () => {
      const bad = await file('bad.yaml', `dataDir: ${tmp.dir}\nmanagementPort: lots\n`);
      const r = await runCli(['server', '--config', bad]);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(
        /^switchyard: config file '.*bad\.yaml': key "managementPort": expected a port number or false, got "lots"\n$/,
      );
    });

    it('starts from file + env + flags with the documented precedence', async () => {
      const dataDir = join(tmp.dir, 'data');
      const cfg = await file(
        'sy.yaml',
        `port: 0\nmanagementPort: 0\namqpPort: 0\ndataDir: ${dataDir}\nlogFormat: pretty\nlogLevel: debug\n`,
      );
      const env: Record<string, string | undefined> = { ...process.env, SWITCHYARD_LOG_FORMAT: 'json' };
      const child = spawn(process.execPath, [CLI, 'server', '--config', cfg, '--log-level', 'info'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env,
      });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const listening = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no listening line')), 15_000);
        createInterface({ input: child.stdout }).on('line', (line) => {
          if (!line.startsWith('{')) return reject(new Error(`not JSON (env should beat the file's pretty): ${line}`));
          const entry = JSON.parse(line) as Record<string, unknown>;
          if (entry['level'] === 'debug')
            reject(new Error('debug line: the flag --log-level info should beat the file'));
          if (entry['message'] === 'listening') {
            clearTimeout(timer);
            resolve(entry);
          }
        });
      });
      expect(listening['dataDir']).to.equal(dataDir);
      expect(listening['url']).to.match(/^ws:\/\/127\.0\.0\.1:\d+$/);
      child.kill('SIGTERM');
      expect(await exited).to.equal(0);
    });
  });
});

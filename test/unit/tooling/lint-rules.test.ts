import { expect } from 'chai';
import { ESLint } from 'eslint';
import { fileURLToPath } from 'node:url';
import tseslint from 'typescript-eslint';

/**
 * The boundary and cycle rules of eslint.config.js fail silently when misconfigured (import-x
 * without its TypeScript settings sees no edges at all and reports nothing). These cases lint
 * code as if it were written at a given path of the tree and check each rule still fires.
 * Type information is switched off: these rules do not need it, and it keeps this fast.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const WATCHED = new Set(['no-restricted-imports', 'import-x/no-restricted-paths', 'import-x/no-cycle']);

describe('eslint.config.js boundaries', function () {
  this.timeout(60_000);
  let eslint: ESLint;

  before(() => {
    eslint = new ESLint({
      cwd: ROOT,
      overrideConfig: [tseslint.configs.disableTypeChecked],
    });
  });

  /** Rule ids reported for `code` placed at `path`, limited to the rules under test. */
  async function violations(path: string, code: string): Promise<string[]> {
    const [result] = await eslint.lintText(code, { filePath: `${ROOT}${path}` });
    const fatal = result!.messages.filter((m) => m.fatal);
    expect(fatal, JSON.stringify(fatal)).to.deep.equal([]);
    return result!.messages.filter((m) => WATCHED.has(m.ruleId ?? '')).map((m) => `${m.line}:${m.ruleId}`);
  }

  it('keeps routing/ and queues/ off server/, vhost/, lmdb and ws', async () => {
    expect(
      await violations(
        'broker/src/routing/zz-probe.ts',
        [
          "import { Session } from '../server/session.js';",
          "import { VirtualHost } from '../vhost/virtual-host.js';",
          "import { open } from 'lmdb';",
          "import WebSocket from 'ws';",
          "import { ErrorCode } from '@switchyard/client/protocol';",
          'export const all = [Session, VirtualHost, open, WebSocket, ErrorCode];',
        ].join('\n'),
      ),
    ).to.deep.equal([
      '1:import-x/no-restricted-paths',
      '2:import-x/no-restricted-paths',
      '3:no-restricted-imports',
      '4:no-restricted-imports',
    ]);
    expect(
      await violations(
        'broker/src/queues/zz-probe.ts',
        "import type { ServerChannel } from '../server/channel.js';\nexport type C = ServerChannel;",
      ),
    ).to.deep.equal(['1:import-x/no-restricted-paths']);
  });

  it('lets store/ import nothing else of the broker, and only store/ import lmdb', async () => {
    expect(
      await violations(
        'broker/src/store/zz-probe.ts',
        [
          "import { Queue } from '../queues/queue.js';",
          "import type { QueueStore } from './store.js';",
          "import { open } from 'lmdb';",
          'export type S = [Queue, QueueStore, typeof open];',
        ].join('\n'),
      ),
    ).to.deep.equal(['1:import-x/no-restricted-paths']);
    expect(
      await violations('broker/src/server/zz-probe.ts', "import { open } from 'lmdb';\nexport const o = open;"),
    ).to.deep.equal(['1:no-restricted-imports']);
    expect(
      await violations('broker/src/vhost/zz-probe.ts', "import WebSocket from 'ws';\nexport const w = WebSocket;"),
    ).to.deep.equal(['1:no-restricted-imports']);
  });

  it('keeps server/ off management/ and the Broker, and management/ on an interface of the Broker', async () => {
    expect(
      await violations(
        'broker/src/server/zz-probe.ts',
        "import type { Broker } from '../broker.js';\nimport { createRoutes } from '../management/routes.js';\nexport type B = [Broker, typeof createRoutes];",
      ),
    ).to.deep.equal(['1:import-x/no-restricted-paths', '2:import-x/no-restricted-paths']);
    expect(
      await violations(
        'broker/src/management/zz-probe.ts',
        "import type { Broker } from '../broker.js';\nexport type B = Broker;",
      ),
    ).to.deep.equal(['1:import-x/no-restricted-paths']);
  });

  it('lets the broker take the SDK only as @switchyard/client/protocol', async () => {
    expect(
      await violations(
        'broker/src/server/zz-probe.ts',
        "import { connect } from '@switchyard/client';\nimport { ErrorCode } from '@switchyard/client/protocol';\nexport const x = [connect, ErrorCode];",
      ),
    ).to.deep.equal(['1:no-restricted-imports']);
  });

  it('keeps Node built-ins and Node transports out of the browser-capable SDK core', async () => {
    expect(
      await violations(
        'client-sdk/src/core/zz-probe.ts',
        [
          "import { EventEmitter } from 'node:events';",
          "import { Buffer } from 'buffer';",
          "import { createNodeTransport } from '../transport/node.js';",
          "import type { Transport } from '../transport/transport.js';",
          'export const all = [EventEmitter, Buffer, createNodeTransport];',
          'export type T = Transport;',
        ].join('\n'),
      ),
    ).to.deep.equal(['1:no-restricted-imports', '2:no-restricted-imports', '3:import-x/no-restricted-paths']);
    expect(
      await violations(
        'client-sdk/src/node-platform.ts',
        "import { Buffer } from 'node:buffer';\nexport const b = Buffer;",
      ),
    ).to.deep.equal([]);
  });

  it('reports an import cycle', async () => {
    // protocol/index.ts re-exports limits.ts: limits.ts importing the index closes a cycle.
    expect(
      await violations(
        'client-sdk/src/protocol/limits.ts',
        "import { ErrorCode } from './index.js';\nexport const x = ErrorCode;",
      ),
    ).to.deep.equal(['1:import-x/no-cycle']);
  });
});

import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startBroker, useBroker } from '../helpers/broker.js';
import { makeTmpDir } from '../helpers/tmp.js';
import { api, V } from '../helpers/http.js';
import { CLI, runCli } from '../helpers/run-cli.js';

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, '')
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function anchorsOf(markdown: string): Set<string> {
  return new Set([...markdown.matchAll(/^#{1,6} +(.+)$/gm)].map((m) => slug(m[1]!)));
}

/** The fenced block of `lang` that follows `heading`. */
function blockAfter(markdown: string, heading: string, lang: string): string {
  const at = markdown.indexOf(heading);
  expect(at, heading).to.be.greaterThan(-1);
  const m = new RegExp('```' + lang + '\\n([\\s\\S]*?)\\n```').exec(markdown.slice(at));
  expect(m, `a ${lang} block after ${heading}`).to.not.equal(null);
  return m![1]!;
}

async function markdownFiles(): Promise<string[]> {
  const spec = (await readdir(join(ROOT, 'spec'))).filter((f) => f.endsWith('.md')).map((f) => join(ROOT, 'spec', f));
  const more = ['README.md', 'client-sdk/README.md', 'client-sdk/examples/README.md', 'broker/README.md']
    .map((f) => join(ROOT, f))
    .filter((f) => existsSync(f));
  return [...more, ...spec];
}

/** issue 11 item 19: the READMEs' samples run one after the other, and their links resolve. */
describe('README and docs', function () {
  this.timeout(60_000);

  it('every relative link (and its #anchor) in the READMEs and spec/ resolves', async () => {
    const broken: string[] = [];
    for (const file of await markdownFiles()) {
      const text = await readFile(file, 'utf8');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/i.test(target)) continue; // http:, https:, mailto:
        const [path, anchor] = target.split('#') as [string, string | undefined];
        const resolved = path === '' ? file : join(dirname(file), path);
        const where = `${relative(ROOT, file)}: ${target}`;
        if (!existsSync(resolved)) {
          broken.push(`${where} (no such file)`);
          continue;
        }
        if (
          anchor !== undefined &&
          resolved.endsWith('.md') &&
          !anchorsOf(await readFile(resolved, 'utf8')).has(anchor)
        )
          broken.push(`${where} (no such heading)`);
      }
    }
    expect(broken).to.deep.equal([]);
  });

  it('every document a README names in code spans (`spec/security.md`) exists', async () => {
    const missing: string[] = [];
    for (const file of (await markdownFiles()).filter((f) => f.endsWith('README.md'))) {
      for (const m of (await readFile(file, 'utf8')).matchAll(/`([\w./-]+\.md)`/g)) {
        const name = m[1]!;
        if (![dirname(file), ROOT, join(ROOT, 'spec')].some((d) => existsSync(join(d, name))))
          missing.push(`${relative(ROOT, file)}: ${name}`);
      }
    }
    expect(missing).to.deep.equal([]);
  });

  describe('the samples, one after the other, on one broker', () => {
    const fx = useBroker({ noSync: true }, { per: 'suite' });
    let tmp: { dir: string; remove: () => Promise<void> };
    const scratch = join(ROOT, 'test-output');
    before(async () => {
      tmp = await makeTmpDir('readme');
    });
    after(async () => {
      await tmp.remove();
    });

    it("runs the AMQP 0-9-1 sample against the broker's AMQP port", async () => {
      const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
      await mkdir(scratch, { recursive: true });
      const sample = join(scratch, `readme-amqp-${process.pid}.mjs`);
      const url = fx.tb.broker.amqpUrl!.replace('amqp://', 'amqp://guest:guest@');
      const code = blockAfter(readme, '## AMQP 0-9-1', 'js').replaceAll('amqp://guest:guest@127.0.0.1:5672', url);
      await writeFile(sample, `${code}\nawait conn.close();\n`);
      try {
        await exec(process.execPath, [sample]);
        const q = await api(fx.tb, 'GET', `/api/queues/${V}/jobs`);
        expect(q.body).to.include({ name: 'jobs', messages: 1 });
      } finally {
        await rm(sample, { force: true });
      }
    });

    it('runs the Example, then every command of "Administering it"', async () => {
      const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
      // The Example imports '@switchyard/client': it must run from inside the repository.
      await mkdir(scratch, { recursive: true });
      const example = join(scratch, `readme-example-${process.pid}.mjs`);
      await writeFile(example, blockAfter(readme, '## Example', 'js').replaceAll('ws://127.0.0.1:5680', fx.tb.url));
      try {
        const { stdout } = await exec(process.execPath, [example]);
        expect(stdout).to.include('got {"id":42} redelivered: false');
      } finally {
        await rm(example, { force: true });
      }
      const commands = blockAfter(readme, '### Administering it', 'sh');
      const script = `set -e\nswitchyard() { "${process.execPath}" "${CLI}" "$@"; }\n${commands}\n`;
      const r = await exec('bash', ['-c', script], {
        cwd: tmp.dir,
        env: { ...process.env, SWITCHYARD_URL: fx.tb.broker.managementUrl! },
      }).catch((e: { code: number; stdout: string; stderr: string }) =>
        expect.fail(`exit ${e.code}:\n${e.stdout}\n${e.stderr}`),
      );
      expect(r.stdout).to.include("exchange 'events' (topic) declared");
      expect(r.stdout).to.include('1 message shown (left in place)');
    });
  });

  it('x-consistent-hash exchanges can be declared with the CLI and the management API', async () => {
    const tb = await startBroker({ noSync: true });
    try {
      const r = await runCli([
        'declare',
        'exchange',
        'by-customer',
        'x-consistent-hash',
        '--url',
        tb.broker.managementUrl!,
      ]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.equal("exchange 'by-customer' (x-consistent-hash) declared\n");
      const put = await api(tb, 'PUT', `/api/exchanges/${V}/by-header`, {
        type: 'x-consistent-hash',
        arguments: { 'hash-header': 'customer' },
      });
      expect(put.status, JSON.stringify(put.body)).to.equal(201);
      expect((await api(tb, 'GET', `/api/exchanges/${V}/by-customer`)).body).to.include({ type: 'x-consistent-hash' });
      const bad = await api(tb, 'PUT', `/api/exchanges/${V}/nope`, { type: 'x-nonsense' });
      expect(bad.status).to.equal(400);
      expect(bad.body.field).to.equal('type');
    } finally {
      await tb.stop();
    }
  });
});

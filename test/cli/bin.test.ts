import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { makeTmpDir } from '../helpers/tmp.js';

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface PackageJson {
  bin: Record<string, string>;
}

/**
 * issue 11 item 15: npm links a workspace's bin before `prepare` builds dist/, so a bin that
 * points into dist/ is missing from node_modules/.bin on a fresh clone. The bin must be a
 * file committed to git, executable, that works once the build has run.
 */
describe('the switchyard bin (fresh-clone install)', () => {
  let target: string;

  before(async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'broker/package.json'), 'utf8')) as PackageJson;
    target = join('broker', pkg.bin['switchyard']!);
  });

  it('is a file tracked in git, outside dist/, with the executable bit and a node shebang', async () => {
    expect(target).not.to.match(/(^|\/)dist\//);
    const { stdout } = await exec('git', ['ls-files', '-s', '--', target], { cwd: ROOT });
    expect(stdout, `${target} is not committed`).to.match(/^100755 /);
    expect(await readFile(join(ROOT, target), 'utf8')).to.match(/^#!\/usr\/bin\/env node\n/);
  });

  it('runs the CLI: --help lists the commands', async () => {
    const { stdout } = await exec(join(ROOT, target), ['--help']);
    expect(stdout).to.match(/^Usage: switchyard/m);
    expect(stdout).to.match(/^ {2}server\b/m);
  });

  it('says to build, in one line, when dist/ is missing', async () => {
    const tmp = await makeTmpDir('bin');
    try {
      await mkdir(join(tmp.dir, 'bin'));
      const copy = join(tmp.dir, 'bin', 'switchyard.js');
      await copyFile(join(ROOT, target), copy);
      const err = (await exec(process.execPath, [copy, '--help']).then(
        () => expect.fail('a launcher without dist/ must fail'),
        (e: unknown) => e,
      )) as { code: number; stderr: string };
      expect(err.code).to.equal(1);
      expect(err.stderr.trimEnd().split('\n')).to.have.length(1);
      expect(err.stderr).to.match(/^switchyard: the broker is not built .*npm run build/);
    } finally {
      await tmp.remove();
    }
  });
});

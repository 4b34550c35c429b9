import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * issue 11 item 21: both packages are ready to publish. `npm run check:packages`
 * (scripts/check-packages.mjs) packs them with `npm pack --dry-run --json` and checks README,
 * LICENSE, entry points, source maps, declaration dependencies, publishConfig, engines,
 * repository, and runs publint.
 */
describe('npm packages (npm pack --dry-run)', function () {
  this.timeout(120_000);

  it('pass check:packages: README, LICENSE, entries, maps, typed dependencies, publint', async () => {
    const r = await exec(process.execPath, ['scripts/check-packages.mjs'], { cwd: ROOT }).catch(
      (e: { stdout: string; stderr: string }) => expect.fail(`check:packages failed:\n${e.stdout}${e.stderr}`),
    );
    expect(r.stdout).to.match(
      /^check:packages: @switchyard\/broker@\S+ \(\d+ files, \d+ bytes\), @switchyard\/client@\S+ .* ok\n$/,
    );
  });
});

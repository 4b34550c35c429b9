// Bundles the browser entry of the client SDK with esbuild:
// client-sdk/dist/switchyard.browser.js (ESM) and switchyard.browser.iife.js (global `Switchyard`).
// No polyfills: a Node built-in reaching the browser entry fails the build, which is the
// guard that keeps Node-only code out of the browser SDK.
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'client-sdk/src/index.browser.ts');
if (!existsSync(entry)) {
  console.log('build-browser: no client-sdk/src/index.browser.ts yet; skipped');
  process.exit(0);
}

const common = {
  entryPoints: [entry],
  bundle: true,
  platform: 'browser',
  target: 'es2020',
  sourcemap: true,
  metafile: true,
  logLevel: 'warning',
  external: [],
};

const outputs = [
  { ...common, format: 'esm', outfile: join(root, 'client-sdk/dist/switchyard.browser.js') },
  {
    ...common,
    format: 'iife',
    globalName: 'Switchyard',
    outfile: join(root, 'client-sdk/dist/switchyard.browser.iife.js'),
  },
];
for (const options of outputs) {
  const result = await build(options);
  for (const [file, info] of Object.entries(result.metafile.outputs)) {
    if (file.endsWith('.js'))
      console.log(`build-browser: ${file.replace(root + '/', '')} ${(info.bytes / 1024).toFixed(1)} KiB`);
  }
}

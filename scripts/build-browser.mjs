// Bundles the browser entries of the client SDK with esbuild:
// client-sdk/dist/switchyard.browser.js (ESM) and switchyard.browser.iife.js (global `Switchyard`),
// and the JSON schema helpers as client-sdk/dist/switchyard-schemas.browser.js (ESM).
// Prints each bundle's size as written (not minified) and minified + gzip (what a page pays).
// No polyfills: a Node built-in reaching the browser entry fails the build, which is the
// guard that keeps Node-only code out of the browser SDK.
import { build } from 'esbuild';
import { existsSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
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
  {
    ...common,
    entryPoints: [join(root, 'client-sdk/src/schemas/index.browser.ts')],
    format: 'esm',
    outfile: join(root, 'client-sdk/dist/switchyard-schemas.browser.js'),
  },
];
const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
for (const options of outputs) {
  const result = await build(options);
  for (const [file, info] of Object.entries(result.metafile.outputs)) {
    if (!file.endsWith('.js')) continue;
    // The same bundle minified, in memory: the size a page downloads (gzip), for the README.
    const min = await build({ ...options, minify: true, write: false, sourcemap: false, metafile: false });
    const minified = min.outputFiles.find((f) => f.path.endsWith('.js')).contents;
    const written = readFileSync(join(root, file));
    console.log(
      `build-browser: ${file.replace(root + '/', '')} ${kib(info.bytes)} ` +
        `(gzip ${kib(gzipSync(written).length)}; minified ${kib(minified.length)}, minified+gzip ${kib(gzipSync(minified).length)})`,
    );
  }
}

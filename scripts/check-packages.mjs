#!/usr/bin/env node
// `npm run check:packages`: checks what `npm publish` would ship for each workspace package,
// without publishing: `npm pack --dry-run --json` lists the files, then
//  - README.md, LICENSE (identical to the repository's), package.json, and every file that
//    main/types/exports/bin name are in the tarball;
//  - no tests, build info or other stray files;
//  - every source map points only at files in the tarball;
//  - every package a shipped .d.ts imports is a dependency that brings its types (its own or
//    @types/<name>), so a TypeScript user of the package compiles;
//  - publint (pinned devDependency) finds nothing, warnings included.
// Run `npm run build` first. Exits 1 listing every problem.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WORKSPACES = ['broker', 'client-sdk'];
const STRAY = [
  /(^|\/)test\//,
  /\.test\.[cm]?[jt]s$/,
  /\.tsbuildinfo$/,
  /(^|\/)tsconfig\.json$/,
  /(^|\/)node_modules\//,
];
const problems = [];

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

/** Every path package.json makes importable or runnable. */
function declaredEntries(pkg) {
  const out = [pkg.main, pkg.types, ...Object.values(pkg.bin ?? {})];
  const walk = (v) =>
    typeof v === 'string' ? out.push(v) : v && typeof v === 'object' && Object.values(v).forEach(walk);
  walk(pkg.exports);
  return out.filter((p) => typeof p === 'string').map((p) => normalize(p));
}

/** True when the installed package `name` ships its own type declarations. */
function hasOwnTypes(name) {
  const file = join(ROOT, 'node_modules', name, 'package.json');
  if (!existsSync(file)) return false;
  const pkg = readJson(file);
  return pkg.types !== undefined || pkg.typings !== undefined || JSON.stringify(pkg.exports ?? {}).includes('"types"');
}

/** `ws`, `@scope/name` from an import specifier (`ws/lib/x`, `@scope/name/sub`). */
const packageOf = (spec) =>
  spec
    .split('/')
    .slice(0, spec.startsWith('@') ? 2 : 1)
    .join('/');

function checkPackage(dir, files) {
  const pkgDir = join(ROOT, dir);
  const pkg = readJson(join(pkgDir, 'package.json'));
  const packed = new Set(files.map((f) => normalize(f.path)));
  const say = (m) => problems.push(`${pkg.name}: ${m}`);
  if (!existsSync(join(pkgDir, 'dist'))) say('dist/ is missing: run `npm run build` first');

  for (const need of ['package.json', 'README.md', 'LICENSE', ...declaredEntries(pkg)])
    if (!packed.has(need)) say(`${need} is not in the tarball`);
  if (
    packed.has('LICENSE') &&
    readFileSync(join(pkgDir, 'LICENSE'), 'utf8') !== readFileSync(join(ROOT, 'LICENSE'), 'utf8')
  )
    say('LICENSE differs from the repository LICENSE');
  for (const f of packed) if (STRAY.some((re) => re.test(f))) say(`${f} should not be shipped`);
  if (pkg.publishConfig?.access !== 'public')
    say('publishConfig.access must be "public" (a scoped package is private by default)');
  if (pkg.engines?.node === undefined) say('engines.node is missing');
  if (pkg.repository?.directory !== dir) say(`repository.directory must be "${dir}"`);
  // npm publish rewrites "./x" bin paths, with a warning that reads like an error.
  for (const [name, target] of Object.entries(pkg.bin ?? {}))
    if (target.startsWith('./')) say(`bin.${name}: write "${target.slice(2)}", not "${target}"`);

  for (const f of packed) {
    if (!f.endsWith('.map')) continue;
    const map = readJson(join(pkgDir, f));
    (map.sources ?? []).forEach((s, i) => {
      // A map that embeds the source text (esbuild's sourcesContent) needs no file.
      if (typeof map.sourcesContent?.[i] === 'string') return;
      const target = normalize(join(dirname(f), map.sourceRoot ?? '', s));
      if (!packed.has(target)) say(`${f} points at ${target}, which is not shipped`);
    });
  }

  const deps = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})]);
  for (const f of packed) {
    if (!f.endsWith('.d.ts')) continue;
    const text = readFileSync(join(pkgDir, f), 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/^\s*\/\/.*$/gm, '');
    const specifiers = [
      ...text.matchAll(/^\s*(?:import|export)\b[^'";]*?from\s*['"]([^'"]+)['"]/gm),
      ...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g),
    ];
    for (const m of specifiers) {
      const spec = m[1];
      if (spec.startsWith('.') || spec.startsWith('node:') || builtinModules.includes(spec)) continue;
      const name = packageOf(spec);
      if (name === pkg.name) continue;
      if (!deps.has(name)) say(`${f} imports '${spec}', but ${name} is not a dependency`);
      else if (!hasOwnTypes(name) && !deps.has(`@types/${name.replace(/^@([^/]+)\//, '$1__')}`))
        say(`${f} imports '${spec}': add @types/${name} to dependencies`);
    }
  }

  try {
    execFileSync(join(ROOT, 'node_modules/.bin/publint'), ['--strict', pkgDir], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    say(`publint: ${`${err.stdout ?? ''}${err.stderr ?? ''}`.trim() || err.message}`);
  }
}

const args = ['pack', '--dry-run', '--json', '--ignore-scripts', ...WORKSPACES.flatMap((w) => ['--workspace', w])];
const packs = JSON.parse(execFileSync('npm', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
for (const dir of WORKSPACES) {
  const name = readJson(join(ROOT, dir, 'package.json')).name;
  const pack = packs.find((p) => p.name === name);
  if (pack === undefined) problems.push(`${name}: npm pack listed nothing`);
  else checkPackage(dir, pack.files);
}

if (problems.length > 0) {
  process.stderr.write(
    `check:packages: ${problems.length} problem(s)\n${problems.map((p) => `  - ${p}`).join('\n')}\n`,
  );
  process.exit(1);
}
process.stdout.write(
  `check:packages: ${packs.map((p) => `${p.name}@${p.version} (${p.entryCount} files, ${p.size} bytes)`).join(', ')} ok\n`,
);

// ESLint flat config: typescript-eslint (type-aware) + the import boundaries that keep the
// layout of ARCHITECTURE.md ("Layout", "Where the next features land") true as the code grows.
// Formatting is Prettier's job (`.prettierrc.json`); eslint-config-prettier turns off every
// stylistic rule that would fight it.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import prettier from 'eslint-config-prettier';
import globals from 'globals';

// import-x's TypeScript preset minus its legacy resolver: we use the resolver-next interface below.
const { 'import-x/resolver': _legacyResolver, ...importXTypeScriptSettings } = importX.flatConfigs.typescript.settings;

const B = 'broker/src';
const SDK = 'client-sdk/src';

// Node built-ins by bare name (`node:*` is a pattern below): none may reach the browser bundle.
const nodeBuiltins = builtinModules.filter((m) => !m.startsWith('_'));

// Folders and files of broker/src that sit above the layers they import
// (transports -> server -> vhost -> routing -> queues -> store, ARCHITECTURE.md).
const aboveVhost = [
  `${B}/server`,
  `${B}/transports`,
  `${B}/management`,
  `${B}/cli`,
  `${B}/cluster`,
  `${B}/links`,
  `${B}/broker.ts`,
  `${B}/definitions.ts`,
  `${B}/index.ts`,
  `${B}/internal.ts`,
];
const belowServerMessage =
  'Nothing below server/ may know about connections, wire protocols or the embedding Broker ' +
  '(ARCHITECTURE.md "Where the next features land"): pass what you need in as an argument or an interface.';

// The protocol lives once, in the SDK (ARCHITECTURE.md "Layout"): the broker takes only that entry.
const brokerSdkPatterns = [
  {
    regex: '^@switchyard/client(?!/protocol$)',
    message: 'The broker imports the SDK only as @switchyard/client/protocol.',
  },
  { regex: '(^|/)client-sdk/', message: 'Import the protocol as @switchyard/client/protocol.' },
];

// Packages that belong to one layer only (ARCHITECTURE.md "Where the next features land").
const lmdbOnlyInStore = {
  name: 'lmdb',
  message: 'Nothing above store/ knows which engine keeps the queues: go through the store/ interface.',
};
const wsNotBelowServer = {
  name: 'ws',
  message: 'Nothing below server/ knows which protocol a client speaks: sockets stay in server/ and the transports.',
};

export default defineConfig(
  {
    ignores: ['**/dist/**', '**/node_modules/**', 'bench-results/**', 'test-output/**', 'data/**'],
  },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: {
      // .ts extensions and parser for import-x's module graph (without them no-cycle sees no edges).
      ...importXTypeScriptSettings,
      'import-x/resolver-next': [
        createTypeScriptImportResolver({ project: ['broker', 'client-sdk', 'test'], noWarnOnMultipleProjects: true }),
      ],
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Unused imports and locals are errors; a leading underscore marks a deliberately unused one.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // No import cycles: a cycle means two modules are one concern, or a layer imports upwards.
      'import-x/no-cycle': 'error',
      'import-x/no-self-import': 'error',
      'import-x/no-duplicates': 'error',
      // Re-rejecting what a `catch` caught is not inventing a non-Error reason.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // Names, headers and log fields are checked for control characters on purpose
      // (spec/semantics.md §Names, spec/management.md §Logging).
      'no-control-regex': 'off',
    },
  },

  // ---- broker/src import boundaries ------------------------------------------------------------
  {
    files: [`${B}/**/*.ts`],
    ignores: [`${B}/store/**`, `${B}/links/**`],
    rules: { 'no-restricted-imports': ['error', { paths: [lmdbOnlyInStore], patterns: brokerSdkPatterns }] },
  },
  {
    // A link is a client of other brokers (ARCHITECTURE.md "links/"): it uses the SDK like any client.
    files: [`${B}/links/**/*.ts`],
    rules: { 'no-restricted-imports': ['error', { paths: [lmdbOnlyInStore] }] },
  },
  {
    files: [`${B}/store/**/*.ts`],
    rules: { 'no-restricted-imports': ['error', { paths: [wsNotBelowServer], patterns: brokerSdkPatterns }] },
  },
  {
    files: [`${B}/vhost/**/*.ts`, `${B}/routing/**/*.ts`, `${B}/queues/**/*.ts`],
    rules: {
      'no-restricted-imports': ['error', { paths: [lmdbOnlyInStore, wsNotBelowServer], patterns: brokerSdkPatterns }],
    },
  },
  {
    files: [`${B}/**/*.ts`],
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            {
              target: `${B}/server`,
              from: aboveVhost.filter((p) => p !== `${B}/server`),
              message:
                'server/ sits below the transports and beside management/: they call it, not the other way round.',
            },
            {
              // The embedder's Broker is assembled from these parts; they see it through an interface.
              target: [`${B}/management`, `${B}/metrics`, `${B}/definitions.ts`],
              from: `${B}/broker.ts`,
              message: 'Depend on an interface the Broker implements, not on the concrete Broker (it imports you).',
            },
            { target: `${B}/vhost`, from: aboveVhost, message: belowServerMessage },
            {
              target: `${B}/routing`,
              from: [...aboveVhost, `${B}/vhost`, `${B}/queues`, `${B}/store`],
              message: 'routing/ holds pure, synchronous matchers and the exchange graph (ARCHITECTURE.md "Layout").',
            },
            {
              target: `${B}/queues`,
              from: [...aboveVhost, `${B}/vhost`, `${B}/routing`],
              message:
                'queues/ sits below server/, vhost/ and routing/ (ARCHITECTURE.md "Layout"); storage only through store/.',
            },
            {
              target: `${B}/store`,
              from: B,
              except: ['./store'],
              message: 'store/ is the bottom layer (ARCHITECTURE.md "Layout"): it imports nothing else of the broker.',
            },
          ],
        },
      ],
    },
  },
  // ---- client-sdk/src boundaries ---------------------------------------------------------------
  {
    files: [`${SDK}/**/*.ts`],
    ignores: [`${SDK}/transport/node.ts`, `${SDK}/node-platform.ts`, `${SDK}/index.node.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({
              name,
              message: 'The SDK runs in browsers: Node built-ins only in transport/node.ts and node-platform.ts.',
            })),
            { name: 'ws', message: 'The SDK runs in browsers: `ws` only in transport/node.ts.' },
          ],
          patterns: [
            {
              group: ['node:*'],
              message: 'The SDK runs in browsers: Node built-ins only in transport/node.ts and node-platform.ts.',
            },
            { group: ['@switchyard/broker', '@switchyard/broker/*'], message: 'The SDK never depends on the broker.' },
          ],
        },
      ],
    },
  },
  {
    files: [`${SDK}/**/*.ts`],
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            {
              target: `${SDK}/protocol`,
              from: SDK,
              except: ['./protocol'],
              message: 'protocol/ is shared with the broker and depends on nothing else of the SDK.',
            },
            {
              target: `${SDK}/core`,
              from: `${SDK}/transport`,
              except: ['./transport.ts'],
              message: 'core/ is transport-agnostic: it sees only the Transport interface (transport/transport.ts).',
            },
            {
              target: `${SDK}/index.browser.ts`,
              from: [`${SDK}/transport/node.ts`, `${SDK}/node-platform.ts`, `${SDK}/index.node.ts`],
              message: 'The browser entry must not pull in Node code.',
            },
          ],
        },
      ],
    },
  },

  // ---- tests -----------------------------------------------------------------------------------
  {
    files: ['test/**/*.ts'],
    rules: {
      // chai's `expect(x).to.be.true` is an expression statement by design.
      '@typescript-eslint/no-unused-expressions': 'off',
      // Tests read untyped JSON (management API bodies, definitions files) and let chai check
      // its shape at run time; typing every response would only restate the assertions.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },

  // ---- plain JavaScript (scripts, bench, fuzz, dashboard, bin, this file): no type information ----
  {
    // The SDK examples are in no tsconfig (they run as users would, against the built package).
    files: ['**/*.js', '**/*.mjs', '**/*.cjs', 'client-sdk/examples/**/*.ts'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: { globals: globals.node },
  },
  {
    // Page scripts, and the bench driver whose `page.evaluate` callbacks run in the browser.
    files: [`${B}/management/dashboard/**/*.js`, 'test/browser/fixtures/**/*.js', 'scripts/bench/sdk.mjs'],
    languageOptions: { globals: { ...globals.browser, Switchyard: 'readonly' } },
  },
  prettier,
);

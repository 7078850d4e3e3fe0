// Flat ESLint config for the whole workspace.
// - eslint + typescript-eslint "recommended" (type-unaware, so lint needs no build and stays fast)
// - @nx/enforce-module-boundaries: the import table of /ARCHITECTURE.md ("Libraries") as tag constraints
// - the project's "no process.env outside the config lib" rule (STYLE.md §9)
// Boundary and process.env violations are errors; purely stylistic findings are warnings.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

/** Who may import whom, by the tags in each package.json "nx" field. Keep in sync with ARCHITECTURE.md. */
const allowedDeps = {
  'type:domain': [],
  'type:contracts': ['type:domain'],
  'type:util': ['type:util'],
  'type:data': ['type:domain', 'type:contracts', 'type:util'],
  'type:queue': ['type:domain', 'type:contracts', 'type:data', 'type:util'],
  'type:feature': ['type:domain', 'type:util'],
  'type:provider': ['type:domain', 'type:contracts', 'type:data', 'type:util', 'type:provider', 'type:queue'],
  'type:service': ['type:domain', 'type:contracts', 'type:data', 'type:util', 'type:queue', 'type:feature'],
  'type:testing': ['*'],
  'type:example': [],
};

/** @param {boolean} inTests specs and test helpers may also import @ct/testing */
function depConstraints(inTests) {
  return [
    ...Object.entries(allowedDeps).map(([sourceTag, allowed]) => ({
      sourceTag,
      onlyDependOnLibsWithTags: inTests && !allowed.includes('*') ? [...allowed, 'type:testing'] : allowed,
    })),
    // apps are composition roots: anything but another app
    { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['*'], notDependOnLibsWithTags: ['type:app'] },
  ];
}

const boundaries = (inTests, allow = []) => [
  'error',
  {
    allow,
    enforceBuildableLibDependency: false,
    allowCircularSelfDependency: false,
    banTransitiveDependencies: false,
    // a lib's specs may use @ct/testing even though @ct/testing builds on that lib (e.g. persistence)
    ignoredCircularDependencies: inTests ? [['*', 'tag:type:testing']] : [],
    depConstraints: depConstraints(inTests),
  },
];

// Node globals for plain JS files (TypeScript files get no-undef turned off by typescript-eslint).
const nodeGlobals = Object.fromEntries(
  ['process', 'console', 'Buffer', 'URL', 'URLSearchParams', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval',
   'setImmediate', 'queueMicrotask', 'AbortController', 'TextEncoder', 'TextDecoder', 'fetch', 'structuredClone', 'performance',
   '__dirname', '__filename', 'module', 'require', 'exports', 'globalThis'].map((g) => [g, 'readonly']),
);

const testFiles = ['**/*.spec.ts', '**/*.int-spec.ts', '**/*.e2e-spec.ts', '**/test/**/*.ts', 'test/**/*.ts'];

const processEnvMessage = 'Read configuration through @ct/config (loadEnv + a zod schema), not process.env (STYLE.md §9).';

export default defineConfig(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      '**/coverage/**',
      '.nx/**',
      'tmp/**',
      'bench/out/**',
      'libs/persistence/src/generated/**',
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.mts', '**/*.cts', '**/*.js', '**/*.mjs', '**/*.cjs'],
    plugins: { '@nx': nx },
    linterOptions: { reportUnusedDisableDirectives: 'warn' },
    rules: {
      '@nx/enforce-module-boundaries': boundaries(false),
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: processEnvMessage }],
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'process', importNames: ['env'], message: processEnvMessage },
            { name: 'node:process', importNames: ['env'], message: processEnvMessage },
          ],
        },
      ],
      // stylistic / hygiene: worth fixing, not worth failing a build over
      '@typescript-eslint/no-unused-vars': ['warn', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'warn',
      '@typescript-eslint/no-empty-function': 'warn',
      '@typescript-eslint/no-empty-object-type': 'warn',
      '@typescript-eslint/no-inferrable-types': 'warn',
      '@typescript-eslint/no-require-imports': 'warn',
      'prefer-const': 'warn',
      'no-empty': 'warn',
    },
  },
  {
    files: testFiles,
    rules: {
      '@nx/enforce-module-boundaries': boundaries(true),
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // @ct/testing starts the stack with the same launcher as `npm start` (scripts/, not a project)
    files: ['libs/testing/**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': boundaries(true, ['../../../scripts/*']) },
  },
  {
    // the places allowed to read the environment
    files: [
      'libs/config/**',
      'libs/testing/**',
      'apps/worker-agent/src/agent-config.ts',
      // the sample trainer is a standalone program whose contract is its environment (docs/TRAINER-CONTRACT.md)
      'examples/sample-trainer/src/trainer-env.config.ts',
      // tests hand PATH and debug switches to the child processes they start
      '**/*.spec.ts',
      '**/*.int-spec.ts',
      'libs/*/test/**',
      'scripts/**',
      'test/**',
      'bench/**',
      '*.config.{ts,js,mjs,cjs}', // tool configs at the root (prisma.config.ts, jest.config.js, this file)
    ],
    rules: { 'no-restricted-properties': 'off', 'no-restricted-imports': 'off' },
  },
  {
    // plain JS/MJS files (root configs, scripts/, bench/) run on Node
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    languageOptions: { globals: nodeGlobals },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);

// ESLint flat config: the recommended JavaScript and TypeScript rules, nothing stylistic.
// Layering is not checked here but by dependency-cruiser (.dependency-cruiser.cjs).
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

// The Node globals the plain-JS files use. Listed by hand because the `globals` package is
// not a declared dependency; TypeScript files need none (tsc checks names there).
const nodeGlobals = Object.fromEntries([
  'AbortController', 'AbortSignal', 'Buffer', 'URL', 'URLSearchParams', 'TextDecoder', 'TextEncoder',
  'clearImmediate', 'clearInterval', 'clearTimeout', 'console', 'fetch', 'globalThis', 'performance',
  'process', 'queueMicrotask', 'setImmediate', 'setInterval', 'setTimeout', 'structuredClone',
].map((name) => [name, 'readonly']));

export default defineConfig(
  globalIgnores(['node_modules/', '.node/', 'tmp/', 'coverage/']),
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { sourceType: 'module', globals: nodeGlobals },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { ...nodeGlobals, module: 'writable', require: 'readonly', __dirname: 'readonly', __filename: 'readonly' },
    },
    rules: {
      // CommonJS config files (dependency-cruiser's) have no other way to load modules.
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    rules: {
      // `_`-prefixed names are deliberately unused: rest-destructuring to drop a key, ignored parameters.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }],
    },
  },
);

// Flat config: type-aware rules for TypeScript sources, tests and benchmarks.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Rules and the contract stay pure: no storage, no Azure, no HTTP.
const PURE = {
  group: ['@azure/*', '**/store', '**/store/**', '**/app', '**/app/**', '**/functions/**', '**/local/**', 'node:fs', 'fs', 'node:http', 'http'],
  message: 'Rules and the snapshot contract are pure: no storage, Azure, HTTP or file access.',
};
const INTERNALS_MESSAGE = "A rule's files are its own: import the rule from its folder (the registry does), shared helpers from src/rules/common.";
/** From src/ outside src/rules: a file below a rule's folder (the folder itself, its index, is fine). */
const RULE_INTERNALS = { regex: '(^|/)rules/(?!common/)[^/]+/', message: INTERNALS_MESSAGE };
/** From src/rules/*.ts (the registry, the manifest): the same, one level down. */
const RULE_INTERNALS_HERE = { regex: '^\\./(?!common/)[^/]+/', message: INTERNALS_MESSAGE };
/** From tests and benchmarks outside a rule's own tests. */
const RULE_INTERNALS_SRC = { regex: '(^|/)src/rules/(?!common/)[^/]+/', message: INTERNALS_MESSAGE };
/** From inside a rule's folder (or rules/common): another rule; rules/common, rules/types and what lies outside rules/ are fine. */
const OTHER_RULE = {
  regex: '^\\.\\./(?!common(/|$)|types$|\\.\\./)',
  message: "One rule never uses another rule's files: move what both need to src/rules/common.",
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.azurite/**', 'bench/results/**', '.tools/**', '.deploy/**', '.stryker-tmp/**', 'test-results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': ['error', { selector: "CallExpression[callee.property.name='only']", message: 'Focused tests hide the rest of the suite.' }],
    },
  },
  {
    // Outside a rule's folder a rule is its folder's index; its other files are its own. Its tests
    // (test/rules/<rule>/) may reach inside.
    files: ['src/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [RULE_INTERNALS] }] },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    ignores: ['test/rules/*/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [RULE_INTERNALS_SRC] }] },
  },
  {
    files: ['src/snapshot/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [PURE, RULE_INTERNALS] }] },
  },
  {
    files: ['src/rules/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [PURE, RULE_INTERNALS_HERE] }] },
  },
  {
    files: ['src/rules/*/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [PURE, OTHER_RULE] }] },
  },
  {
    files: ['src/store/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/app/**', '**/functions/**', '**/local/**'], message: 'The store depends on nothing above it.' }, RULE_INTERNALS] }] },
  },
  {
    files: ['src/app/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/functions/**', '**/local/**'], message: 'The app depends on no host.' }, RULE_INTERNALS] }] },
  },
  {
    // Tests build broken inputs on purpose; loose types there are the point.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: { globals: { require: 'readonly', module: 'writable', process: 'readonly', console: 'readonly', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);

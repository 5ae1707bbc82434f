// ESLint for the browser modules (static/js) and their node tests (tests/js): `make lint-js`.
import js from '@eslint/js';
import globals from 'globals';

export default [
  { ignores: ['node_modules/', 'static/vendor/', '.venv/', 'test-artifacts/'] },
  js.configs.recommended,
  {
    files: ['static/js/**/*.js'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...globals.browser, ...globals.es2022 },
    },
  },
  {
    files: ['tests/js/**/*.mjs', 'eslint.config.js'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...globals.node, ...globals.es2022 },
    },
  },
  {
    rules: {
      eqeqeq: ['error', 'always', { null: 'ignore' }], // `x != null` is the one loose comparison
      'no-var': 'error',
      'prefer-const': 'error',
      'no-shadow': ['error', { builtinGlobals: false }],
      'no-implicit-globals': 'error',
      'no-unused-vars': ['error', { args: 'none' }],
      'no-use-before-define': ['error', { functions: false, classes: true, variables: false }],
      'no-throw-literal': 'error',
      'no-self-compare': 'off', // `v === v` drops NaN in the display's URL options
    },
  },
];

// ESLint (flat config): the recommended rules of ESLint, typescript-eslint and eslint-plugin-vue.
// Run with `npm run lint`. Types are vue-tsc's job (`npm run typecheck`); this catches the rest.
import js from '@eslint/js'
import { defineConfig, globalIgnores } from 'eslint/config'
import pluginVue from 'eslint-plugin-vue'
import globals from 'globals'
import tseslint from 'typescript-eslint'
import vueParser from 'vue-eslint-parser'

export default defineConfig([
  // build output and files written by scripts/generate-client.sh (node_modules is always ignored)
  globalIgnores(['dist/', 'coverage/', 'src/api/schema.d.ts']),

  js.configs.recommended,
  tseslint.configs.recommended,
  pluginVue.configs['flat/recommended'],

  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: globals.browser,
    },
  },
  {
    files: ['**/*.vue'],
    languageOptions: {
      parser: vueParser,
      parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.vue'] },
    },
    rules: {
      // typescript-eslint turns this off for .ts files only; in <script lang="ts"> the TypeScript
      // compiler already reports unknown names, and no-undef does not understand type-only globals.
      'no-undef': 'off',
    },
  },
  {
    // the service worker's own global scope
    files: ['public/sw.js'],
    languageOptions: { globals: globals.serviceworker, sourceType: 'script' },
  },
  {
    // run by Node, not the browser
    files: ['scripts/**/*.{js,mjs}', 'vite.config.ts', 'eslint.config.js'],
    languageOptions: { globals: globals.node },
  },
  {
    files: ['**/*.vue'],
    rules: {
      // Layout of templates is a matter of formatting, not correctness: the code keeps short tags
      // on one line and self-closes void and empty elements (<img />, <div />), as Prettier does.
      'vue/max-attributes-per-line': 'off',
      'vue/singleline-html-element-content-newline': 'off',
      'vue/html-self-closing': ['warn', { html: { void: 'always', normal: 'always', component: 'always' } }],
    },
  },
  {
    rules: {
      // `_name` marks a binding kept on purpose (destructuring something away, an unused callback
      // argument), the convention TypeScript's noUnusedParameters already follows.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
    },
  },
])

import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['.cache/**', 'dist/**', 'node_modules/**', 'coverage/**', '.hybridsync/**', 'test-artifacts/**'] },
  js.configs.recommended,
  { files: ['bin/**/*.js', 'scripts/**/*.js', 'bench/**/*.js'], languageOptions: { globals: { process: 'readonly', console: 'readonly' } } },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
      // zod's `z` export is a namespace object the bundler cannot trim: it brings all of zod
      // (every locale, ~750 KB) into each start of the CLI; `import * as z` brings what is used
      'no-restricted-syntax': [
        'error',
        { selector: "ImportDeclaration[source.value='zod'] > ImportSpecifier[imported.name='z']", message: "import * as z from 'zod' (the named `z` defeats tree-shaking: all of zod loads on every start)" },
      ],
    },
  },
  {
    // only the Azure backend speaks to the Azure SDK; the YAML parser loads through
    // src/config/yaml.ts, with the first config file (a sync without one does not compile it)
    files: ['src/**'],
    ignores: ['src/backends/azure/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'yaml', allowTypeImports: true, message: 'use yaml() from src/config/yaml.ts (loaded on first use)' }], patterns: ['@azure/*'] }],
    },
  },
  {
    files: ['src/sync/plan.ts', 'src/sync/march.ts', 'src/bisync/plan.ts', 'src/bisync/march.ts', 'src/bisync/merge.ts', 'src/governance/**/policy*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['node:fs*', 'node:net', 'node:http*', '../backends/*', '@aws-sdk/*', '@azure/*'] }],
    },
  },
  {
    files: ['src/core/**', 'src/lib/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['../backends/*', '../sync/*', '../cli/*', '../config/*', '../governance/*', '@azure/*'] }],
    },
  },
);

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
    },
  },
  {
    // only the Azure backend speaks to the Azure SDK
    files: ['src/**'],
    ignores: ['src/backends/azure/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['@azure/*'] }],
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

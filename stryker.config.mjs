// Mutation testing (issue #17): one group of files at a time, chosen by STRYKER_GROUP (scripts/mutation.mjs sets it).
// Each group names the files it mutates and the test files that are meant to kill their mutants, so a run stays within
// a few minutes on two cores. Reports land in reports/mutation/<group>/ (git-ignored).
import { mutationGroups } from './scripts/mutation-groups.mjs';

const name = process.env.STRYKER_GROUP;
const group = mutationGroups[name];
if (!group) throw new Error(`STRYKER_GROUP must be one of: ${Object.keys(mutationGroups).join(', ')} (got ${name ?? 'nothing'})`);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner', './scripts/stryker-ignore-error-messages.mjs'],
  // Equivalent mutants are disabled where they sit, with a `// Stryker disable next-line <mutator>: <why>` comment;
  // docs/development.md lists them.
  ignorers: ['error-messages'],
  // vitest.mutation.config.mjs narrows the tests to the group's (not Stryker's testFiles: see that file).
  vitest: { configFile: 'vitest.mutation.config.mjs', related: false },
  mutate: group.mutate,
  coverageAnalysis: 'perTest',
  concurrency: Number(process.env.STRYKER_CONCURRENCY ?? 2),
  timeoutMS: 5_000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: `reports/mutation/${name}/index.html` },
  jsonReporter: { fileName: `reports/mutation/${name}/mutation.json` },
  tempDirName: `.stryker-tmp/${name}`,
  ignorePatterns: ['/reports', '/.stryker-tmp', '/var', '/.local-run', '/test-results', '/coverage', 'dist'],
  thresholds: { high: 80, low: 60, break: null },
  cleanTempDir: 'always',
};

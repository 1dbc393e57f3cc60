// The Vitest configuration Stryker runs (stryker.config.mjs): the project's, with the tests narrowed to the group's.
// The narrowing lives here rather than in Stryker's `testFiles`, because with `testFiles` Stryker activates static
// mutants (module-level code) after the module has loaded, and reports them as survived (stryker-js#6144).
// STRYKER_TEST_FILES (comma-separated globs) replaces the group's list, e.g. to measure with an older set of tests.
import base from './vitest.config.ts';
import { mutationGroups } from './scripts/mutation-groups.mjs';

const group = mutationGroups[process.env.STRYKER_GROUP ?? ''];
if (!group) throw new Error(`STRYKER_GROUP must be one of: ${Object.keys(mutationGroups).join(', ')}`);
const include = process.env.STRYKER_TEST_FILES ? process.env.STRYKER_TEST_FILES.split(',') : group.testFiles;

export default { ...base, test: { ...base.test, include } };

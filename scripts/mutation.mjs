#!/usr/bin/env node
// `npm run mutation [-- group...]`: runs Stryker on each named group (all of them when none is named), one after
// the other, never in parallel. STRYKER_CONCURRENCY (default 2) sets the test-runner processes per group.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mutationGroups } from './mutation-groups.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const requested = process.argv.slice(2);
const unknown = requested.filter((name) => !(name in mutationGroups));
if (unknown.length > 0) {
  console.error(`unknown group(s) ${unknown.join(', ')}; known: ${Object.keys(mutationGroups).join(', ')}`);
  process.exit(2);
}
let failed = false;
for (const name of requested.length > 0 ? requested : Object.keys(mutationGroups)) {
  console.log(`\n== mutation group ${name} ==`);
  const run = spawnSync(process.execPath, [path.join(root, 'node_modules', '@stryker-mutator', 'core', 'bin', 'stryker.js'), 'run', 'stryker.config.mjs'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, STRYKER_GROUP: name },
  });
  if (run.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);

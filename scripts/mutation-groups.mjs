// The groups `npm run mutation` knows: what each mutates and which tests run against its mutants. Mutants that cannot
// change behaviour are disabled in the source with a `// Stryker disable next-line <mutator>: <reason>` comment.
export const mutationGroups = {
  plan: {
    mutate: ['modules/loader/src/reconcile/plan.ts', 'modules/loader/src/reconcile/target.ts', 'modules/loader/src/reconcile/removal-plan.ts'],
    testFiles: ['modules/loader/src/reconcile/*.test.ts'],
  },
  'serving-index': {
    mutate: ['modules/loader/src/serving/index-changes.ts'],
    testFiles: ['modules/loader/src/serving/*.test.ts'],
  },
  // The transfer guards every download goes through, the chunk path's range fetches included: pure decisions.
  'download-guards': {
    mutate: ['modules/loader/src/download/stall-rule.ts', 'modules/loader/src/download/redirect-policy.ts'],
    testFiles: ['modules/loader/src/download/stall-rule.test.ts', 'modules/loader/src/download/redirect-policy.test.ts'],
  },
  repository: {
    mutate: ['modules/loader/src/repository/model-repository.ts'],
    testFiles: ['modules/loader/src/repository/*.test.ts', 'modules/loader/test/repository.test.ts'],
  },
  'extract-zip': {
    mutate: ['modules/loader/src/package/extract-zip.ts'],
    testFiles: ['modules/loader/src/package/extract-zip.test.ts', 'modules/loader/test/package.test.ts'],
  },
  // The pipeline groups run the pure tests next to the code: test/pipeline.test.ts and test/tiny-yolov3.test.ts run
  // real models (seconds per mutant) and would stretch a group to tens of minutes for the few mutants they add.
  decode: {
    mutate: ['modules/inference/src/pipeline/decode.ts'],
    testFiles: ['modules/inference/src/pipeline/*.test.ts'],
  },
  nms: {
    mutate: ['modules/inference/src/pipeline/nms.ts'],
    testFiles: ['modules/inference/src/pipeline/*.test.ts'],
  },
  preprocess: {
    mutate: ['modules/inference/src/pipeline/preprocess.ts'],
    testFiles: ['modules/inference/src/pipeline/*.test.ts'],
  },
  // The delta groups leave out binary-patch.test.ts: its tests patch the 4 MB SSD model, and instrumented they run past
  // Vitest's 30 s test timeout. The small handmade inputs of the files below reach the same code in milliseconds.
  'delta-patch': {
    mutate: ['packages/delta/src/binary-patch.ts', 'packages/delta/src/patch-format-1.ts', 'packages/delta/src/varint.ts'],
    testFiles: ['packages/delta/src/varint.test.ts', 'packages/delta/src/patch-format.test.ts'],
  },
  'delta-plan': {
    mutate: ['packages/delta/src/patch-plan.ts'],
    testFiles: ['packages/delta/src/patch-plan.test.ts', 'packages/delta/src/patch-format.test.ts'],
  },
  'delta-chunking': {
    mutate: ['packages/delta/src/chunking.ts'],
    testFiles: ['packages/delta/src/chunking.test.ts'],
  },
  'delta-groups': {
    mutate: ['packages/delta/src/group-list.ts', 'packages/delta/src/group-plan.ts'],
    testFiles: ['packages/delta/src/group-list.test.ts', 'packages/delta/src/group-plan.test.ts'],
  },
};

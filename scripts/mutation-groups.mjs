// The groups `npm run mutation` knows: what each mutates and which tests run against its mutants. Mutants that cannot
// change behaviour are disabled in the source with a `// Stryker disable next-line <mutator>: <reason>` comment.
export const mutationGroups = {
  'extract-zip': {
    mutate: ['modules/loader/src/package/extract-zip.ts'],
    testFiles: ['modules/loader/src/package/extract-zip.test.ts', 'modules/loader/test/package.test.ts'],
  },
  decode: {
    mutate: ['modules/inference/src/pipeline/decode.ts'],
    testFiles: ['modules/inference/src/pipeline/*.test.ts', 'modules/inference/test/pipeline.test.ts', 'modules/inference/test/tiny-yolov3.test.ts'],
  },
  nms: {
    mutate: ['modules/inference/src/pipeline/nms.ts'],
    testFiles: ['modules/inference/src/pipeline/*.test.ts'],
  },
  preprocess: {
    mutate: ['modules/inference/src/pipeline/preprocess.ts'],
    testFiles: ['modules/inference/src/pipeline/*.test.ts', 'modules/inference/test/pipeline.test.ts'],
  },
  delta: {
    mutate: ['packages/delta/src/**/*.ts', '!packages/delta/src/**/*.test.ts', '!packages/delta/src/index.ts'],
    testFiles: ['packages/delta/src/**/*.test.ts'],
  },
};

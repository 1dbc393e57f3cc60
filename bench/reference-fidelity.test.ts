import { describe, expect, it } from 'vitest';
import { clampBox, compareDetections, summarizeComparisons } from './reference/compare-detections.js';
import { listPhotos, readFixture, REFERENCE_CASES, runOurPipeline } from './reference/run-ours.js';

// Fixtures: the official reference pipelines' outputs on testdata/images, written by bench/reference/reference-check.ts.
describe.each(REFERENCE_CASES)('$model matches its reference pipeline on every test photo', (testCase) => {
  it('at the family default threshold: same canvases, no missing or extra detection, boxes and scores within the targets', async () => {
    const fixture = await readFixture(testCase.fixture);
    const photos = await listPhotos();
    expect(Object.keys(fixture.images).sort()).toEqual(photos);
    const ours = await runOurPipeline(testCase, photos);
    expect(ours.scoreThreshold).toBe(fixture.scoreThreshold);
    const comparisons = photos.map((photo) => {
      const reference = fixture.images[photo]!;
      const mine = ours.results[photo]!;
      expect({ photo, canvasSha256: mine.canvasSha256 }).toEqual({ photo, canvasSha256: reference.canvasSha256 });
      const clamped = reference.detections.map((d) => ({ ...d, box: clampBox(d.box, reference.width, reference.height) }));
      const comparison = compareDetections(clamped, mine.detections, fixture.scoreThreshold);
      expect({ photo, missing: comparison.missing, extra: comparison.extra }).toEqual({ photo, missing: [], extra: [] });
      return comparison;
    });
    const summary = summarizeComparisons(comparisons);
    expect(summary.matched).toBeGreaterThan(10);
    expect(summary.meanIou).toBeGreaterThanOrEqual(0.995);
    expect(summary.minIou).toBeGreaterThanOrEqual(0.98);
    expect(summary.maxScoreDifference).toBeLessThanOrEqual(0.01);
  });
});

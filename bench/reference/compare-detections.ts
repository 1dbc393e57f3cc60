/** Compares our detections with a reference pipeline's, box by box, for the reference check and its test. */

/** A detection as the fixtures store it: class, score and [xmin, ymin, xmax, ymax] in original-image pixels. */
export interface ReferenceDetection {
  classId: number;
  score: number;
  box: [number, number, number, number];
}

export interface ImageComparison {
  matched: number;
  missing: ReferenceDetection[];
  extra: ReferenceDetection[];
  ious: number[];
  scoreDifferences: number[];
}

export function boxIou(a: readonly number[], b: readonly number[]): number {
  const [ax1 = 0, ay1 = 0, ax2 = 0, ay2 = 0] = a;
  const [bx1 = 0, by1 = 0, bx2 = 0, by2 = 0] = b;
  const width = Math.min(ax2, bx2) - Math.max(ax1, bx1);
  const height = Math.min(ay2, by2) - Math.max(ay1, by1);
  if (width <= 0 || height <= 0) return 0;
  const intersection = width * height;
  return intersection / ((ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - intersection);
}

/** Clamps a box to the image, as the server does before it answers. */
export function clampBox(box: readonly number[], width: number, height: number): [number, number, number, number] {
  const clamp = (value: number, max: number) => Math.min(max, Math.max(0, value));
  const [x1 = 0, y1 = 0, x2 = 0, y2 = 0] = box;
  return [clamp(x1, width), clamp(y1, height), clamp(x2, width), clamp(y2, height)];
}

/**
 * Pairs each reference detection, best score first, with the unpaired detection of ours of the same class that
 * overlaps it most (IoU above 0.5); the rest are missing (reference only) or extra (ours only). Both lists are
 * filtered at `scoreThreshold` first.
 */
export function compareDetections(reference: ReferenceDetection[], ours: ReferenceDetection[], scoreThreshold: number): ImageComparison {
  const wanted = reference.filter((d) => d.score >= scoreThreshold).sort((a, b) => b.score - a.score);
  const remaining = ours.filter((d) => d.score >= scoreThreshold);
  const result: ImageComparison = { matched: 0, missing: [], extra: [], ious: [], scoreDifferences: [] };
  for (const expected of wanted) {
    let best = -1;
    let bestIou = 0.5;
    remaining.forEach((candidate, index) => {
      const iou = candidate.classId === expected.classId ? boxIou(candidate.box, expected.box) : 0;
      if (iou > bestIou) {
        best = index;
        bestIou = iou;
      }
    });
    const [found] = best >= 0 ? remaining.splice(best, 1) : [];
    if (!found) {
      result.missing.push(expected);
      continue;
    }
    result.matched += 1;
    result.ious.push(bestIou);
    result.scoreDifferences.push(Math.abs(found.score - expected.score));
  }
  result.extra = remaining;
  return result;
}

export interface FidelitySummary {
  images: number;
  reference: number;
  matched: number;
  missing: number;
  extra: number;
  meanIou: number;
  minIou: number;
  maxScoreDifference: number;
}

export function summarizeComparisons(comparisons: ImageComparison[]): FidelitySummary {
  const ious = comparisons.flatMap((c) => c.ious);
  const scores = comparisons.flatMap((c) => c.scoreDifferences);
  return {
    images: comparisons.length,
    reference: comparisons.reduce((sum, c) => sum + c.matched + c.missing.length, 0),
    matched: comparisons.reduce((sum, c) => sum + c.matched, 0),
    missing: comparisons.reduce((sum, c) => sum + c.missing.length, 0),
    extra: comparisons.reduce((sum, c) => sum + c.extra.length, 0),
    meanIou: ious.length ? ious.reduce((a, b) => a + b, 0) / ious.length : 1,
    minIou: ious.length ? Math.min(...ious) : 1,
    maxScoreDifference: scores.length ? Math.max(...scores) : 0,
  };
}

import type { Box } from '@edge-ml/contracts';

export interface ScoredBox {
  classId: number;
  score: number;
  box: Box;
}

export function intersectionOverUnion(a: Box, b: Box): number {
  const width = Math.min(a.xmax, b.xmax) - Math.max(a.xmin, b.xmin);
  const height = Math.min(a.ymax, b.ymax) - Math.max(a.ymin, b.ymin);
  if (width <= 0 || height <= 0) return 0;
  const intersection = width * height;
  const union = (a.xmax - a.xmin) * (a.ymax - a.ymin) + (b.xmax - b.xmin) * (b.ymax - b.ymin) - intersection;
  return union <= 0 ? 0 : intersection / union;
}

/** Greedy class-wise non-maximum suppression; returns survivors by descending score, at most `limit`. */
export function nonMaxSuppression<T extends ScoredBox>(candidates: T[], iouThreshold: number, limit: number): T[] {
  const sorted = [...candidates].sort((a, b) => b.score - a.score);
  const kept: T[] = [];
  for (const candidate of sorted) {
    if (kept.length >= limit) break;
    const overlaps = kept.some((other) => other.classId === candidate.classId && intersectionOverUnion(other.box, candidate.box) > iouThreshold);
    if (!overlaps) kept.push(candidate);
  }
  return kept;
}

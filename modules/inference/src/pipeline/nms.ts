import type { Box } from '@edge-ml/contracts';
import type { NmsBoxArea, NmsMode } from './model-spec.js';

export interface ScoredBox {
  classId: number;
  score: number;
  box: Box;
}

export interface NmsOptions {
  iouThreshold: number;
  mode: NmsMode;
  /** `pixel-inclusive` counts x2 - x1 + 1 pixels across a box, as the numpy NMS of YOLOX's demo does. */
  boxArea?: NmsBoxArea;
}

// Stryker disable next-line StringLiteral: equivalent, any default other than 'pixel-inclusive' means continuous.
export function intersectionOverUnion(a: Box, b: Box, boxArea: NmsBoxArea = 'continuous'): number {
  const extra = boxArea === 'pixel-inclusive' ? 1 : 0;
  const width = Math.min(a.xmax, b.xmax) - Math.max(a.xmin, b.xmin) + extra;
  const height = Math.min(a.ymax, b.ymax) - Math.max(a.ymin, b.ymin) + extra;
  // Stryker disable next-line EqualityOperator: equivalent, a zero width or height gives an intersection of 0, hence an IoU of 0.
  if (width <= 0 || height <= 0) return 0;
  const intersection = width * height;
  const union = (a.xmax - a.xmin + extra) * (a.ymax - a.ymin + extra) + (b.xmax - b.xmin + extra) * (b.ymax - b.ymin + extra) - intersection;
  // Stryker disable next-line EqualityOperator,ConditionalExpression: a guard; with a positive overlap on both axes each area is positive, so the union is too.
  return union <= 0 ? 0 : intersection / union;
}

/** Greedy non-maximum suppression, across classes or within each; returns survivors by descending score, at most `limit`. */
export function nonMaxSuppression<T extends ScoredBox>(candidates: T[], options: NmsOptions, limit: number): T[] {
  // Stryker disable next-line StringLiteral: equivalent, as the default of intersectionOverUnion.
  const { iouThreshold, mode, boxArea = 'continuous' } = options;
  const sorted = [...candidates].sort((a, b) => b.score - a.score);
  const kept: T[] = [];
  for (const candidate of sorted) {
    if (kept.length >= limit) break;
    const overlaps = kept.some(
      (other) => (mode === 'class-agnostic' || other.classId === candidate.classId) && intersectionOverUnion(other.box, candidate.box, boxArea) > iouThreshold,
    );
    if (!overlaps) kept.push(candidate);
  }
  return kept;
}

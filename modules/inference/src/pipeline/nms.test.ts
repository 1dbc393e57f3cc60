import { describe, expect, it } from 'vitest';
import { intersectionOverUnion, nonMaxSuppression, type ScoredBox } from './nms.js';

const box = (xmin: number, ymin: number, xmax: number, ymax: number) => ({ xmin, ymin, xmax, ymax });
const scored = (score: number, classId: number, b: ReturnType<typeof box>): ScoredBox => ({ score, classId, box: b });

describe('intersectionOverUnion', () => {
  it('divides the shared area by the combined area, on each axis separately', () => {
    expect(intersectionOverUnion(box(0, 0, 10, 10), box(5, 0, 15, 10))).toBeCloseTo(50 / 150, 12);
    // 5 × 10 shared of 10 × 20 and 10 × 20: 50 / (200 + 200 - 50)
    expect(intersectionOverUnion(box(0, 0, 10, 20), box(5, 10, 15, 30))).toBeCloseTo(50 / 350, 12);
    expect(intersectionOverUnion(box(5, 10, 15, 30), box(0, 0, 10, 20))).toBeCloseTo(50 / 350, 12);
    expect(intersectionOverUnion(box(0, 0, 10, 10), box(0, 0, 10, 10))).toBe(1);
    expect(intersectionOverUnion(box(2, 2, 4, 4), box(0, 0, 10, 10))).toBeCloseTo(4 / 100, 12);
  });

  it('is 0 for boxes apart on either axis or on both, or only touching', () => {
    expect(intersectionOverUnion(box(0, 0, 10, 10), box(20, 0, 30, 10))).toBe(0);
    expect(intersectionOverUnion(box(0, 0, 10, 10), box(0, 20, 10, 30))).toBe(0);
    expect(intersectionOverUnion(box(0, 0, 10, 10), box(20, 20, 30, 30))).toBe(0);
    expect(intersectionOverUnion(box(0, 0, 10, 10), box(10, 0, 20, 10))).toBe(0);
  });

  it('counts x2 - x1 + 1 pixels with pixel-inclusive areas, and continuous areas by default', () => {
    // 6 × 11 shared of two 11 × 11 boxes: 66 / (121 + 121 - 66)
    expect(intersectionOverUnion(box(0, 0, 10, 10), box(5, 0, 15, 10), 'pixel-inclusive')).toBeCloseTo(66 / 176, 12);
    expect(intersectionOverUnion(box(0, 0, 10, 10), box(5, 0, 15, 10), 'continuous')).toBeCloseTo(50 / 150, 12);
    // Touching boxes share a column of pixels.
    expect(intersectionOverUnion(box(0, 0, 9, 9), box(9, 0, 18, 9), 'pixel-inclusive')).toBeCloseTo(10 / 190, 12);
  });
});

describe('nonMaxSuppression', () => {
  const overlapping = [scored(0.6, 0, box(5, 0, 15, 10)), scored(0.9, 0, box(0, 0, 10, 10)), scored(0.7, 0, box(40, 40, 50, 50))];

  it('keeps the best-scoring box of an overlapping pair, whatever the input order, and leaves the input alone', () => {
    const input = [...overlapping];
    expect(nonMaxSuppression(input, { iouThreshold: 0.3, mode: 'per-class' }, 10).map((entry) => entry.score)).toEqual([0.9, 0.7]);
    expect(input).toEqual(overlapping);
  });

  it('drops only overlaps above the threshold: an IoU equal to it stays', () => {
    const iou = intersectionOverUnion(box(0, 0, 10, 10), box(5, 0, 15, 10));
    expect(nonMaxSuppression(overlapping, { iouThreshold: iou, mode: 'per-class' }, 10)).toHaveLength(3);
    expect(nonMaxSuppression(overlapping, { iouThreshold: iou - 1e-9, mode: 'per-class' }, 10)).toHaveLength(2);
  });

  it('uses the area convention it is given, continuous by default', () => {
    // IoU 0.333 continuous, 0.375 pixel-inclusive
    expect(nonMaxSuppression(overlapping, { iouThreshold: 0.35, mode: 'per-class' }, 10)).toHaveLength(3);
    expect(nonMaxSuppression(overlapping, { iouThreshold: 0.35, mode: 'per-class', boxArea: 'pixel-inclusive' }, 10)).toHaveLength(2);
  });

  it('compares classes only in per-class mode', () => {
    const mixed = [scored(0.9, 0, box(0, 0, 10, 10)), scored(0.8, 1, box(0, 0, 10, 10))];
    expect(nonMaxSuppression(mixed, { iouThreshold: 0.5, mode: 'per-class' }, 10)).toHaveLength(2);
    expect(nonMaxSuppression(mixed, { iouThreshold: 0.5, mode: 'class-agnostic' }, 10).map((entry) => entry.classId)).toEqual([0]);
  });

  it('stops at the limit, keeping the best', () => {
    const apart = [0.1, 0.5, 0.3, 0.9].map((score, index) => scored(score, 0, box(index * 100, 0, index * 100 + 10, 10)));
    expect(nonMaxSuppression(apart, { iouThreshold: 0.5, mode: 'per-class' }, 2).map((entry) => entry.score)).toEqual([0.9, 0.5]);
    expect(nonMaxSuppression(apart, { iouThreshold: 0.5, mode: 'per-class' }, 0)).toEqual([]);
    expect(nonMaxSuppression(apart, { iouThreshold: 0.5, mode: 'per-class' }, 4)).toHaveLength(4);
  });
});

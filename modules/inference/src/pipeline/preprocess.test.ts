import { describe, expect, it } from 'vitest';
import type { ResolvedInputSpec } from './model-spec.js';
import { computeGeometry, frameToTensorData, type Frame } from './preprocess.js';

const input: ResolvedInputSpec = {
  width: 416, height: 320, layout: 'nchw', colorOrder: 'rgb', resize: 'letterbox', letterboxPlacement: 'top-left', padValue: 114, dtype: 'float32',
  scale: 1, mean: [0, 0, 0], std: [1, 1, 1], interpolation: 'opencv-linear', letterboxRounding: 'round',
};

describe('computeGeometry', () => {
  it('stretches each axis on its own, without padding', () => {
    expect(computeGeometry(832, 160, { ...input, resize: 'stretch' })).toEqual({
      originalWidth: 832, originalHeight: 160, scaleX: 0.5, scaleY: 2, padLeft: 0, padTop: 0, contentWidth: 416, contentHeight: 320,
    });
  });

  it('letterboxes by the smaller ratio: a wide image fills the width, a tall one the height', () => {
    expect(computeGeometry(832, 320, input)).toEqual({
      originalWidth: 832, originalHeight: 320, scaleX: 0.5, scaleY: 0.5, padLeft: 0, padTop: 0, contentWidth: 416, contentHeight: 160,
    });
    expect(computeGeometry(100, 640, input)).toEqual({
      originalWidth: 100, originalHeight: 640, scaleX: 0.5, scaleY: 0.5, padLeft: 0, padTop: 0, contentWidth: 50, contentHeight: 320,
    });
  });

  it('centres the content with the odd pixel of padding at the right or bottom', () => {
    // 101 × 640 → 50.5 rounds to 51 wide: (416 - 51) / 2 = 182.5 → 182
    expect(computeGeometry(101, 640, { ...input, letterboxPlacement: 'center' })).toMatchObject({ contentWidth: 51, padLeft: 182, padTop: 0 });
    // 832 × 322 → 416 × 161: (320 - 161) / 2 = 79.5 → 79
    expect(computeGeometry(832, 322, { ...input, letterboxPlacement: 'center' })).toMatchObject({ contentHeight: 161, padLeft: 0, padTop: 79 });
  });

  it('rounds the content size by default and truncates it with letterboxRounding: floor, where scale is the ratio itself', () => {
    expect(computeGeometry(101, 640, input)).toMatchObject({ contentWidth: 51, scaleX: 51 / 101, scaleY: 0.5 });
    expect(computeGeometry(101, 640, { ...input, letterboxRounding: 'floor' })).toMatchObject({ contentWidth: 50, scaleX: 0.5, scaleY: 0.5 });
    expect(computeGeometry(832, 322, { ...input, letterboxRounding: 'floor' })).toMatchObject({ contentHeight: 161, scaleX: 0.5, scaleY: 0.5 });
  });

  it('keeps at least one pixel of content for a sliver of an image', () => {
    expect(computeGeometry(100_000, 1, input)).toMatchObject({ contentWidth: 416, contentHeight: 1 });
    expect(computeGeometry(1, 100_000, input)).toMatchObject({ contentWidth: 1, contentHeight: 320 });
  });
});

describe('frameToTensorData', () => {
  // Two pixels, (10, 20, 30) and (40, 50, 60), on a 2 × 1 canvas.
  const small: ResolvedInputSpec = { ...input, width: 2, height: 1 };
  const frame: Frame = { rgb: new Uint8Array([10, 20, 30, 40, 50, 60]), width: 2, height: 1, geometry: computeGeometry(2, 1, small) };

  it.each<[string, Partial<ResolvedInputSpec>, number[]]>([
    ['uint8 NHWC RGB', { dtype: 'uint8', layout: 'nhwc', colorOrder: 'rgb' }, [10, 20, 30, 40, 50, 60]],
    ['uint8 NHWC BGR', { dtype: 'uint8', layout: 'nhwc', colorOrder: 'bgr' }, [30, 20, 10, 60, 50, 40]],
    ['uint8 NCHW RGB', { dtype: 'uint8', layout: 'nchw', colorOrder: 'rgb' }, [10, 40, 20, 50, 30, 60]],
    ['uint8 NCHW BGR', { dtype: 'uint8', layout: 'nchw', colorOrder: 'bgr' }, [30, 60, 20, 50, 10, 40]],
    ['float NHWC RGB', { layout: 'nhwc', colorOrder: 'rgb' }, [10, 20, 30, 40, 50, 60]],
    ['float NHWC BGR', { layout: 'nhwc', colorOrder: 'bgr' }, [30, 20, 10, 60, 50, 40]],
    ['float NCHW RGB', { layout: 'nchw', colorOrder: 'rgb' }, [10, 40, 20, 50, 30, 60]],
    ['float NCHW BGR', { layout: 'nchw', colorOrder: 'bgr' }, [30, 60, 20, 50, 10, 40]],
  ])('lays out %s', (_name, overrides, expected) => {
    const data = frameToTensorData(frame, { ...small, ...overrides });
    expect(data).toBeInstanceOf(overrides.dtype === 'uint8' ? Uint8Array : Float32Array);
    expect(Array.from(data)).toEqual(expected);
  });

  it('covers every pixel of a canvas of several rows', () => {
    const square: ResolvedInputSpec = { ...input, width: 2, height: 2 };
    const rgb = Uint8Array.from({ length: 12 }, (_, index) => index + 1);
    const canvas: Frame = { rgb, width: 2, height: 2, geometry: computeGeometry(2, 2, square) };
    expect(Array.from(frameToTensorData(canvas, { ...square, dtype: 'uint8', layout: 'nhwc' }))).toEqual(Array.from(rgb));
    expect(Array.from(frameToTensorData(canvas, { ...square, layout: 'nchw' }))).toEqual([1, 4, 7, 10, 2, 5, 8, 11, 3, 6, 9, 12]);
  });

  it('normalises each channel of the tensor with its own mean and std, after the scale', () => {
    const spec = { ...small, scale: 0.5, mean: [1, 2, 3] as [number, number, number], std: [2, 4, 8] as [number, number, number] };
    // (value × 0.5 - mean) / std, channels in tensor order
    const rgb = [(5 - 1) / 2, (10 - 2) / 4, (15 - 3) / 8, (20 - 1) / 2, (25 - 2) / 4, (30 - 3) / 8];
    Array.from(frameToTensorData(frame, { ...spec, layout: 'nhwc' })).forEach((value, index) => expect(value).toBeCloseTo(rgb[index] ?? NaN, 5));
    const bgrPlanar = [(15 - 1) / 2, (30 - 1) / 2, (10 - 2) / 4, (25 - 2) / 4, (5 - 3) / 8, (20 - 3) / 8];
    Array.from(frameToTensorData(frame, { ...spec, layout: 'nchw', colorOrder: 'bgr' })).forEach((value, index) => expect(value).toBeCloseTo(bgrPlanar[index] ?? NaN, 5));
  });

  it('writes every element into a reused array of the right type and length, and into a new one otherwise', () => {
    const stale = new Float32Array([-1, -1, -1, -1, -1, -1]);
    expect(frameToTensorData(frame, small, stale)).toBe(stale);
    expect(Array.from(stale)).toEqual([10, 40, 20, 50, 30, 60]);
    const staleBytes = new Uint8Array(6).fill(255);
    expect(frameToTensorData(frame, { ...small, dtype: 'uint8', layout: 'nhwc' }, staleBytes)).toBe(staleBytes);
    expect(Array.from(staleBytes)).toEqual([10, 20, 30, 40, 50, 60]);
    for (const unfit of [new Float32Array(5), new Uint8Array(6)]) {
      const data = frameToTensorData(frame, small, unfit);
      expect(data).not.toBe(unfit);
      expect(Array.from(data)).toEqual([10, 40, 20, 50, 30, 60]);
    }
    expect(frameToTensorData(frame, { ...small, dtype: 'uint8' }, new Float32Array(6))).toBeInstanceOf(Uint8Array);
  });

  it('refuses a frame of another size than the model input', () => {
    expect(() => frameToTensorData({ ...frame, width: 1 }, small)).toThrow(Error);
    expect(() => frameToTensorData({ ...frame, height: 2 }, small)).toThrow(Error);
    expect(() => frameToTensorData({ ...frame, rgb: new Uint8Array(5) }, small)).toThrow(Error);
    expect(() => frameToTensorData({ ...frame, rgb: new Uint8Array(5) }, { ...small, dtype: 'uint8' })).toThrow(Error);
  });
});

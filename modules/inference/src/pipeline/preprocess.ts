import type { ResolvedInputSpec } from './model-spec.js';

/** How the original image maps onto the model's input canvas: input = original * scale + pad. */
export interface FrameGeometry {
  originalWidth: number;
  originalHeight: number;
  scaleX: number;
  scaleY: number;
  padLeft: number;
  padTop: number;
  /** Size of the resized image inside the canvas. */
  contentWidth: number;
  contentHeight: number;
}

/** An image already resized onto the model's canvas: packed RGB, width × height × 3 bytes. */
export interface Frame {
  rgb: Uint8Array;
  width: number;
  height: number;
  geometry: FrameGeometry;
}

export function computeGeometry(originalWidth: number, originalHeight: number, input: ResolvedInputSpec): FrameGeometry {
  if (input.resize === 'stretch') {
    return {
      originalWidth,
      originalHeight,
      scaleX: input.width / originalWidth,
      scaleY: input.height / originalHeight,
      padLeft: 0,
      padTop: 0,
      contentWidth: input.width,
      contentHeight: input.height,
    };
  }
  const ratio = Math.min(input.height / originalHeight, input.width / originalWidth);
  const toSize = input.letterboxRounding === 'floor' ? Math.floor : Math.round;
  const contentWidth = Math.max(1, Math.min(input.width, toSize(originalWidth * ratio)));
  const contentHeight = Math.max(1, Math.min(input.height, toSize(originalHeight * ratio)));
  const centred = input.letterboxPlacement === 'center';
  // YOLOX's preproc truncates the content size and its demo divides boxes by the ratio itself, not by content/original.
  const truncated = input.letterboxRounding === 'floor';
  return {
    originalWidth,
    originalHeight,
    scaleX: truncated ? ratio : contentWidth / originalWidth,
    scaleY: truncated ? ratio : contentHeight / originalHeight,
    padLeft: centred ? Math.floor((input.width - contentWidth) / 2) : 0,
    padTop: centred ? Math.floor((input.height - contentHeight) / 2) : 0,
    contentWidth,
    contentHeight,
  };
}

/**
 * Converts a packed RGB canvas into the model's input tensor: layout, channel order, dtype and normalisation. Writes
 * into `reuse` when it is an array of the tensor's type and length (every element is written), else into a new one.
 */
export function frameToTensorData(frame: Frame, input: ResolvedInputSpec, reuse?: Float32Array | Uint8Array): Float32Array | Uint8Array {
  const { width, height } = input;
  const pixels = width * height;
  if (frame.width !== width || frame.height !== height || frame.rgb.length !== pixels * 3) {
    throw new Error(`frame is ${frame.width}x${frame.height}, the model wants ${width}x${height}`);
  }
  // Stryker disable next-line ArrayDeclaration: equivalent, an empty order falls back to the channel itself below.
  const order = input.colorOrder === 'bgr' ? [2, 1, 0] : [0, 1, 2];
  const source = frame.rgb;
  if (input.dtype === 'uint8') {
    const out = reuse instanceof Uint8Array && reuse.length === pixels * 3 ? reuse : new Uint8Array(pixels * 3);
    for (let channel = 0; channel < 3; channel += 1) {
      const from = order[channel] ?? channel;
      // Stryker disable next-line EqualityOperator: equivalent, one pixel too far writes past the array (ignored) or the next channel's first value, which that channel then writes.
      if (input.layout === 'nhwc') for (let pixel = 0; pixel < pixels; pixel += 1) out[pixel * 3 + channel] = source[pixel * 3 + from] ?? 0;
      // Stryker disable next-line EqualityOperator: as above.
      else for (let pixel = 0; pixel < pixels; pixel += 1) out[channel * pixels + pixel] = source[pixel * 3 + from] ?? 0;
    }
    return out;
  }
  const out = reuse instanceof Float32Array && reuse.length === pixels * 3 ? reuse : new Float32Array(pixels * 3);
  for (let channel = 0; channel < 3; channel += 1) {
    const from = order[channel] ?? channel;
    const mean = input.mean[channel] ?? 0;
    const std = input.std[channel] ?? 1;
    const multiplier = input.scale / std;
    const offset = mean / std;
    // Stryker disable next-line EqualityOperator: as above.
    if (input.layout === 'nhwc') for (let pixel = 0; pixel < pixels; pixel += 1) out[pixel * 3 + channel] = (source[pixel * 3 + from] ?? 0) * multiplier - offset;
    // Stryker disable next-line EqualityOperator: as above.
    else for (let pixel = 0; pixel < pixels; pixel += 1) out[channel * pixels + pixel] = (source[pixel * 3 + from] ?? 0) * multiplier - offset;
  }
  return out;
}

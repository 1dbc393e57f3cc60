import type { ModelDescriptor, ModelFamily, ServedInputSpec } from '@edge-ml/contracts';
import { InputSizeMismatchError, UnknownModelFamilyError } from './errors.js';
import { describeSignature, type ModelSignature, type TensorInfo } from './signature.js';

/** The input spec the pipeline runs with; `/v1/models` shows it, so its shape is the API contract's. */
export type ResolvedInputSpec = ServedInputSpec;

export type NmsMode = 'class-agnostic' | 'per-class';
export type NmsBoxArea = 'continuous' | 'pixel-inclusive';

/** Everything the pipeline needs to turn an image into detections with one model. */
export interface ModelSpec {
  family: ModelFamily;
  input: ResolvedInputSpec;
  imageInputName: string;
  /** Tiny YOLOv3 takes the original image size as a second input. */
  imageShapeInputName?: string;
  scoreThreshold: number;
  iouThreshold: number;
  nmsMode: NmsMode;
  nmsBoxArea: NmsBoxArea;
  maxDetections: number;
  topK: number;
}

type FamilyDefaults = Omit<ResolvedInputSpec, 'width' | 'height' | 'layout' | 'dtype'> & {
  scoreThreshold: number;
  iouThreshold: number;
  nmsMode: NmsMode;
  nmsBoxArea: NmsBoxArea;
};

/**
 * Each family's conventions, matching the pipeline the model was validated with: SSD as the TFLite interpreter fed
 * a cv2 INTER_LINEAR stretch; YOLOX as the official ONNX demo (preproc, demo_postprocess, class-agnostic
 * multiclass_nms at 0.45); Tiny YOLOv3 and classifiers as before, antialiased (no reference measured here).
 */
const FAMILY_DEFAULTS: Record<ModelFamily, FamilyDefaults> = {
  ssd: {
    colorOrder: 'rgb', resize: 'stretch', letterboxPlacement: 'center', padValue: 0, scale: 1 / 127.5, mean: [1, 1, 1], std: [1, 1, 1],
    interpolation: 'opencv-linear', letterboxRounding: 'round', scoreThreshold: 0.5, iouThreshold: 0.45, nmsMode: 'per-class', nmsBoxArea: 'continuous',
  },
  yolox: {
    colorOrder: 'bgr', resize: 'letterbox', letterboxPlacement: 'top-left', padValue: 114, scale: 1, mean: [0, 0, 0], std: [1, 1, 1],
    interpolation: 'opencv-linear', letterboxRounding: 'floor', scoreThreshold: 0.3, iouThreshold: 0.45, nmsMode: 'class-agnostic', nmsBoxArea: 'pixel-inclusive',
  },
  'tiny-yolov3': {
    colorOrder: 'rgb', resize: 'letterbox', letterboxPlacement: 'center', padValue: 128, scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1],
    interpolation: 'antialiased-linear', letterboxRounding: 'round', scoreThreshold: 0.3, iouThreshold: 0.45, nmsMode: 'per-class', nmsBoxArea: 'continuous',
  },
  classification: {
    colorOrder: 'rgb', resize: 'stretch', letterboxPlacement: 'center', padValue: 0, scale: 1 / 127.5, mean: [1, 1, 1], std: [1, 1, 1],
    interpolation: 'antialiased-linear', letterboxRounding: 'round', scoreThreshold: 0.05, iouThreshold: 0.45, nmsMode: 'per-class', nmsBoxArea: 'continuous',
  },
};

function isImageShapeInput(tensor: TensorInfo): boolean {
  return tensor.name === 'image_shape' || (tensor.shape.length === 2 && tensor.shape[1] === 2);
}

/** The family a signature belongs to, judged by the shapes and names its outputs and inputs have. */
export function inferFamily(signature: ModelSignature): ModelFamily {
  const { inputs, outputs } = signature;
  if (signature.hasDetectionPostProcess || (outputs.length === 4 && outputs.every((output) => output.name.startsWith('TFLite_Detection_PostProcess')))) {
    return 'ssd';
  }
  if (inputs.length === 2 && inputs.some(isImageShapeInput) && outputs.length === 3) return 'tiny-yolov3';
  const [only] = outputs;
  if (inputs.length === 1 && outputs.length === 1 && only) {
    const lastDimension = only.shape[only.shape.length - 1] ?? -1;
    if (only.shape.length === 3 && lastDimension > 5) return 'yolox';
    if (only.shape.length === 2 && lastDimension > 1) return 'classification';
  }
  throw new UnknownModelFamilyError(describeSignature(signature));
}

function imageInput(signature: ModelSignature, family: ModelFamily): TensorInfo {
  const candidates = family === 'tiny-yolov3' ? signature.inputs.filter((tensor) => !isImageShapeInput(tensor)) : signature.inputs;
  const image = candidates.find((tensor) => tensor.shape.length === 4);
  if (!image) throw new UnknownModelFamilyError(describeSignature(signature));
  return image;
}

/** Combines the signature, the family's conventions and the package's model.json into one spec; model.json wins. */
export function resolveModelSpec(signature: ModelSignature, descriptor: ModelDescriptor = { schemaVersion: 1 }): ModelSpec {
  const family = descriptor.family ?? inferFamily(signature);
  const defaults = FAMILY_DEFAULTS[family];
  const image = imageInput(signature, family);
  const layout = descriptor.input?.layout ?? (image.shape[1] === 3 ? 'nchw' : 'nhwc');
  const [heightAxis, widthAxis] = layout === 'nchw' ? [2, 3] : [1, 2];
  const staticHeight = image.shape[heightAxis] ?? -1;
  const staticWidth = image.shape[widthAxis] ?? -1;
  // A fixed input the descriptor contradicts would only fail in the runtime, after allocating tensors of the declared size.
  const declaredWidth = descriptor.input?.width ?? staticWidth;
  const declaredHeight = descriptor.input?.height ?? staticHeight;
  if ((staticWidth > 0 && declaredWidth !== staticWidth) || (staticHeight > 0 && declaredHeight !== staticHeight)) {
    throw new InputSizeMismatchError(`${declaredWidth}x${declaredHeight}`, `${staticWidth > 0 ? staticWidth : '?'}x${staticHeight > 0 ? staticHeight : '?'}`);
  }
  const fallbackSize = family === 'tiny-yolov3' ? 416 : 0;
  const width = descriptor.input?.width ?? (staticWidth > 0 ? staticWidth : fallbackSize);
  const height = descriptor.input?.height ?? (staticHeight > 0 ? staticHeight : fallbackSize);
  if (width <= 0 || height <= 0) {
    throw new UnknownModelFamilyError(`${describeSignature(signature)} (dynamic input size: set input.width and input.height in model.json)`);
  }
  const imageShape = family === 'tiny-yolov3' ? signature.inputs.find(isImageShapeInput) : undefined;
  return {
    family,
    input: {
      width,
      height,
      layout,
      colorOrder: descriptor.input?.colorOrder ?? defaults.colorOrder,
      resize: descriptor.input?.resize ?? defaults.resize,
      letterboxPlacement: descriptor.input?.letterboxPlacement ?? defaults.letterboxPlacement,
      padValue: descriptor.input?.padValue ?? defaults.padValue,
      dtype: image.dtype === 'uint8' ? 'uint8' : 'float32',
      scale: descriptor.input?.scale ?? defaults.scale,
      mean: descriptor.input?.mean ?? defaults.mean,
      std: descriptor.input?.std ?? defaults.std,
      interpolation: descriptor.input?.interpolation ?? defaults.interpolation,
      letterboxRounding: descriptor.input?.letterboxRounding ?? defaults.letterboxRounding,
    },
    imageInputName: image.name,
    ...(imageShape ? { imageShapeInputName: imageShape.name } : {}),
    scoreThreshold: descriptor.scoreThreshold ?? defaults.scoreThreshold,
    iouThreshold: descriptor.iouThreshold ?? defaults.iouThreshold,
    nmsMode: descriptor.nmsMode ?? defaults.nmsMode,
    nmsBoxArea: descriptor.nmsBoxArea ?? defaults.nmsBoxArea,
    maxDetections: descriptor.maxDetections ?? 100,
    topK: descriptor.topK ?? 5,
  };
}

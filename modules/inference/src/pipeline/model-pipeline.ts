import type { Classification, Detection, ModelDescriptor, ModelFormat } from '@edge-ml/contracts';
import type { ModelRuntime, RuntimeOptions } from '../runtimes/model-runtime.js';
import { decodeOutputs } from './decode.js';
import { parseLabels, type Labels } from './labels.js';
import { resolveModelSpec, type ModelSpec } from './model-spec.js';
import { computeGeometry, frameToTensorData, type Frame } from './preprocess.js';
import type { ModelSignature, Tensor } from './signature.js';

export interface LoadModelRequest {
  format: ModelFormat;
  modelPath: string;
  labelsText: string;
  descriptor?: ModelDescriptor;
  runtime: RuntimeOptions;
  /** Run one inference on a blank frame before returning (default true); the benchmark of the seed's design turns it off. */
  warmup?: boolean;
}

export interface PipelineTimings {
  preprocessMs: number;
  inferenceMs: number;
  postprocessMs: number;
}

export interface PipelineResult {
  detections: Detection[];
  classifications: Classification[];
  timings: PipelineTimings;
}

async function loadRuntime(request: LoadModelRequest): Promise<ModelRuntime> {
  if (request.format === 'onnx') {
    const { OnnxModelRuntime } = await import('../runtimes/onnx-runtime.js');
    return OnnxModelRuntime.load(request.modelPath, request.runtime);
  }
  const { LiteRtModelRuntime } = await import('../runtimes/litert-runtime.js');
  return LiteRtModelRuntime.load(request.modelPath, request.runtime);
}

/** A blank canvas in the model's input size, filled with its pad colour: the warm-up input. */
export function blankFrame(spec: ModelSpec): Frame {
  const { width, height } = spec.input;
  return {
    rgb: new Uint8Array(width * height * 3).fill(spec.input.padValue),
    width,
    height,
    geometry: computeGeometry(width, height, spec.input),
  };
}

/** One model, loaded once and reused for every request: runtime, resolved spec and labels. */
export class ModelPipeline {
  /**
   * The image tensor of the last finished run, which the next run writes into; a run in flight holds its own (a worker
   * may run two at once). A new array per request (2 MiB for YOLOX at 416) left glibc's heaps holding ~4 MiB more per
   * worker when idle (docs/benchmarks.md).
   */
  private spareImageTensor: Float32Array | Uint8Array | undefined;

  private constructor(
    private readonly runtime: ModelRuntime,
    readonly spec: ModelSpec,
    readonly labels: Labels,
  ) {}

  get signature(): ModelSignature {
    return this.runtime.signature;
  }

  get runtimeName(): ModelRuntime['runtimeName'] {
    return this.runtime.runtimeName;
  }

  get providers(): ModelRuntime['providers'] {
    return this.runtime.providers;
  }

  /** Loads the model and runs one warm-up inference whose outputs must decode as the family expects. */
  static async load(request: LoadModelRequest): Promise<{ pipeline: ModelPipeline; loadMs: number; warmupMs: number }> {
    const started = performance.now();
    const runtime = await loadRuntime(request);
    try {
      const spec = resolveModelSpec(runtime.signature, request.descriptor);
      const labels = parseLabels(request.labelsText, request.descriptor?.labelFormat);
      const pipeline = new ModelPipeline(runtime, spec, labels);
      const loaded = performance.now();
      if (request.warmup !== false) await pipeline.infer(blankFrame(spec));
      return { pipeline, loadMs: loaded - started, warmupMs: performance.now() - loaded };
    } catch (error) {
      await runtime.dispose().catch(() => undefined);
      throw error;
    }
  }

  async infer(frame: Frame, options: { scoreThreshold?: number } = {}): Promise<PipelineResult> {
    const t0 = performance.now();
    const { spec } = this;
    const { width, height, layout } = spec.input;
    const imageShape = layout === 'nchw' ? [1, 3, height, width] : [1, height, width, 3];
    const spare = this.spareImageTensor;
    this.spareImageTensor = undefined;
    let imageTensor: Float32Array | Uint8Array | undefined;
    const inputs: Tensor[] = this.runtime.signature.inputs.map((info) => {
      if (info.name === spec.imageShapeInputName) {
        return { data: new Float32Array([frame.geometry.originalHeight, frame.geometry.originalWidth]), shape: [1, 2] };
      }
      imageTensor = frameToTensorData(frame, spec.input, imageTensor ? undefined : spare);
      return { data: imageTensor, shape: imageShape };
    });
    const t1 = performance.now();
    let outputs: Tensor[];
    try {
      outputs = await this.runtime.run(inputs);
    } finally {
      this.spareImageTensor = imageTensor;
    }
    const t2 = performance.now();
    const decoded = decodeOutputs({
      outputs,
      outputInfo: this.runtime.signature.outputs,
      spec,
      geometry: frame.geometry,
      labels: this.labels,
      ...(options.scoreThreshold !== undefined ? { scoreThreshold: options.scoreThreshold } : {}),
    });
    const t3 = performance.now();
    return { ...decoded, timings: { preprocessMs: t1 - t0, inferenceMs: t2 - t1, postprocessMs: t3 - t2 } };
  }

  /** The runtime's raw outputs for tensors already in the model's input order, shape and type (the OIP raw-tensor path). */
  runTensors(inputs: Tensor[]): Promise<Tensor[]> {
    return this.runtime.run(inputs);
  }

  async dispose(): Promise<void> {
    await this.runtime.dispose();
  }
}

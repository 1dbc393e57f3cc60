import type * as LiteRtCore from '@litertjs/core';
import { readFile } from 'node:fs/promises';
import { ModelLoadError } from '../pipeline/errors.js';
import type { ModelSignature, Tensor, TensorDType, TensorInfo } from '../pipeline/signature.js';
import { installLiteRtNodeShim } from './litert-node-shim.js';
import type { ModelRuntime, RuntimeOptions } from './model-runtime.js';
import { detectionPostProcessShapes, readTfliteModelInfo, withOutputShapes } from './tflite-flatbuffer.js';

type LiteRtModule = typeof LiteRtCore;
type CompiledModel = Awaited<ReturnType<LiteRtModule['loadAndCompile']>>;

let liteRt: Promise<LiteRtModule> | undefined;

/** Loads the LiteRT WebAssembly runtime once per thread. */
function loadLiteRtOnce(log: (line: string) => void): Promise<LiteRtModule> {
  liteRt ??= (async () => {
    const wasmDirectory = installLiteRtNodeShim(log);
    const module = await import('@litertjs/core');
    // LiteRT probes for a WebGPU device on load and warns when there is none; Node has none by design.
    const warn = console.warn;
    console.warn = () => undefined;
    try {
      await module.loadLiteRt(wasmDirectory);
    } finally {
      console.warn = warn;
    }
    return module;
  })();
  return liteRt;
}

const DTYPES: Record<string, TensorDType> = { float32: 'float32', uint8: 'uint8', int8: 'int8', int32: 'int32', int64: 'int64', bool: 'bool' };

export class LiteRtModelRuntime implements ModelRuntime {
  readonly runtimeName = 'litert';
  /** LiteRT.js runs on WebAssembly with XNNPACK; ONNX Runtime's providers do not apply. */
  readonly providers = { used: ['wasm'], skipped: [] };
  private constructor(
    private readonly module: LiteRtModule,
    private readonly model: CompiledModel,
    readonly signature: ModelSignature,
  ) {}

  static async load(modelPath: string, options: RuntimeOptions, log: (line: string) => void = () => undefined): Promise<LiteRtModelRuntime> {
    const module = await loadLiteRtOnce(log);
    let bytes: Uint8Array = await readFile(modelPath);
    try {
      const info = readTfliteModelInfo(bytes);
      // The detection post-process op leaves its output shapes empty; LiteRT.js sizes its buffers from them.
      const needsShapes = info.detectionPostProcess && info.outputs.some((output) => output.shape.length === 0);
      if (info.detectionPostProcess && needsShapes) bytes = withOutputShapes(bytes, detectionPostProcessShapes(info.detectionPostProcess));
      const model = await module.loadAndCompile(bytes, { accelerator: 'wasm', cpuOptions: { numThreads: options.threads } });
      const details = (list: readonly { name: string; dtype: string; shape: ArrayLike<number> }[]): TensorInfo[] =>
        list.map((detail) => ({ name: detail.name, dtype: DTYPES[detail.dtype] ?? 'unknown', shape: Array.from(detail.shape) }));
      const outputs = details(model.getOutputDetails()).map((output, index) => {
        const fromFile = info.outputs[index];
        return fromFile?.scale !== undefined && fromFile.zeroPoint !== undefined
          ? { ...output, quantization: { scale: fromFile.scale, zeroPoint: fromFile.zeroPoint } }
          : output;
      });
      return new LiteRtModelRuntime(module, model, {
        inputs: details(model.getInputDetails()),
        outputs,
        hasDetectionPostProcess: info.detectionPostProcess !== undefined,
      });
    } catch (error) {
      throw new ModelLoadError(`LiteRT rejected ${modelPath}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }

  async run(inputs: Tensor[]): Promise<Tensor[]> {
    const tensors = inputs.map((input) => new this.module.Tensor(input.data as Float32Array, input.shape));
    try {
      const outputs = await this.model.run(tensors);
      try {
        return outputs.map((output, index) => ({
          data: (output.toTypedArray() as Tensor['data']).slice(),
          shape: this.signature.outputs[index]?.shape ?? [],
        }));
      } finally {
        for (const output of outputs) output.delete();
      }
    } finally {
      for (const tensor of tensors) tensor.delete();
    }
  }

  async dispose(): Promise<void> {
    this.model.delete();
  }
}

import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ModelDescriptorSchema, modelFormatFromFileName, type AcceptanceSample, type ModelDescriptor, type ModelFamily } from '@edge-ml/contracts';
import { decodeToFrame, describeFindings, missingLabels, ModelPipeline } from '@edge-ml/inference';
import { CliError } from './cli-error.js';

export interface CheckedModel {
  family: ModelFamily;
  runtime: string;
  input: string;
  descriptor?: ModelDescriptor;
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    throw new CliError(`cannot read the ${what} ${file}`);
  }
}

/** An acceptance sample as the publisher names it: an image file on this machine and the labels it must yield. */
export interface LocalSample extends Omit<AcceptanceSample, 'image'> {
  path: string;
}

/**
 * Loads the model with the inference module's own pipeline, so a package that passes here loads on the device, and
 * runs the acceptance samples as the device will (decode onto the model's canvas, infer, look for the labels).
 */
export async function checkModel(modelPath: string, labelsPath: string, descriptorPath?: string, samples: LocalSample[] = []): Promise<CheckedModel> {
  const format = modelFormatFromFileName(modelPath);
  if (!format) throw new CliError(`${path.basename(modelPath)} is not a model: expected a .onnx or .tflite file`);
  const labelsText = await readText(labelsPath, 'labels file');
  let descriptor: ModelDescriptor | undefined;
  if (descriptorPath) {
    let json: unknown;
    try {
      json = JSON.parse(await readText(descriptorPath, 'descriptor'));
    } catch (error) {
      if (error instanceof CliError) throw error;
      throw new CliError(`${descriptorPath} is not valid JSON`);
    }
    const parsed = ModelDescriptorSchema.safeParse(json);
    if (!parsed.success) throw new CliError(`${descriptorPath}: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`);
    descriptor = parsed.data;
  }
  await access(modelPath).catch(() => {
    throw new CliError(`cannot read the model ${modelPath}`);
  });
  let loaded: Awaited<ReturnType<typeof ModelPipeline.load>>;
  try {
    loaded = await ModelPipeline.load({ format, modelPath, labelsText, ...(descriptor ? { descriptor } : {}), runtime: { executionProviders: ['cpu'], threads: 1 } });
  } catch (error) {
    throw new CliError(`${path.basename(modelPath)} does not load as a detector or classifier: ${error instanceof Error ? error.message : String(error)}`);
  }
  const { spec } = loaded.pipeline;
  try {
    for (const sample of samples) await checkSample(loaded.pipeline, sample);
  } catch (error) {
    await loaded.pipeline.dispose();
    throw error;
  }
  const result = {
    family: spec.family,
    runtime: loaded.pipeline.runtimeName,
    input: `${spec.input.width}x${spec.input.height} ${spec.input.layout} ${spec.input.colorOrder} ${spec.input.dtype} ${spec.input.resize}`,
    ...(descriptor ? { descriptor } : {}),
  };
  await loaded.pipeline.dispose();
  return result;
}

async function checkSample(pipeline: ModelPipeline, sample: LocalSample): Promise<void> {
  const bytes = await readFile(sample.path).catch(() => {
    throw new CliError(`cannot read the sample image ${sample.path}`);
  });
  let findings;
  try {
    const frame = await decodeToFrame(bytes, pipeline.spec.input, { limitPixels: 40_000_000 });
    findings = await pipeline.infer(frame, sample.minScore === undefined ? {} : { scoreThreshold: sample.minScore });
  } catch (error) {
    throw new CliError(`sample ${sample.path} cannot be run: ${error instanceof Error ? error.message : String(error)}`);
  }
  const missing = missingLabels(sample, findings);
  if (missing.length > 0) {
    throw new CliError(`sample ${path.basename(sample.path)}: the model does not find ${missing.join(', ')} (${describeFindings(findings)}); the device would reject this package`);
  }
}

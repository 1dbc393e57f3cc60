import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { AcceptanceSampleSchema, type ModelDescriptor } from '@edge-ml/contracts';
import { checkModel, type LocalSample } from '../check-model.js';
import { usageError } from '../cli-error.js';
import { buildModelPackage } from '../model-package.js';

export const PACKAGE_HELP = `edge-model package <model.onnx|.tflite> --labels <labels.txt> [--descriptor model.json] [--sample <image>=<label>[,<label>...][@<minScore>]]... [--raw] [--out <file>]

Checks that the model loads and its family is recognised (with the inference module's own pipeline), then writes a
zip (model, labels, model.json) or, with --raw, leaves the model file as the package. Prints size, sha256 and MD5.
Each --sample adds an acceptance sample: the image goes into the package and model.json lists the labels the model
must find in it (with at least minScore when given); the device runs them before it serves the model, and so does
this command before it writes the package.`;

/** Parses one --sample value: <image path>=<label>[,<label>...][@<minScore>]. */
export function parseSampleOption(value: string): LocalSample {
  const separator = value.lastIndexOf('=');
  if (separator <= 0) throw usageError(`--sample ${value}: expected <image>=<label>[,<label>...][@<minScore>]`);
  const imagePath = value.slice(0, separator);
  let labelsText = value.slice(separator + 1);
  let minScore: number | undefined;
  const at = labelsText.lastIndexOf('@');
  if (at >= 0) {
    minScore = Number(labelsText.slice(at + 1));
    labelsText = labelsText.slice(0, at);
  }
  const labels = labelsText.split(',').map((label) => label.trim()).filter(Boolean);
  const parsed = AcceptanceSampleSchema.safeParse({ image: path.basename(imagePath), labels, ...(minScore === undefined ? {} : { minScore }) });
  if (!parsed.success) throw usageError(`--sample ${value}: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || 'value'}: ${issue.message}`).join('; ')}`);
  return { path: imagePath, labels: parsed.data.labels, ...(parsed.data.minScore === undefined ? {} : { minScore: parsed.data.minScore }) };
}

export async function packageCommand(argv: string[], print: (line: string) => void): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { labels: { type: 'string' }, descriptor: { type: 'string' }, sample: { type: 'string', multiple: true }, raw: { type: 'boolean' }, out: { type: 'string' }, json: { type: 'boolean' } },
  });
  const [model] = positionals;
  if (!model || !values.labels) throw usageError(`missing ${model ? '--labels' : 'the model file'}\n\n${PACKAGE_HELP}`);
  const samples = (values.sample ?? []).map(parseSampleOption);
  if (samples.length > 0 && values.raw) throw usageError('--sample needs a zip package (model.json lists the samples): drop --raw');
  const names = [model, values.labels, ...samples.map((sample) => sample.path)].map((file) => path.basename(file));
  const clash = names.find((name, index) => index >= 2 && (names.indexOf(name) !== index || name === 'model.json'));
  if (clash) throw usageError(`two files of the package would be named ${clash}: rename the sample image`);
  const checked = await checkModel(model, values.labels, values.descriptor, samples);
  const files = [{ path: model }, { path: values.labels }, ...samples.map((sample) => ({ path: sample.path }))];
  if (checked.descriptor?.acceptance && samples.length === 0) throw usageError(`${values.descriptor} has an acceptance section: give its images and labels with --sample, which replaces it`);
  const descriptor = withSamples(checked.descriptor, samples);
  const built = values.raw ? await buildRaw(model) : await buildModelPackage(files, descriptor);
  const out = values.raw ? model : (values.out ?? `${path.basename(model).replace(/\.[^.]+$/, '')}.zip`);
  if (!values.raw) await writeFile(out, built.bytes);
  const summary = { file: out, sizeBytes: built.bytes.length, sha256: built.sha256, md5: built.md5, md5Base64: Buffer.from(built.md5, 'hex').toString('base64'), family: checked.family, runtime: checked.runtime, input: checked.input };
  if (values.json) return print(JSON.stringify(summary));
  print(`${out}: ${summary.sizeBytes} bytes, ${checked.family} on ${checked.runtime} (${checked.input})`);
  print(`  sha256 ${summary.sha256}`);
  print(`  md5    ${summary.md5} (ContentMD5: ${summary.md5Base64})`);
}

async function buildRaw(model: string) {
  const bytes = await readFile(model);
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex'), md5: createHash('md5').update(bytes).digest('hex') };
}

/** model.json with the samples' acceptance section (replacing one the descriptor had), or the descriptor as it was. */
function withSamples(descriptor: ModelDescriptor | undefined, samples: LocalSample[]): ModelDescriptor | undefined {
  if (samples.length === 0) return descriptor;
  const acceptance = { samples: samples.map(({ path: imagePath, ...sample }) => ({ image: path.basename(imagePath), ...sample })) };
  return { ...(descriptor ?? { schemaVersion: 1 }), acceptance };
}

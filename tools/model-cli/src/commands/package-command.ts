import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { checkModel } from '../check-model.js';
import { usageError } from '../cli-error.js';
import { buildModelPackage } from '../model-package.js';

export const PACKAGE_HELP = `edge-model package <model.onnx|.tflite> --labels <labels.txt> [--descriptor model.json] [--raw] [--out <file>]

Checks that the model loads and its family is recognised (with the inference module's own pipeline), then writes a
zip (model, labels, model.json) or, with --raw, leaves the model file as the package. Prints size, sha256 and MD5.`;

export async function packageCommand(argv: string[], print: (line: string) => void): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { labels: { type: 'string' }, descriptor: { type: 'string' }, raw: { type: 'boolean' }, out: { type: 'string' }, json: { type: 'boolean' } } });
  const [model] = positionals;
  if (!model || !values.labels) throw usageError(`missing ${model ? '--labels' : 'the model file'}\n\n${PACKAGE_HELP}`);
  const checked = await checkModel(model, values.labels, values.descriptor);
  const files = [{ path: model }, { path: values.labels }];
  const built = values.raw ? await buildRaw(model) : await buildModelPackage(files, checked.descriptor);
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

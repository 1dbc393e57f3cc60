import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { DeltaManifestSchema } from '@edge-ml/contracts';
import { decodeGroupList } from '@edge-ml/delta';
import { buildModelPackage } from '../model-package.js';
import { deltaCommand } from './delta-command.js';

const models = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../testdata/models');
const plain = path.join(models, 'ssd_mobilenet_v1_coco_quant_detect.tflite');
const withMetadata = path.join(models, 'ssd_mobilenet_v1_1_metadata_1.tflite');

async function packageOf(directory: string, name: string, model: string, labels: string) {
  const file = path.join(directory, name);
  await writeFile(file, (await buildModelPackage([{ path: model, name: 'detect.tflite' }, { path: labels, name: 'labelmap.txt' }])).bytes);
  return file;
}

async function manifestOf(directory: string, from: string[]) {
  const lines: string[] = [];
  await deltaCommand(['ssd-2.zip', '--name', 'ssd', '--version', '2', ...from.flatMap((file) => ['--from', file]), '--url-prefix', 'https://example.test/models/', '--out', directory].map((arg) => (arg === 'ssd-2.zip' ? path.join(directory, arg) : arg)), (line) => lines.push(line), () => undefined);
  return { manifest: DeltaManifestSchema.parse(JSON.parse(await readFile(path.join(directory, 'ssd-2.delta.json'), 'utf8'))), lines };
}

describe('edge-model delta: companion files', () => {
  it('leaves unchanged labels out of the manifest, naming them by sha256, and carries changed ones', async () => {
    const directory = await mkdtemp(path.join(tmpdir(), 'delta-command-'));
    const otherLabels = path.join(directory, 'labels-v1.txt');
    await writeFile(otherLabels, 'background\nperson\n');
    await packageOf(directory, 'ssd-2.zip', withMetadata, path.join(models, 'labelmap.txt'));
    const sameLabels = await packageOf(directory, 'ssd-1.zip', plain, path.join(models, 'labelmap.txt'));
    const changedLabels = await packageOf(directory, 'ssd-0.zip', plain, otherLabels);

    const unchanged = await manifestOf(directory, [sameLabels]);
    expect(unchanged.manifest.schemaVersion).toBe(2);
    const labels = unchanged.manifest.files['labelmap.txt'];
    expect(labels).toEqual({ sha256: expect.stringMatching(/^[0-9a-f]{64}$/), sizeBytes: (await readFile(path.join(models, 'labelmap.txt'))).length });
    expect(unchanged.lines.join('\n')).toMatch(/companion files in the manifest: none/);

    for (const from of [[changedLabels], [sameLabels, changedLabels], [plain]]) {
      const { manifest } = await manifestOf(directory, from);
      const carried = manifest.files['labelmap.txt'];
      expect(carried && typeof carried === 'object' && 'base64' in carried ? Buffer.from(carried.base64 ?? '', 'base64') : undefined, from.join(' ')).toEqual(await readFile(path.join(models, 'labelmap.txt')));
    }
  }, 60_000);
});

describe('edge-model delta: output', () => {
  it('creates an --out directory that does not exist yet, and writes the manifest as compactly as it uploads it', async () => {
    const directory = await mkdtemp(path.join(tmpdir(), 'delta-out-'));
    await packageOf(directory, 'ssd-2.zip', withMetadata, path.join(models, 'labelmap.txt'));
    const from = await packageOf(directory, 'ssd-1.zip', plain, path.join(models, 'labelmap.txt'));
    const out = path.join(directory, 'not', 'there', 'yet');
    await deltaCommand([path.join(directory, 'ssd-2.zip'), '--name', 'ssd', '--version', '2', '--from', from, '--url-prefix', 'https://example.test/models/', '--out', out], () => undefined, () => undefined);
    const text = await readFile(path.join(out, 'ssd-2.delta.json'), 'utf8');
    expect(DeltaManifestSchema.parse(JSON.parse(text)).name).toBe('ssd');
    expect(text).toBe(JSON.stringify(JSON.parse(text)));
  }, 120_000);
});

describe('edge-model delta: the chunk list', () => {
  it('writes the two-level list followed by its block hashes in one blob, and names the list (its start) in the manifest', async () => {
    const directory = await mkdtemp(path.join(tmpdir(), 'delta-chunks-'));
    await packageOf(directory, 'ssd-2.zip', withMetadata, path.join(models, 'labelmap.txt'));
    const from = await packageOf(directory, 'ssd-1.zip', plain, path.join(models, 'labelmap.txt'));
    const { manifest, lines } = await manifestOf(directory, [from]);
    const blob = await readFile(path.join(directory, 'ssd-2.chunks'));
    const chunks = manifest.chunks!;
    expect(chunks).toMatchObject({ listUrl: 'https://example.test/models/ssd-2.chunks', modelUrl: 'https://example.test/models/ssd-2.model' });
    const list = blob.subarray(0, chunks.listSizeBytes);
    expect(createHash('sha256').update(list).digest('hex')).toBe(chunks.listSha256);
    const decoded = decodeGroupList(list);
    expect(decoded.fileSizeBytes).toBe(manifest.model.sizeBytes);
    expect(decoded.blobSizeBytes).toBe(blob.length);
    expect(await readFile(path.join(directory, 'ssd-2.model'))).toEqual(await readFile(withMetadata));
    expect(lines.join('\n')).toContain(`ssd-2.chunks: a ${chunks.listSizeBytes}-byte list`);
  }, 120_000);
});

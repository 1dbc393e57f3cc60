/**
 * Delta model updates: bytes on the wire for each pair of versions, the seed's way (the whole zip) against our patch
 * path, our chunk path, and the best binary patch tools (zstd --patch-from, xdelta3, bsdiff; Debian packages, "not
 * installed" when absent). Also the time to make and apply our patch, and what the chunk path would cost with other
 * designs. Usage: npm run bench:delta
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { applyPatch, createPatch } from '@edge-ml/delta';
import { buildModelPackage } from '@edge-ml/model-cli';
import { CHUNK_DESIGNS, twoRoundFloor, type DesignCost } from './chunk-path-options.js';
import { fineTunePairs, testModel } from './fixtures/finetune-pairs.js';
import { headFineTune } from './fixtures/head-finetune.js';

const work = await mkdtemp(path.join(tmpdir(), 'delta-bench-'));
const NOT_INSTALLED = 'not installed';

/** Runs a patch tool; its output's size, "not installed" when the command is missing. */
async function tool(command: string, args: string[], output: string): Promise<number | typeof NOT_INSTALLED> {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return NOT_INSTALLED;
    throw error;
  }
  return (await stat(output)).size;
}

/**
 * A schema-2 delta manifest as `edge-model delta` writes it for one patch and the chunk list, with SAS URLs of a
 * realistic length (about 230 characters) and the labels left out (unchanged): what the loader fetches first.
 */
function manifestSizeBytes(labelsIncluded: number): number {
  const sas = (name: string) => `https://turbinefleetmodels.blob.core.windows.net/models/${name}?sv=2025-05-05&se=2027-03-30T09%3A00%3A00Z&sr=b&sp=r&sig=${'A'.repeat(43)}%3D`;
  const hash = 'f'.repeat(64);
  const manifest = {
    schemaVersion: 2,
    name: 'model',
    version: '2.0.0',
    package: { sha256: hash, sizeBytes: 3_000_000 },
    model: { file: 'model.onnx', format: 'onnx', sha256: hash, sizeBytes: 4_000_000 },
    files: { 'labels.txt': { sha256: hash, sizeBytes: 1000, ...(labelsIncluded > 0 ? { base64: 'A'.repeat(Math.ceil(labelsIncluded / 3) * 4) } : {}) } },
    patches: [{ fromSha256: hash, url: sas('model-2.0.0.from-0123456789ab.patch'), sha256: hash, sizeBytes: 70_000 }],
    chunks: { listUrl: sas('model-2.0.0.chunks'), listSha256: hash, listSizeBytes: 25_000, modelUrl: sas('model-2.0.0.model') },
  };
  // Compact, as `edge-model delta` uploads it.
  return JSON.stringify(manifest).length;
}
const MANIFEST_BYTES = manifestSizeBytes(0);

async function measure(label: string, sparse: boolean, oldPath: string, newBytes: Buffer, labels: string, regions?: { offset: number; length: number }[]) {
  const oldBytes = await readFile(oldPath);
  const newPath = path.join(work, `${label.replace(/\W+/g, '-')}.new`);
  await writeFile(newPath, newBytes);
  const fullZip = (await buildModelPackage([{ path: newPath, name: `model${path.extname(oldPath)}` }, { path: testModel(labels) }])).bytes.length;
  const same = Buffer.compare(oldBytes, newBytes) === 0;
  let started = performance.now();
  const patch = createPatch(oldBytes, newBytes);
  const createMs = performance.now() - started;
  started = performance.now();
  const rebuilt = applyPatch(oldBytes, patch);
  const applyMs = performance.now() - started;
  if (!Buffer.from(rebuilt).equals(newBytes)) throw new Error(`${label}: the patch does not rebuild the file`);
  const zstd = await tool('zstd', ['-19', '--long=27', '-q', '-f', `--patch-from=${oldPath}`, newPath, '-o', `${newPath}.zst`], `${newPath}.zst`);
  const zstdFull = await tool('zstd', ['-19', '-q', '-f', newPath, '-o', `${newPath}.full.zst`], `${newPath}.full.zst`);
  const xdelta = await tool('xdelta3', ['-9', '-f', '-e', '-s', oldPath, newPath, `${newPath}.xd3`], `${newPath}.xd3`);
  const bsdiff = await tool('bsdiff', [oldPath, newPath, `${newPath}.bsdiff`], `${newPath}.bsdiff`);
  // Every chunk design on every pair that changed; the first is what the loader does.
  const designs: DesignCost[] = same ? [] : CHUNK_DESIGNS.map((design) => design.cost(oldBytes, newBytes));
  const chunks = designs[0];
  return {
    label,
    sparse,
    same,
    newSize: newBytes.length,
    fullZip,
    zstdFull,
    // The same version costs nothing: the loader sees the sha256 it already holds and fetches no manifest.
    patch: same ? 0 : patch.length,
    chunks: chunks?.total ?? 0,
    designs,
    floor: regions ? twoRoundFloor(regions) : undefined,
    zstd,
    xdelta,
    bsdiff,
    createMs,
    applyMs,
  };
}

const ssdOld = testModel('ssd_mobilenet_v1_coco_quant_detect.tflite');
const results = [
  await measure('same version (SSD)', false, ssdOld, await readFile(ssdOld), 'labelmap.txt'),
  await measure('SSD: + metadata, shifted layout', false, ssdOld, await readFile(testModel('ssd_mobilenet_v1_1_metadata_1.tflite')), 'labelmap.txt'),
  await measure('YOLOX: head-only fine-tune (+-10 %)', false, testModel('yolox_nano.onnx'), (await headFineTune()).bytes, 'coco_classes.txt'),
];
for (const [label, make] of Object.entries(fineTunePairs)) {
  const pair = await make();
  const labels = pair.from.startsWith('yolox') ? 'coco_classes.txt' : pair.from.startsWith('mobilenet') ? 'imagenet_labels.txt' : 'labelmap.txt';
  results.push(await measure(label, label.includes('sparse'), testModel(pair.from), pair.bytes, labels, pair.regions));
}
results.push(await measure('unrelated (YOLOX -> SSD)', false, testModel('yolox_nano.onnx'), await readFile(ssdOld), 'labelmap.txt'));
await rm(work, { recursive: true, force: true });

type Result = (typeof results)[number];
const kb = (value: number | string | undefined) => (typeof value === 'number' ? `${(value / 1024).toFixed(1)} KiB` : (value ?? 'n/a'));
const bestTool = (r: Result) => {
  const sizes = [r.zstd, r.xdelta, r.bsdiff].filter((value): value is number => typeof value === 'number');
  return sizes.length > 0 ? Math.min(...sizes) : undefined;
};
const ratio = (ours: number, r: Result) => {
  const best = bestTool(r);
  return best === undefined ? 'n/a' : r.same ? '-' : `${(ours / best).toFixed(2)}x`;
};

console.log('# delta benchmark: bytes on the wire per update (patch: the patch file; + manifest: what the loader fetches first, about', MANIFEST_BYTES, 'bytes)');
console.log(
  `${'pair'.padEnd(42)} ${'new file'.padStart(11)} ${'seed (zip)'.padStart(11)} ${'ours: patch'.padStart(12)} ${'ours: chunks'.padStart(13)} ${'zstd -19'.padStart(11)} ${'xdelta3 -9'.padStart(13)} ${'bsdiff'.padStart(13)} ${'patch/best'.padStart(10)} ${'+manifest'.padStart(9)} ${'chunks/best'.padStart(11)} ${'make'.padStart(8)} ${'apply'.padStart(7)}`,
);
for (const r of results) {
  console.log(
    `${r.label.padEnd(42)} ${kb(r.newSize).padStart(11)} ${kb(r.fullZip).padStart(11)} ${kb(r.patch).padStart(12)} ${kb(r.chunks).padStart(13)} ${kb(r.zstd).padStart(11)} ${kb(r.xdelta).padStart(13)} ${kb(r.bsdiff).padStart(13)} ${ratio(r.patch, r).padStart(10)} ${ratio(r.patch + MANIFEST_BYTES, r).padStart(9)} ${ratio(r.chunks, r).padStart(11)} ${`${r.createMs.toFixed(0)} ms`.padStart(8)} ${`${r.applyMs.toFixed(0)} ms`.padStart(7)}`,
  );
}

console.log('\n# the chunk path: each design on each pair, bytes on the wire (the list, block hashes or fine lists, missing ranges; 600 B per range request after the list\'s one) and x the best tool');
const changed = results.filter((r) => !r.same);
const SHORT_LABELS: [RegExp, string][] = [[/metadata/, 'SSD + metadata'], [/head-only/, 'YOLOX head ±10 %'], [/1 fp32/, 'YOLOX 1 tensor'], [/8 fp32/, 'YOLOX 8 tensors'], [/MobileNet/, 'MobileNet layers'], [/SSD: 10 sparse/, 'SSD 10 regions'], [/YOLOX: 10 sparse/, 'YOLOX 10 regions'], [/unrelated/, 'unrelated']];
const short = (label: string) => SHORT_LABELS.find(([pattern]) => pattern.test(label))?.[1] ?? label.slice(0, 16);
console.log(`${'design'.padEnd(70)} ${changed.map((r) => short(r.label).padStart(18)).join(' ')}`);
CHUNK_DESIGNS.forEach((design, index) => {
  const cells = changed.map((r) => {
    const cost = r.designs[index];
    return (cost ? `${kb(cost.total)} ${ratio(cost.total, r)}` : 'n/a').padStart(18);
  });
  console.log(`${design.label.padEnd(70)} ${cells.join(' ')}`);
});
console.log(`${'floor: changed bytes + 2 requests per stretch, no list (any two-round design)'.padEnd(70)} ${changed.map((r) => (r.floor === undefined ? 'n/a' : `${kb(r.floor)} ${ratio(r.floor, r)}`).padStart(18)).join(' ')}`);
console.log('\n# the loader\'s chunk path, in detail');
for (const r of changed) {
  const ours = r.designs[0];
  if (ours) console.log(`${r.label.padEnd(42)} list ${kb(ours.list)}, block hashes ${kb(ours.hashes)}, missing ${kb(ours.missing)}, ${ours.requests} range requests (${kb(ours.requests * 600)})${ours.total >= r.fullZip ? ': not taken, the package costs less' : ''}`);
}

const verdicts: [boolean | undefined, string][] = [];
for (const r of results) {
  const best = bestTool(r);
  if (r.same) verdicts.push([r.patch === 0 && r.chunks === 0, `${r.label}: ${r.patch} bytes (target 0: the loader sees the sha256 it holds)`]);
  else if (r.label.startsWith('unrelated')) {
    const cheapest = Math.min(r.patch, r.chunks, r.fullZip);
    verdicts.push([cheapest <= 1.02 * (typeof r.zstdFull === 'number' ? r.zstdFull : r.fullZip), `${r.label}: cheapest path ${cheapest} bytes against zstd -19 of the whole file ${r.zstdFull} (target <= 1.02x)`]);
  } else verdicts.push([best === undefined ? undefined : r.patch <= 1.1 * best, `${r.label}: patch ${r.patch} bytes = ${ratio(r.patch, r)} the best tool's ${best ?? NOT_INSTALLED} (target <= 1.1x)`]);
  if (r.sparse) verdicts.push([best === undefined ? undefined : r.chunks <= 1.5 * best, `${r.label}: chunks ${r.chunks} bytes = ${ratio(r.chunks, r)} the best tool's (target <= 1.5x)`]);
}
console.log(`\n${verdicts.map(([ok, text]) => `${ok === undefined ? 'SKIP' : ok ? 'PASS' : 'FAIL'}  ${text}`).join('\n')}`);

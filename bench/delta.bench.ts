/**
 * Delta model updates: bytes on the wire for each pair of versions, the seed's way (the whole zip) against our binary
 * patch and the best binary patch tools (zstd --patch-from, xdelta3, bsdiff; Debian packages, skipped when absent).
 * Also the time to make and apply our patch, and the memory applying needs. Usage: pnpm bench:delta
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyPatch, createPatch, decodeChunkList, encodeChunkList, indexChunks, planChunkAssembly } from '@edge-ml/delta';
import { buildModelPackage } from '@edge-ml/model-cli';
import { headFineTune } from './fixtures/head-finetune.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const model = (name: string) => path.join(root, 'testdata/models', name);
const work = await mkdtemp(path.join(tmpdir(), 'delta-bench-'));

function tool(command: string, args: string[], output: string): Promise<number | undefined> {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return stat(output).then((info) => info.size);
  } catch {
    return Promise.resolve(undefined);
  }
}

async function measure(label: string, oldPath: string, newBytes: Buffer, labels: string) {
  const oldBytes = await readFile(oldPath);
  const newPath = path.join(work, `${label.replace(/\W+/g, '-')}.new`);
  await writeFile(newPath, newBytes);
  const fullZip = (await buildModelPackage([{ path: newPath, name: `model${path.extname(oldPath)}` }, { path: model(labels) }])).bytes.length;
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
  const same = Buffer.compare(oldBytes, newBytes) === 0;
  // The chunk path: the chunk list, plus the missing ranges (neighbours within 256 bytes coalesced) and their requests.
  started = performance.now();
  const list = encodeChunkList(newBytes);
  const plan = planChunkAssembly(decodeChunkList(list), indexChunks([oldBytes]), 256);
  const chunkMs = performance.now() - started;
  const missing = plan.ranges.reduce((sum, range) => sum + range.end - range.start, 0);
  const chunks = same ? 0 : list.length + missing + plan.ranges.length * 600;
  return { label, chunks, chunkList: list.length, ranges: plan.ranges.length, chunkMs, newSize: newBytes.length, fullZip, zstdFull, ours: same ? 0 : patch.length, patchBytes: patch.length, zstd, xdelta, bsdiff, createMs, applyMs, applyMemory: oldBytes.length + newBytes.length + patch.length };
}

const ssdOld = model('ssd_mobilenet_v1_coco_quant_detect.tflite');
const fineTuned = await headFineTune();
const results = [
  await measure('same version (SSD)', ssdOld, await readFile(ssdOld), 'labelmap.txt'),
  await measure('SSD: + metadata, shifted layout', ssdOld, await readFile(model('ssd_mobilenet_v1_1_metadata_1.tflite')), 'labelmap.txt'),
  await measure('YOLOX: head-only fine-tune', model('yolox_nano.onnx'), fineTuned.bytes, 'coco_classes.txt'),
  await measure('unrelated (YOLOX -> SSD)', model('yolox_nano.onnx'), await readFile(ssdOld), 'labelmap.txt'),
];
await rm(work, { recursive: true, force: true });

const kb = (value: number | undefined) => (value === undefined ? 'n/a' : `${(value / 1024).toFixed(1)} KiB`);
console.log('# delta benchmark: bytes on the wire per update (n/a: tool not installed; apt-get install zstd xdelta3 bsdiff)');
console.log('pair                                 new file   seed (zip)  ours (patch)  ours (chunks)  zstd --patch-from  xdelta3    bsdiff     make     apply   apply memory');
for (const r of results) {
  console.log(
    `${r.label.padEnd(36)} ${kb(r.newSize).padStart(10)} ${kb(r.fullZip).padStart(10)} ${kb(r.ours).padStart(12)} ${kb(r.chunks).padStart(14)} ${kb(r.zstd).padStart(17)} ${kb(r.xdelta).padStart(10)} ${kb(r.bsdiff).padStart(10)} ${`${r.createMs.toFixed(0)} ms`.padStart(8)} ${`${r.applyMs.toFixed(0)} ms`.padStart(7)} ${`${(r.applyMemory / 1048576).toFixed(1)} MiB`.padStart(12)}`,
  );
}
const [same, ssd, head, unrelated] = results as [(typeof results)[number], (typeof results)[number], (typeof results)[number], (typeof results)[number]];
const bestTool = (r: (typeof results)[number]) => Math.min(...[r.zstd, r.xdelta, r.bsdiff].filter((value): value is number => value !== undefined));
const verdicts = [
  [same.ours === 0, `same version: ${same.ours} bytes (the loader sees the sha256 it already has; target 0)`],
  [ssd.chunks <= 0.05 * ssd.newSize, `SSD pair through chunks: ${ssd.chunks} bytes = ${((ssd.chunks / ssd.newSize) * 100).toFixed(2)}% of the file (list ${ssd.chunkList} B + ${ssd.ranges} ranges; target <= 5%)`],
  [head.chunks <= 1.1 * fineTuned.changedBytes + 0.01 * head.newSize, `head-only fine-tune through chunks: ${head.chunks} bytes (target <= ${Math.round(1.1 * fineTuned.changedBytes + 0.01 * head.newSize)})`],
  [ssd.ours <= 1.2 * bestTool(ssd), `SSD pair with a patch: ${ssd.ours} bytes = ${(ssd.ours / bestTool(ssd)).toFixed(2)}x the best tool's ${bestTool(ssd)} (target <= 1.2x)`],
  [head.ours <= 1.1 * fineTuned.changedBytes + 0.01 * head.newSize, `head-only fine-tune: ${head.ours} bytes against ${fineTuned.changedBytes} changed tensor bytes (target <= 1.1x + 1% of the file = ${Math.round(1.1 * fineTuned.changedBytes + 0.01 * head.newSize)})`],
  [Math.min(unrelated.ours, unrelated.chunks, unrelated.fullZip) <= 1.02 * (unrelated.zstdFull ?? unrelated.fullZip), `unrelated: cheapest path ${Math.min(unrelated.ours, unrelated.chunks, unrelated.fullZip)} bytes against zstd -19 of the full file ${unrelated.zstdFull ?? 'n/a'} (target <= 1.02x compressed full size)`],
] as const;
console.log(`\n${verdicts.map(([ok, text]) => `${ok ? 'PASS' : 'FAIL'}  ${text}`).join('\n')}`);
console.log(`chunking (list + plan) took ${results.map((r) => `${r.chunkMs.toFixed(0)} ms`).join(', ')}; the loader takes the cheapest offered path that verifies.`);

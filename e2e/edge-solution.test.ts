import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@edge-ml/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DetectionResult } from '@edge-ml/contracts';
import { buildModelPackage, LocalSystem, type BuiltPackage } from '@edge-ml/local-run';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const models = path.join(root, 'testdata', 'models');
const photo = path.join(root, 'testdata', 'images', 'darknet_person.jpg');


/** SSD calls the horse in the photo a sheep; YOLOX calls it a horse: a response shows which model produced it. */
const ssd = () => buildModelPackage([{ path: path.join(models, 'ssd_mobilenet_v1_coco_quant_detect.tflite') }, { path: path.join(models, 'labelmap.txt') }]);
const ssdWithMetadata = () => buildModelPackage([{ path: path.join(models, 'ssd_mobilenet_v1_1_metadata_1.tflite') }, { path: path.join(models, 'labelmap.txt') }]);
const yolox = () => buildModelPackage([{ path: path.join(models, 'yolox_nano.onnx') }, { path: path.join(models, 'coco_classes.txt') }], { family: 'yolox' });

interface LoaderReport {
  modelUpdate?: { state: string; version?: string; bytesDownloaded?: number; error?: { code: string; message: string } | null };
  activeModel?: { name: string; version: string } | null;
}

describe('the solution end to end: emulator + Azurite + loader + inference as processes, real SDK over MQTT', () => {
  let system: LocalSystem;
  let image: Buffer;
  const logs: string[] = [];
  const timings: Record<string, number> = {};

  const detect = async () => {
    const response = await fetch(`${system.inferenceUrl}/v1/detect`, { method: 'POST', body: image, headers: { 'content-type': 'image/jpeg' } });
    return { status: response.status, body: response.ok ? ((await response.json()) as DetectionResult) : undefined };
  };
  const serving = async (version: string) => {
    const response = await fetch(`${system.inferenceUrl}/health/ready`).catch(() => undefined);
    const body = response?.ok ? ((await response.json()) as { model: string }) : undefined;
    return body?.model.endsWith(`@${version}`) ? true : undefined;
  };
  const loaderReport = async () => (await system.reported('loader')) as LoaderReport;
  /** Sets the loader's desired model and returns the seconds until the inference module serves it. */
  const rollOut = async (blob: string, version: string, built: BuiltPackage, extra: Record<string, unknown> = {}) => {
    const model = await system.publish(blob, 'detector', version, built);
    const started = performance.now();
    await system.setDesired('loader', { model, ...extra });
    await system.waitFor(() => serving(version), 120_000, `version ${version} serving`);
    return (performance.now() - started) / 1000;
  };

  beforeAll(async () => {
    if (!existsSync(path.join(root, 'tools/local-run/dist/index.js'))) execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', path.join(root, 'tsconfig.build.json')]);
    image = await readFile(photo);
    system = new LocalSystem({
      root,
      workDirectory: await mkdtemp(path.join(tmpdir(), 'e2e-')),
      inferencePort: await freePort(),
      logLevel: 'info',
      log: (label, line) => logs.push(`[${label}] ${line}`),
    });
    await system.start();
  }, 120_000);

  afterAll(async () => {
    await system?.stop();
    if (process.env.E2E_PRINT_LOGS) console.log(logs.join('\n'));
    console.log(`time from desired patch to the new model serving (s): ${JSON.stringify(timings)}`);
  });

  it('publishes v1 and detects with it, then swaps to v2 under load with no failed request and one switch per client', async () => {
    timings.v1 = await rollOut('detector-1.zip', '1', await ssd());
    const first = await detect();
    expect(first.body?.model.version).toBe('1');
    expect(first.body?.detections.map((detection) => detection.label)).toEqual(expect.arrayContaining(['person', 'sheep']));

    let running = true;
    const sequences: string[][] = Array.from({ length: 4 }, () => []);
    const failures: number[] = [];
    const clients = sequences.map(async (sequence) => {
      while (running) {
        const { status, body } = await detect();
        if (status !== 200 || !body) failures.push(status);
        else {
          sequence.push(body.model.version);
          expect(body.detections.map((detection) => detection.label)).toContain(body.model.version === '1' ? 'sheep' : 'horse');
        }
      }
    });
    timings.v2UnderLoad = await rollOut('detector-2.zip', '2', await yolox());
    await new Promise((resolve) => setTimeout(resolve, 500));
    running = false;
    await Promise.all(clients);
    expect(failures).toEqual([]);
    for (const sequence of sequences) {
      expect(sequence.at(-1)).toBe('2');
      const switches = sequence.filter((version, index) => index > 0 && version !== sequence[index - 1]).length;
      expect(switches).toBeLessThanOrEqual(1);
      expect(sequence.indexOf('2')).toBe(sequence.length - sequence.filter((version) => version === '2').length);
    }
    expect(sequences.some((sequence) => sequence.includes('1'))).toBe(true);
    // The loader calls v2 active once the inference module's status confirms it (closed-loop activation).
    await system.waitFor(async () => ((await loaderReport()).modelUpdate?.state === 'active' ? true : undefined), 60_000, 'the loader to report v2 confirmed');
    expect(await loaderReport()).toMatchObject({ modelUpdate: { state: 'active', version: '2' }, activeModel: { version: '2' } });
    const inference = (await system.reported('inference')) as { activeModel?: { version: string } };
    expect(inference.activeModel?.version).toBe('2');
  }, 180_000);

  it('reports a package with a wrong checksum and keeps v2 serving', async () => {
    const model = await system.publish('detector-bad.zip', 'detector', 'bad', await ssd());
    await system.setDesired('loader', { model: { ...model, sha256: '0'.repeat(64) } });
    const report = await system.waitFor(async () => {
      const current = await loaderReport();
      return current.modelUpdate?.state === 'failed' ? current : undefined;
    }, 60_000, 'the checksum failure to be reported');
    expect(report.modelUpdate).toMatchObject({ version: 'bad', error: { code: 'LOADER_CHECKSUM_MISMATCH' } });
    expect((await detect()).body?.model.version).toBe('2');
  }, 90_000);

  it('reports an expired SAS and completes once the twin gets a fresh URL', async () => {
    const built = await ssd();
    const expired = await system.publish('detector-3.zip', 'detector', '3', built, { startsOn: new Date(Date.now() - 7_200_000), expiresOn: new Date(Date.now() - 3_600_000) });
    await system.setDesired('loader', { model: expired });
    const report = await system.waitFor(async () => {
      const current = await loaderReport();
      return current.modelUpdate?.error?.code === 'LOADER_SAS_REJECTED' ? current : undefined;
    }, 60_000, 'the SAS failure to be reported');
    expect(report.modelUpdate?.error?.message).not.toMatch(/sig=/);
    expect((await detect()).body?.model.version).toBe('2');
    const fresh = await system.publish('detector-3.zip', 'detector', '3', built);
    const started = performance.now();
    await system.setDesired('loader', { model: { url: fresh.url } });
    await system.waitFor(() => serving('3'), 60_000, 'version 3 serving');
    timings.afterFreshSas = (performance.now() - started) / 1000;
  }, 120_000);

  it('resumes a download after the loader is killed mid-way, and completes it', async () => {
    const built = await yolox();
    const model = await system.publish('detector-4.zip', 'detector', '4', built);
    await system.setDesired('loader', { model, policy: { keepVersions: 2, maxBytesPerSecond: 400_000 } });
    await system.waitFor(async () => {
      const bytes = (await loaderReport()).modelUpdate?.bytesDownloaded ?? 0;
      return bytes > 300_000 && bytes < built.bytes.length / 2 ? true : undefined;
    }, 60_000, 'the download to be under way');
    await system.killModule('loader');
    logs.length = 0;
    system.startModule('loader');
    await system.waitFor(() => serving('4'), 60_000, 'version 4 serving');
    const completed = logs.find((line) => line.startsWith('[loader] model.download.complete'));
    const resumedFrom = Number(/resumedFromBytes=(\d+)/.exec(completed ?? '')?.[1]);
    expect(resumedFrom).toBeGreaterThan(300_000);
    expect(Number(/transferredBytes=(\d+)/.exec(completed ?? '')?.[1])).toBe(built.bytes.length - resumedFrom);
  }, 120_000);

  it('applies a desired change made while edgeHub was down and lost its sessions', async () => {
    const built = await ssdWithMetadata();
    const model = await system.publish('detector-5.zip', 'detector', '5', built);
    const restarting = system.control('POST', '/restart', { keepSessions: false, outageMs: 3_000 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const started = performance.now();
    await system.setDesired('loader', { model, policy: { keepVersions: 2 } });
    await restarting;
    await system.waitFor(() => serving('5'), 90_000, 'version 5 serving after the restart');
    timings.afterEdgeHubRestart = (performance.now() - started) / 1000;
    // The status may wait for the hub's sessions to come back; the loader also re-sends its announcement meanwhile.
    await system.waitFor(async () => ((await loaderReport()).modelUpdate?.state === 'active' ? true : undefined), 60_000, 'the loader to report v5 confirmed');
    expect(await loaderReport()).toMatchObject({ modelUpdate: { state: 'active', version: '5' }, activeModel: { version: '5' } });
    expect((await detect()).body?.detections.map((detection) => detection.label)).toContain('sheep');
  }, 120_000);
});

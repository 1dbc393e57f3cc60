import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalSystem } from '@edge-ml/local-run';
import { converged, detect, observe, packages, photo, startSystem, type BuiltPackage, type LoaderReport } from './activation-helpers.js';

/**
 * Closed-loop activation with real processes: the edgeHub emulator routes DLModelOutput to the inference module and
 * DLModelStatus back to the loader (deployment.template.json), Azurite serves the packages, both modules use the SDK.
 */
describe('closed-loop activation end to end: a device never serves nothing and never drifts from what it reports', () => {
  let system: LocalSystem;
  let image: Buffer;
  const logs: string[] = [];
  const figures: Record<string, number> = {};
  const codes: Record<string, string> = {};
  /** Short enough for a test to see the re-send and the timeout work; a device keeps the defaults (30 s, 300 s). */
  const policy = { keepVersions: 3, confirmTimeoutSeconds: 60, confirmResendSeconds: 5 };

  const rollOut = async (version: string, built: BuiltPackage) => {
    const model = await system.publish(`detector-${version}.zip`, 'detector', version, built);
    const started = performance.now();
    await system.setDesired('loader', { model, policy });
    return started;
  };
  const seconds = (started: number) => Math.round((performance.now() - started) / 100) / 10;

  beforeAll(async () => {
    image = await readFile(photo);
    system = await startSystem('e2e-activation-', logs, 2000);
  }, 120_000);

  afterAll(async () => {
    await system?.stop();
    if (process.env.E2E_PRINT_LOGS) console.log(logs.join('\n'));
    console.log(`closed-loop activation figures (s): ${JSON.stringify(figures)}; rejection codes: ${JSON.stringify(codes)}`);
  });

  it('confirms a good v1: the loader reports it active once the inference module serves it, and both twins agree with /v1/models', async () => {
    const started = await rollOut('1', await packages.ssd());
    const settled = await system.waitFor(converged(system, 'detector', '1'), 120_000, 'v1 confirmed');
    figures.v1Confirmed = seconds(started);
    expect(settled.loader).toMatchObject({ modelUpdate: { state: 'active', version: '1' }, LatestAIModelFileName: 'detector-1.zip' });
    expect(settled.inference.lastActivation).toMatchObject({ version: '1', outcome: 'accepted' });
    expect(await detect(system, image)).toMatchObject({ status: 200, version: '1', labels: expect.arrayContaining(['person', 'sheep']) });
  }, 150_000);

  it.each([
    ['a truncated ONNX file', '2-truncated', packages.truncatedOnnx],
    ['a model of the wrong family', '2-wrong-family', packages.wrongFamily],
    ['a model that fails its acceptance samples', '2-acceptance', packages.failingAcceptance],
  ])('rejects %s with the inference module\'s code, falls back to v1 and keeps serving it', async (_kind, version, build) => {
    const started = await rollOut(version, await build());
    const settled = await system.waitFor(converged(system, 'detector', '1', version), 120_000, `${version} rejected and v1 served`);
    figures[`rejected ${version}`] = seconds(started);
    const code = settled.loader.modelUpdate?.error?.code;
    codes[version] = code ?? 'none';
    expect(code).toMatch(/^MODEL_/);
    // The inference module's own record of the attempt names the same code (its last activation is v1 again, re-announced).
    const { activations } = (await (await fetch(`${system.inferenceUrl}/v1/models`)).json()) as { activations: { version: string; outcome: string; error?: { code: string } }[] };
    expect(activations.find((activation) => activation.version === version)).toMatchObject({ outcome: 'rejected', error: { code } });
    if (version === '2-acceptance') expect(code).toBe('MODEL_ACCEPTANCE_FAILED');
    expect(settled.loader.activeModel).toMatchObject({ version: '1' });
    expect(await detect(system, image)).toMatchObject({ status: 200, version: '1' });
    const listed = await system.control<{ status: number; payload: { announced: { version: string }; installed: { version: string; verdict: string }[] } }>('POST', '/methods/loader/listModels', { payload: null });
    expect(listed.payload.announced.version).toBe('1');
    expect(listed.payload.installed).toEqual(expect.arrayContaining([expect.objectContaining({ version: '1', verdict: 'confirmed' })]));
  }, 150_000);

  it('keeps serving v1 after the inference module restarts (a reboot, an OOM kill), and does not try the rejected version again', async () => {
    await system.killModule('inference');
    logs.length = 0;
    const started = performance.now();
    system.startModule('inference');
    await system.waitFor(async () => ((await detect(system, image).catch(() => ({ status: 0 }))).status === 200 ? true : undefined), 60_000, 'inference serving again');
    figures.servingAfterInferenceRestart = seconds(started);
    expect(await detect(system, image)).toMatchObject({ status: 200, version: '1' });
    const { loader } = await system.waitFor(converged(system, 'detector', '1', '2-acceptance'), 30_000, 'twins agreeing after the restart');
    expect(loader.activeModel).toMatchObject({ version: '1' });
    // The loader announced v1 again after the last rejection: a restarted inference module finds v1 in both pointers
    // and tries nothing else.
    const concluded = await system.waitFor(async () => {
      const lines = logs.filter((line) => line.startsWith('[inference] model.activation.concluded'));
      return lines.length > 0 ? lines : undefined;
    }, 10_000, 'the inference module to conclude its start-up activation');
    expect(concluded.every((line) => / version=1 /.test(line)), concluded.join('\n')).toBe(true);
    expect(await detect(system, image)).toMatchObject({ status: 200, version: '1' });
  }, 120_000);

  it('rolls back twice to the two previous confirmed versions of the same model', async () => {
    let started = await rollOut('3', await packages.yolox());
    await system.waitFor(converged(system, 'detector', '3'), 120_000, 'v3 confirmed');
    figures.v3Confirmed = seconds(started);
    started = await rollOut('4', await packages.ssd());
    await system.waitFor(converged(system, 'detector', '4'), 120_000, 'v4 confirmed');
    const rollback = () => system.control<{ status: number; payload: { version: string } }>('POST', '/methods/loader/rollback', { payload: null });
    expect(await rollback()).toMatchObject({ status: 202, payload: { version: '3' } });
    started = performance.now();
    const first = await system.waitFor(converged(system, 'detector', '3'), 60_000, 'rolled back to v3');
    figures.firstRollback = seconds(started);
    expect(first.loader).toMatchObject({ LatestAIModelFileName: 'detector-3.zip' });
    expect(await rollback()).toMatchObject({ status: 202, payload: { version: '1' } });
    const second = await system.waitFor(converged(system, 'detector', '1'), 60_000, 'rolled back to v1');
    expect(second.loader).toMatchObject({ LatestAIModelFileName: 'detector-1.zip' });
    expect(await detect(system, image)).toMatchObject({ status: 200, version: '1', labels: expect.arrayContaining(['sheep']) });
  }, 300_000);

  it.each([
    ['the loader reconnects first', 'inference' as const],
    ['the inference module reconnects first', 'loader' as const],
  ])('converges when the desired model changes during a 30 s edgeHub outage and %s', async (_case, late) => {
    const version = late === 'inference' ? '5' : '6';
    const built = late === 'inference' ? await packages.yolox() : await packages.ssd();
    const model = await system.publish(`detector-${version}.zip`, 'detector', version, built);
    const restarting = system.control('POST', '/restart', { keepSessions: false, outageMs: 30_000 });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    // The module that reconnects late is down when the hub comes back, and starts 5 s after it.
    await system.killModule(late);
    const started = performance.now();
    await system.setDesired('loader', { model, policy });
    await restarting;
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    system.startModule(late);
    const settled = await system.waitFor(converged(system, 'detector', version), 150_000, `v${version} confirmed after the outage`);
    figures[`afterOutage ${late} late`] = seconds(started);
    expect((settled.loader as LoaderReport).modelUpdate).toMatchObject({ state: 'active', version });
    expect(await detect(system, image)).toMatchObject({ status: 200, version });
  }, 240_000);

  it('reports what both modules agree on in the end: the loader twin, the inference twin and /v1/models', async () => {
    const { loader, inference, models } = await observe(system);
    expect(models?.active).toMatchObject({ name: 'detector', version: '6' });
    expect(loader.activeModel).toMatchObject({ name: 'detector', version: '6', sha256: models?.active?.sha256 });
    expect(inference.activeModel).toMatchObject({ name: 'detector', version: '6', sha256: models?.active?.sha256 });
  });
});

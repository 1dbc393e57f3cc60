import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalSystem } from '@edge-ml/local-run';
import { converged, detect, packages, photo, startSystem, type BuiltPackage } from './activation-helpers.js';

const TRIALS = Number(process.env.E2E_KILL_TRIALS ?? 20);
const SEED = Number(process.env.E2E_KILL_SEED ?? Date.now() % 1_000_000);

/** A small seeded generator, so that a failing trial can be replayed with E2E_KILL_SEED. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe(`${TRIALS} updates, each with a SIGKILL of the inference module or the loader at a random moment`, () => {
  let system: LocalSystem;
  let image: Buffer;
  const logs: string[] = [];
  const policy = { keepVersions: 2, confirmTimeoutSeconds: 60, confirmResendSeconds: 5 };

  beforeAll(async () => {
    image = await readFile(photo);
    system = await startSystem('e2e-kill-trials-', logs, 2000);
    const model = await system.publish('detector-0.zip', 'detector', '0', await packages.ssd());
    await system.setDesired('loader', { model, policy });
    await system.waitFor(converged(system, 'detector', '0'), 120_000, 'v0 confirmed');
  }, 240_000);

  afterAll(async () => {
    await system?.stop();
    if (process.env.E2E_PRINT_LOGS) console.log(logs.join('\n'));
  });

  it('every trial converges on the confirmed model (the new one if good, the previous one if broken) and ends serving it', async () => {
    const next = random(SEED);
    const good: BuiltPackage[] = [await packages.yolox(), await packages.ssd()];
    const broken = await packages.truncatedOnnx();
    const results: { trial: number; kind: string; victim: string; killAfterMs: number; seconds: number; noModel503: number }[] = [];
    let confirmed = '0';
    for (let trial = 1; trial <= TRIALS; trial += 1) {
      const isBroken = trial % 2 === 0;
      const victim = Math.floor((trial - 1) / 2) % 2 === 0 ? 'inference' : 'loader';
      const version = `${trial}${isBroken ? '-broken' : ''}`;
      const model = await system.publish(`detector-${version}.zip`, 'detector', version, isBroken ? broken : good[trial % 2]!);
      const killAfterMs = Math.round(next() * 3_000);
      const restartAfterMs = Math.round(next() * 1_000);

      // While the trial runs, count answers that say the device has no model (as opposed to a module being down).
      let watching = true;
      let noModel503 = 0;
      const watcher = (async () => {
        while (watching) {
          const answer = await detect(system, image).catch(() => undefined);
          if (answer?.status === 503) noModel503 += 1;
          await sleep(250);
        }
      })();

      const started = performance.now();
      await system.setDesired('loader', { model, policy });
      await sleep(killAfterMs);
      await system.killModule(victim);
      await sleep(restartAfterMs);
      system.startModule(victim);
      const expected = isBroken ? confirmed : version;
      await system.waitFor(converged(system, 'detector', expected, isBroken ? version : undefined), 150_000, `trial ${trial} (seed ${SEED}, ${version}, ${victim} killed after ${killAfterMs} ms) to converge on ${expected}`);
      const seconds = Math.round((performance.now() - started) / 100) / 10;
      watching = false;
      await watcher;
      expect(await detect(system, image), `trial ${trial} ends serving ${expected}`).toMatchObject({ status: 200, version: expected });
      results.push({ trial, kind: isBroken ? 'broken' : 'good', victim, killAfterMs, seconds, noModel503 });
      if (!isBroken) confirmed = version;
    }
    const times = results.map((result) => result.seconds).sort((a, b) => a - b);
    console.log(`kill trials (seed ${SEED}): ${JSON.stringify(results)}`);
    console.log(`convergence (s): min ${times[0]}, median ${times[Math.floor(times.length / 2)]}, max ${times.at(-1)}; 503 NO_MODEL answers during trials: ${results.reduce((sum, result) => sum + result.noModel503, 0)}`);
    expect(results).toHaveLength(TRIALS);
  }, TRIALS * 180_000);
});

import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InferenceService } from '../src/service.js';
import { startService } from './service.js';
import { createStorage, SSD_TFLITE, stageModel, YOLOX_ONNX } from './storage.js';
import { imageFile } from './testdata.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** Screenshots for a person to look at; git-ignored. */
const SCREENSHOTS = path.join(root, 'test-results', 'console');

const chromiumMissing = !existsSync(CHROMIUM);
if (chromiumMissing) console.warn(`skipping the console's browser tests: ${CHROMIUM} is missing (Debian: apt-get install -y chromium; .ci/run installs it)`);

describe.skipIf(chromiumMissing)('the web console, in headless Chromium', () => {
  let storage: string;
  let service: InferenceService;
  let origin: string;
  let profile: string;
  let context: BrowserContext;
  let page: Page;
  const foreignRequests: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    storage = await createStorage();
    service = await startService(storage);
    expect((await service.models.activate(await stageModel(storage, { ...YOLOX_ONNX, version: '1' }))).status).toBe('activated');
    origin = await service.app.listen({ host: '127.0.0.1', port: 0 });
    profile = await mkdtemp(path.join(tmpdir(), 'console-chromium-'));
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 860 } });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('request', (request) => {
      if (!request.url().startsWith(origin) && !request.url().startsWith('blob:') && !request.url().startsWith('data:')) foreignRequests.push(request.url());
    });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await mkdir(SCREENSHOTS, { recursive: true });
    await page.goto(`${origin}/`);
  }, 90_000);

  afterAll(async () => {
    await context?.close();
    await service?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it('shows the active model, with its load time', async () => {
    await expect.poll(() => page.textContent('#model-name'), { timeout: 15_000 }).toBe('yolox');
    expect(await page.textContent('#model-version')).toBe('1');
    expect(await page.textContent('#model-family')).toBe('yolox (onnx)');
    expect(await page.textContent('#model-runtime')).toBe('onnxruntime');
    expect(await page.textContent('#model-load')).toMatch(/^\d[\d.]* m?s \(warm-up \d[\d.]* m?s\)$/);
    expect(await page.textContent('#serving-text')).toBe('serving yolox 1');
    expect(await page.isVisible('#hint')).toBe(true);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'empty.png'), fullPage: true });
  });

  it('draws the boxes of an uploaded photo and lists what is in it: a person, a dog and a horse', async () => {
    await page.setInputFiles('#file', imageFile('darknet_person.jpg'));
    await page.waitForSelector('.box', { timeout: 20_000 });
    const boxLabels = await page.$$eval('.box', (boxes) => boxes.map((box) => box.getAttribute('data-label') ?? ''));
    expect(boxLabels.sort()).toEqual(['dog', 'horse', 'person']);
    const tableLabels = await page.$$eval('#detections tbody td.label', (cells) => cells.map((cell) => cell.textContent ?? ''));
    expect(tableLabels.sort()).toEqual(['dog', 'horse', 'person']);
    expect(await page.textContent('#status')).toMatch(/^3 found by yolox 1 · 640×424/);
    // The boxes sit on the image where the API put them: the person's box is in the middle third.
    const image = await page.locator('#photo').boundingBox();
    const person = await page.locator('.box[data-label="person"]').boundingBox();
    expect(image && person).toBeTruthy();
    if (image && person) {
      const centre = (person.x + person.width / 2 - image.x) / image.width;
      expect(centre).toBeGreaterThan(0.33);
      expect(centre).toBeLessThan(0.5);
    }
    await expect.poll(() => page.textContent('#live-total'), { timeout: 10_000 }).toMatch(/^[1-9]/);
    expect(await page.textContent('#live-p50')).toMatch(/^≈ \d/);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'detections.png'), fullPage: true });
  });

  it('asks again with the threshold the slider sets', async () => {
    await page.locator('#threshold').evaluate((input) => {
      Object.assign(input, { value: '0.9' });
      input.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await expect.poll(() => page.locator('.box').count(), { timeout: 10_000 }).toBe(0);
    expect(await page.textContent('#status')).toMatch(/^nothing found/);
    expect(await page.textContent('#threshold-value')).toBe('0.90');
    await page.click('#threshold-reset');
    await expect.poll(() => page.locator('.box').count(), { timeout: 10_000 }).toBe(3);
  });

  it('offers the annotated JPEG the API renders', async () => {
    const download = page.waitForEvent('download');
    await page.click('#download');
    const file = await download;
    expect(file.suggestedFilename()).toBe('darknet_person-yolox-1.jpg');
    const saved = path.join(SCREENSHOTS, 'annotated.jpg');
    await file.saveAs(saved);
    expect(existsSync(saved)).toBe(true);
  });

  it('shows a model swap made while the page is open, and says which model drew the boxes on screen', async () => {
    // Through the activation controller, as a DLModelInput message would: the attempt is reported with its outcome.
    // Another name: ssd serves beside yolox, and is the default (no index names one: the first by name).
    expect(await service.models.request(await stageModel(storage, { ...SSD_TFLITE, version: '2' }), 'message')).toMatchObject({ outcome: 'accepted' });
    expect(service.models.defaultName()).toBe('ssd');
    await expect.poll(() => page.textContent('#model-name'), { timeout: 15_000 }).toBe('ssd');
    expect(await page.textContent('#model-version')).toBe('2');
    expect(await page.textContent('#model-runtime')).toBe('litert');
    const activations = await page.$$eval('#activations li', (items) => items.map((item) => `${item.getAttribute('data-outcome')} ${item.querySelector('.which')?.textContent}`));
    expect(activations).toEqual(['accepted ssd 2', 'activated yolox 1']);
    expect(await page.textContent('#activations li[data-outcome="accepted"] .detail')).toMatch(/^via message · load \d/);
    expect(await page.isVisible('#stale')).toBe(true);
    expect(await page.textContent('#stale')).toContain('the module now serves ssd 2');
    await page.click('#stale button');
    await expect.poll(() => page.textContent('#status'), { timeout: 15_000 }).toMatch(/found by ssd 2/);
    expect(await page.isVisible('#stale')).toBe(false);
  });

  it('shows a rejected activation with its error code', async () => {
    const broken = await stageModel(storage, { ...YOLOX_ONNX, version: 'broken' });
    await writeFile(path.join(storage, broken.modelPath), 'not a model');
    expect(await service.models.request(broken, 'message')).toMatchObject({ outcome: 'rejected', error: { code: 'MODEL_LOAD_FAILED' } });
    await page.waitForSelector('#activations li[data-outcome="rejected"]', { timeout: 15_000 });
    expect(await page.textContent('#activations li[data-outcome="rejected"]')).toContain('MODEL_LOAD_FAILED');
    expect(await page.textContent('#model-name')).toBe('ssd');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'after-swap.png'), fullPage: true });
  });

  it('offers a model picker once several models serve, and sends the image to the model picked', async () => {
    await expect.poll(() => page.isVisible('#model-picker'), { timeout: 15_000 }).toBe(true);
    expect(await page.$$eval('#model-picker option', (options) => options.map((option) => option.textContent))).toEqual(['default (ssd)', 'ssd', 'yolox']);
    const named = page.waitForRequest((request) => request.url().endsWith('/v1/models/yolox/detect'));
    await page.selectOption('#model-picker', 'yolox');
    await named;
    await expect.poll(() => page.textContent('#status'), { timeout: 15_000 }).toMatch(/found by yolox 1/);
    expect(await page.textContent('#model-name')).toBe('yolox');
    expect(await page.isVisible('#stale')).toBe(false);
    await page.selectOption('#model-picker', '');
    await expect.poll(() => page.textContent('#status'), { timeout: 15_000 }).toMatch(/found by ssd 2/);
    expect(await page.textContent('#model-name')).toBe('ssd');
  });

  it('loaded nothing from anywhere but the module, and ran without script errors', () => {
    expect(foreignRequests).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { headerSafe } from '../http/send-rendered.js';
import { buildOverlaySvg, escapeXml, overlayScale } from './overlay-svg.js';
import { chooseRenderFormat } from './render-format.js';
import { RenderSlots } from './render-slots.js';

describe('chooseRenderFormat', () => {
  it.each([
    [undefined, undefined, undefined],
    ['png', undefined, 'png'],
    ['jpeg', 'application/json', 'jpeg'],
    [undefined, '*/*', undefined],
    [undefined, 'application/json', undefined],
    [undefined, 'image/png', 'png'],
    [undefined, 'image/jpeg', 'jpeg'],
    [undefined, 'image/*', 'jpeg'],
    [undefined, 'image/webp', undefined],
    [undefined, 'image/png, image/jpeg', 'png'],
    [undefined, 'image/jpeg;q=0.4, image/png;q=0.8', 'png'],
    [undefined, 'application/json, image/png', undefined],
    [undefined, 'image/png, application/json', 'png'],
    [undefined, 'application/json;q=0.9, image/png', 'png'],
    [undefined, 'application/json, image/png;q=0.9', undefined],
    [undefined, 'image/png, */*', 'png'],
    [undefined, '*/*, image/png', 'png'],
    [undefined, 'image/png;q=0', undefined],
    [undefined, 'text/html,application/xhtml+xml,image/avif,image/webp,*/*;q=0.8', undefined],
  ] as const)('render=%s, Accept: %s → %s', (render, accept, expected) => {
    expect(chooseRenderFormat(render, accept)).toBe(expected);
  });
});

describe('buildOverlaySvg', () => {
  const detection = { label: 'person', classId: 0, score: 0.876, boxPixels: { xmin: 10, ymin: 50, xmax: 110, ymax: 250 } };

  it('draws a box and a label with the score for each detection', () => {
    const svg = buildOverlaySvg({ image: { width: 640, height: 424 }, detections: [detection], classifications: [] });
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="640" height="424"/);
    expect(svg).toContain('<rect x="10" y="50" width="100" height="200" fill="none" stroke="#ff3b30" stroke-width="3"/>');
    expect(svg).toContain('>person 0.88</text>');
    // Nothing the renderer could fetch: no links, no url(), no @font-face or @import.
    expect(svg).not.toMatch(/href|url\(|@font-face|@import|<image/);
  });

  it('puts the label inside the box when the box touches the top edge', () => {
    const svg = buildOverlaySvg({ image: { width: 640, height: 424 }, detections: [{ ...detection, boxPixels: { ...detection.boxPixels, ymin: 0 } }], classifications: [] });
    const labelTop = Number(/<rect x="[^"]+" y="([^"]+)" width="\d+" height="22" fill/.exec(svg)?.[1]);
    expect(labelTop).toBeGreaterThanOrEqual(0);
  });

  it('keeps a label inside the image at the right edge', () => {
    const svg = buildOverlaySvg({ image: { width: 640, height: 424 }, detections: [{ ...detection, boxPixels: { xmin: 620, ymin: 100, xmax: 639, ymax: 200 } }], classifications: [] });
    const [, x, width] = /<rect x="([^"]+)" y="[^"]+" width="(\d+)" height="22" fill/.exec(svg) ?? [];
    expect(Number(x) + Number(width)).toBeLessThanOrEqual(640);
  });

  it('escapes labels, which come from a model package', () => {
    const svg = buildOverlaySvg({ image: { width: 100, height: 100 }, detections: [{ ...detection, label: '<script>&"' }], classifications: [] });
    expect(svg).not.toContain('<script>');
    expect(svg).toContain('&lt;script&gt;&amp;&quot;');
    expect(escapeXml(`a'b`)).toBe('a&apos;b');
  });

  it('lists the top three classifications in the corner', () => {
    const classifications = ['a', 'b', 'c', 'd'].map((label, index) => ({ label, score: 0.9 - index / 10 }));
    const svg = buildOverlaySvg({ image: { width: 224, height: 224 }, detections: [], classifications });
    expect(svg.match(/<text /g)).toHaveLength(3);
    expect(svg).not.toContain('>d 0.60<');
  });

  it('scales line and type with the image: readable on a thumbnail and on a 12-megapixel photo', () => {
    expect(overlayScale(160, 120)).toEqual({ lineWidth: 2, fontSize: 11, labelHeight: 15 });
    expect(overlayScale(640, 424)).toEqual({ lineWidth: 3, fontSize: 16, labelHeight: 22 });
    expect(overlayScale(4000, 3000)).toEqual({ lineWidth: 19, fontSize: 100, labelHeight: 140 });
  });
});

describe('RenderSlots', () => {
  it('runs at most its size at once, the others in arrival order, and frees a slot when a task fails', async () => {
    const slots = new RenderSlots(2);
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const releases: (() => void)[] = [];
    const task = (index: number, fail = false) =>
      slots.run(async () => {
        started.push(index);
        running += 1;
        most = Math.max(most, running);
        await new Promise<void>((resolve) => releases.push(resolve));
        running -= 1;
        if (fail) throw new Error(`task ${index} failed`);
        return index;
      });
    const results = [task(0, true), task(1), task(2), task(3)].map((promise) => promise.then((value) => value, (error: Error) => error.message));
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual([0, 1]);
    for (let round = 0; round < 20 && (releases.length > 0 || started.length < 4); round += 1) {
      releases.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await Promise.all(results)).toEqual(['task 0 failed', 1, 2, 3]);
    expect(started).toEqual([0, 1, 2, 3]);
    expect(most).toBe(2);
  });
});

describe('headerSafe', () => {
  it('keeps printable ASCII and percent-encodes the rest, which Node would refuse in a header', () => {
    expect(headerSafe('yolox-nano 1.0.0')).toBe('yolox-nano 1.0.0');
    expect(headerSafe('détecteur\n')).toBe('d%C3%A9tecteur%0A');
  });
});

import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { jpegHeaderBomb, pngHeaderBomb, webpHeaderBomb } from '../../test/fixtures/image-bombs.js';
import { sniffImageKind } from './decode-image.js';
import { declaredSize } from './image-size.js';

const imagesDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../testdata/images');

describe('declaredSize reads the size a header declares, as sharp does', () => {
  it('on every JPEG and PNG photo in testdata', async () => {
    for (const name of await readdir(imagesDir)) {
      const bytes = await readFile(path.join(imagesDir, name));
      const kind = sniffImageKind(bytes);
      if (kind !== 'jpeg' && kind !== 'png') continue;
      const metadata = await sharp(bytes).metadata();
      expect({ name, ...declaredSize(bytes, kind) }).toEqual({ name, width: metadata.width, height: metadata.height });
    }
  });

  it('on WebP, lossy, lossless and extended, and progressive JPEG', async () => {
    const source = sharp(await readFile(path.join(imagesDir, 'darknet_person.jpg'))).resize(301, 199);
    const cases = [
      ['webp', await source.clone().webp().toBuffer()],
      ['webp', await source.clone().webp({ lossless: true }).toBuffer()],
      ['webp', await source.clone().ensureAlpha(0.5).webp().toBuffer()],
      ['jpeg', await source.clone().jpeg({ progressive: true }).withMetadata({ orientation: 6 }).toBuffer()],
    ] as const;
    for (const [kind, bytes] of cases) expect(declaredSize(bytes, kind)).toEqual({ width: 301, height: 199 });
  });

  it('on the header bombs', async () => {
    expect(declaredSize(await pngHeaderBomb(), 'png')).toEqual({ width: 50_000, height: 50_000 });
    expect(declaredSize(await jpegHeaderBomb(), 'jpeg')).toEqual({ width: 65_000, height: 65_000 });
    expect(declaredSize(await webpHeaderBomb(), 'webp')).toEqual({ width: 16_383, height: 16_383 });
  });

  it('gives up (undefined) on a header it does not know, so that sharp reads it', () => {
    expect(declaredSize(Buffer.from([0xff, 0xd8, 0xff, 0xda, 0, 8, 0, 0, 0, 0, 0, 0]), 'jpeg')).toBeUndefined();
    expect(declaredSize(Buffer.alloc(10), 'png')).toBeUndefined();
  });
});

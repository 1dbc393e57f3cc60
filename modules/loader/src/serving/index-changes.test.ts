import { describe, expect, it } from 'vitest';
import { ServingIndexSchema, type ConfirmedModelPointer, type RichModelMessage } from '@edge-ml/contracts';
import { emptyIndex, legacyPointersOf, servedDefault, withAnnounced, withConfirmed, withDefault, withoutConfirmed, withoutEntry } from './index-changes.js';

const AT = '2026-01-01T00:00:00.000Z';
const LATER = '2026-01-02T00:00:00.000Z';
const message = (name: string, version: string): RichModelMessage => ({
  schemaVersion: 1,
  name,
  version,
  format: 'tflite',
  sha256: version.padStart(64, '0'),
  local_model_path: `models/${name}/${version}/detect.tflite`,
  local_labelmap_path: `models/${name}/${version}/labelmap.txt`,
});
const confirmed = (name: string, version: string, confirmedAt = AT): ConfirmedModelPointer => ({ ...message(name, version), confirmedAt });

describe('serving index changes', () => {
  it('announces a version on trial beside the entry last-known-good, and confirms it', () => {
    const served = withConfirmed(emptyIndex(AT), confirmed('ssd', '1'), AT);
    expect(served.models.ssd).toEqual({ announced: message('ssd', '1'), confirmed: confirmed('ssd', '1') });
    const trial = withAnnounced(served, message('ssd', '2'), LATER);
    expect(trial.models.ssd).toEqual({ announced: message('ssd', '2'), confirmed: confirmed('ssd', '1') });
    expect(trial.updatedAt).toBe(LATER);
    expect(withConfirmed(trial, confirmed('ssd', '2', LATER), LATER).models.ssd).toEqual({ announced: message('ssd', '2'), confirmed: confirmed('ssd', '2', LATER) });
    // A new entry starts with no last-known-good; every change still parses.
    const two = withAnnounced(trial, message('cls', '1'), LATER);
    expect(two.models.cls).toEqual({ announced: message('cls', '1'), confirmed: null });
    expect(ServingIndexSchema.safeParse(two).success).toBe(true);
  });

  it('drops an entry or its last-known-good, and leaves the index as it is when there is nothing to drop', () => {
    const index = withConfirmed(withAnnounced(emptyIndex(AT), message('cls', '1'), AT), confirmed('ssd', '1'), AT);
    expect(Object.keys(withoutEntry(index, 'cls', LATER).models)).toEqual(['ssd']);
    expect(withoutEntry(index, 'nope', LATER)).toBe(index);
    expect(withoutConfirmed(index, 'ssd', LATER).models.ssd).toEqual({ announced: message('ssd', '1'), confirmed: null });
    expect(withoutConfirmed(index, 'cls', LATER)).toBe(index);
    expect(withoutConfirmed(index, 'nope', LATER)).toBe(index);
    expect(withDefault(index, null, LATER)).toBe(index);
    expect(withDefault(index, 'cls', LATER)).toMatchObject({ defaultModel: 'cls', updatedAt: LATER });
  });

  it('defaults to the named model while it is served, else the first served by name', () => {
    const index = withConfirmed(withConfirmed(emptyIndex(AT), confirmed('ssd', '1'), AT), confirmed('cls', '1'), AT);
    expect(servedDefault(index)).toBe('cls');
    expect(servedDefault(withDefault(index, 'ssd', AT))).toBe('ssd');
    expect(servedDefault(withDefault(index, 'yolox', AT))).toBe('cls');
    expect(servedDefault(emptyIndex(AT))).toBeUndefined();
  });
});

describe('legacyPointersOf: the single-model pointers mirrored from the index', () => {
  it('names the default entry', () => {
    const index = withDefault(withAnnounced(withConfirmed(withConfirmed(emptyIndex(AT), confirmed('ssd', '1'), AT), confirmed('cls', '1', LATER), AT), message('ssd', '2'), AT), 'ssd', AT);
    expect(legacyPointersOf(index)).toEqual({ announced: message('ssd', '2'), confirmed: confirmed('ssd', '1') });
  });
  it('keeps the last-known-good that still serves while a new default model is on trial (a change of name)', () => {
    const index = withDefault(withAnnounced(withConfirmed(emptyIndex(AT), confirmed('ssd', '1'), AT), message('yolox', '1'), AT), 'yolox', AT);
    expect(legacyPointersOf(index)).toEqual({ announced: message('yolox', '1'), confirmed: confirmed('ssd', '1') });
  });
  it('falls back to the entry confirmed last when the default is not served, and to nothing when nothing is', () => {
    const index = withConfirmed(withConfirmed(emptyIndex(AT), confirmed('ssd', '1', AT), AT), confirmed('cls', '1', LATER), AT);
    expect(legacyPointersOf(withDefault(index, 'yolox', AT))).toEqual({ announced: message('cls', '1'), confirmed: confirmed('cls', '1', LATER) });
    expect(legacyPointersOf(index)).toEqual({ announced: message('cls', '1'), confirmed: confirmed('cls', '1', LATER) });
    expect(legacyPointersOf(emptyIndex(AT))).toEqual({ announced: undefined, confirmed: undefined });
  });
});

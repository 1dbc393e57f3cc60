import { describe, expect, it } from 'vitest';
import { ModelDescriptorSchema } from '@edge-ml/contracts';
import { describeFindings, missingLabels } from './acceptance.js';
import { toStatusMessage } from './activation-controller.js';
import { BoundedMap } from './outcome-cache.js';

const findings = (detections: [string, number][], classifications: [string, number][] = []) => ({
  detections: detections.map(([label, score]) => ({ label, score })),
  classifications: classifications.map(([label, score]) => ({ label, score })),
});

describe('acceptance checks', () => {
  it('finds labels among detections or classes, with the sample\'s minimum score when it sets one', () => {
    expect(missingLabels({ labels: ['person', 'dog'] }, findings([['person', 0.9], ['dog', 0.4]]))).toEqual([]);
    expect(missingLabels({ labels: ['person', 'dog'], minScore: 0.5 }, findings([['person', 0.9], ['dog', 0.4]]))).toEqual(['dog']);
    expect(missingLabels({ labels: ['tabby'] }, findings([], [['tabby', 0.3]]))).toEqual([]);
    expect(missingLabels({ labels: ['person'] }, findings([]))).toEqual(['person']);
  });

  it('says what the model found instead, best first', () => {
    expect(describeFindings(findings([]))).toBe('it found nothing');
    expect(describeFindings(findings([['cat', 0.5], ['car', 0.7]]))).toBe('it found car 0.70, cat 0.50');
    expect(describeFindings(findings([['a', 0.1], ['b', 0.2], ['c', 0.3]]), 2)).toBe('it found c 0.30, b 0.20, and 1 more');
  });

  it('model.json takes samples inside the package only', () => {
    const parse = (image: string) => ModelDescriptorSchema.safeParse({ acceptance: { samples: [{ image, labels: ['person'] }] } }).success;
    expect(parse('person.jpg')).toBe(true);
    expect(parse('samples/person.jpg')).toBe(true);
    expect(parse('../person.jpg')).toBe(false);
    expect(parse('/etc/passwd')).toBe(false);
    expect(parse('samples/./x.jpg')).toBe(false);
    expect(ModelDescriptorSchema.safeParse({ acceptance: { samples: [] } }).success).toBe(false);
    expect(ModelDescriptorSchema.safeParse({ acceptance: { samples: [{ image: 'a.jpg', labels: [] }] } }).success).toBe(false);
  });
});

describe('status messages', () => {
  const base = { name: 'ssd', version: '2', sha256: 'a'.repeat(64), trigger: 'message' as const, at: '2026-11-30T10:00:00.000Z' };

  it('carries the figures of an accepted attempt and the code of a rejected one', () => {
    expect(toStatusMessage({ ...base, outcome: 'accepted', loadMs: 12, warmupMs: 3, acceptance: { samples: 1, passed: 1 } })).toEqual({
      schemaVersion: 1, ...base, outcome: 'accepted', loadMs: 12, warmupMs: 3, acceptance: { samples: 1, passed: 1 },
    });
    const rejected = toStatusMessage({ ...base, outcome: 'rejected', error: { code: 'MODEL_LOAD_FAILED', message: 'x'.repeat(5_000) } });
    expect(rejected).toMatchObject({ outcome: 'rejected', error: { code: 'MODEL_LOAD_FAILED' } });
    expect(rejected?.outcome === 'rejected' && rejected.error.message.length).toBe(2_000);
  });

  it('is not made for a version it cannot name by hash', () => {
    expect(toStatusMessage({ ...base, sha256: undefined, outcome: 'rejected', error: { code: 'MODEL_FILE_UNREADABLE', message: 'gone' } })).toBeUndefined();
  });
});

describe('BoundedMap', () => {
  it('keeps the most recently written entries only', () => {
    const map = new BoundedMap<string, number>(2);
    map.set('a', 1);
    map.set('b', 2);
    map.set('a', 3);
    map.set('c', 4);
    expect([map.get('a'), map.get('b'), map.get('c'), map.size]).toEqual([3, undefined, 4, 2]);
    expect(() => new BoundedMap(0)).toThrow(RangeError);
  });
});

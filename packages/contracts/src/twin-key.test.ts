import { describe, expect, it } from 'vitest';
import { describeTwinKeyViolation, findTwinKeyViolation, modelNameOfTwinKey, parseLoaderDesired, parseLoaderDesiredStrictly, twinKeyOf, twinKeyProblem } from './index.js';

const SHA = 'a'.repeat(64);
const entry = (version: string) => ({ version, url: 'https://acct.blob.core.windows.net/models/m.zip?sig=x', sha256: SHA });

describe('twinKeyProblem', () => {
  it.each(['ssd.v1', '$version', 'a b', 'a\u0000b', 'tab\there', 'del\u007f', 'c1\u0085', ''])('refuses %j, as IoT Hub does', (key) => {
    expect(twinKeyProblem(key)).toBeDefined();
  });

  it.each(['ssd', 'ssd%2Ev1', 'yolo_x-nano', 'modèle', '#', 'x'.repeat(1024)])('accepts %j', (key) => {
    expect(twinKeyProblem(key)).toBeUndefined();
  });

  it('counts UTF-8 bytes against the 1 KB limit', () => {
    expect(twinKeyProblem('é'.repeat(513))).toBe('must be at most 1024 bytes');
    expect(twinKeyProblem('é'.repeat(512))).toBeUndefined();
  });

  it('says what is wrong in words a user reads', () => {
    expect(['ssd.v1', '$x', 'a b', 'a\nb', ''].map(twinKeyProblem)).toMatchInlineSnapshot(`
      [
        "must not contain "."",
        "must not contain "$"",
        "must not contain a space",
        "must not contain the control character U+000A",
        "must not be empty",
      ]
    `);
  });
});

describe('findTwinKeyViolation', () => {
  it('finds a bad key at any depth, inside arrays too, and names where it is', () => {
    const violation = findTwinKeyViolation({ modelUpdate: { state: 'idle' }, models: { ssd: { state: 'idle' }, 'ssd.v1': { state: 'idle' } } });
    expect(violation).toEqual({ path: ['models'], key: 'ssd.v1', problem: 'must not contain "."' });
    expect(describeTwinKeyViolation(violation!)).toBe('twin key "ssd.v1" at models must not contain "."');
    expect(findTwinKeyViolation({ list: [{ ok: 1 }, { 'not ok': 2 }] })).toMatchObject({ path: ['list'], key: 'not ok' });
  });

  it('passes a document whose keys are all allowed; dots in values are fine', () => {
    expect(findTwinKeyViolation({ models: { 'ssd%2Ev1': { name: 'ssd.v1', installedVersions: ['1.0', '2.0'] } }, defaultModel: 'ssd.v1' })).toBeUndefined();
  });

  it('leaves the hub its own top-level $version and $metadata, and nothing else starting with $', () => {
    expect(findTwinKeyViolation({ $version: 3, $metadata: {}, a: 1 }, { hubMetadata: true })).toBeUndefined();
    expect(findTwinKeyViolation({ $version: 3 })).toMatchObject({ key: '$version' });
    expect(findTwinKeyViolation({ $other: 1 }, { hubMetadata: true })).toMatchObject({ key: '$other' });
    expect(findTwinKeyViolation({ a: { $version: 1 } }, { hubMetadata: true })).toMatchObject({ path: ['a'], key: '$version' });
  });
});

describe('twinKeyOf and modelNameOfTwinKey', () => {
  it('escapes "." (and "%", "$", space, control characters) as %XX, and nothing else', () => {
    expect(twinKeyOf('ssd.v1')).toBe('ssd%2Ev1');
    expect(twinKeyOf('ssd')).toBe('ssd');
    expect(twinKeyOf('yolo_x-nano.2.0')).toBe('yolo_x-nano%2E2%2E0');
    expect(twinKeyOf('100% $ a\tb')).toBe('100%25%20%24%20a%09b');
    expect(twinKeyOf('c1\u0085')).toBe('c1%C2%85');
  });

  it.each(['ssd', 'ssd.v1', '.x.', '%2E', 'a%b', '100% $ a\tb', 'c1\u0085', 'modèle.v2', '...'])('round-trips %j to a key the hub accepts', (name) => {
    const key = twinKeyOf(name);
    expect(twinKeyProblem(key)).toBeUndefined();
    expect(modelNameOfTwinKey(key)).toBe(name);
  });

  it.each([
    ['ssd.v1', 'a key the hub refuses'],
    ['ssd%2ev1', 'lower-case hex'],
    ['ssd%2', 'a cut escape'],
    ['a%zz', 'no hex digits'],
    ['%41', 'an escape of a character that needs none'],
    ['%C2', 'an incomplete UTF-8 sequence'],
  ])('refuses %j (%s): every name has exactly one key', (key) => {
    expect(modelNameOfTwinKey(key)).toBeUndefined();
  });
});

/** The issues parseLoaderDesired throws, as `path: message` lines. */
function desiredIssues(raw: unknown): string[] {
  try {
    parseLoaderDesired(raw);
  } catch (error) {
    return (error as { issues: { path: PropertyKey[]; message: string }[] }).issues.map((issue) => `${issue.path.map(String).join('/')}: ${issue.message}`);
  }
  return [];
}

describe('the desired models map is keyed by twin key', () => {
  it('reads ssd%2Ev1 as the model ssd.v1', () => {
    const desired = parseLoaderDesired({ models: { 'ssd%2Ev1': entry('1'), cls: { ...entry('2'), name: 'cls' } }, defaultModel: 'ssd.v1' });
    expect(desired).toMatchObject({ kind: 'models', defaultModel: 'ssd.v1', models: { 'ssd.v1': { name: 'ssd.v1', version: '1' }, cls: { name: 'cls', version: '2' } } });
  });

  it('takes an entry name equal to the decoded key, and reports another as an invalid entry (its neighbours proceed)', () => {
    expect(parseLoaderDesired({ models: { 'ssd%2Ev1': { ...entry('1'), name: 'ssd.v1' } } })).toMatchObject({ models: { 'ssd.v1': { name: 'ssd.v1' } } });
    expect(parseLoaderDesired({ models: { 'ssd%2Ev1': { ...entry('1'), name: 'ssd' }, cls: entry('2') } })).toMatchObject({ models: { cls: { name: 'cls' } }, invalid: { 'ssd.v1': 'name: must be the model its key names, "ssd.v1" (or left out)' } });
  });

  const invalidKeys = (models: Record<string, unknown>) => {
    const desired = parseLoaderDesired({ models: { ...models, cls: entry('2') } });
    expect(desired).toMatchObject({ models: { cls: { name: 'cls' } } });
    return desired.kind === 'models' ? desired.invalidKeys : undefined;
  };

  it('sets aside a key the hub would refuse with a message that gives the key to write', () => {
    expect(invalidKeys({ 'ssd.v1': entry('1') })).toEqual({ 'ssd.v1': 'is not a twin key (it must not contain "."): write the model name "ssd.v1" as "ssd%2Ev1"' });
  });

  it('sets aside a key that is not canonical, or decodes to a name ModelNameSchema refuses', () => {
    expect(invalidKeys({ 'ssd%2ev1': entry('1') })).toEqual({ 'ssd%2ev1': 'is not the twin key of a model name (escape only "%", ".", "$", space and control characters, as %XX in upper-case hex)' });
    expect(invalidKeys({ 'a%25b': entry('1') })).toEqual({ 'a%25b': 'may contain letters, digits, ".", "_" and "-"' });
    expect(invalidKeys({ '%2Ehidden': entry('1') })).toEqual({ '%2Ehidden': 'must not start or end with "." or a space' });
    // Too many entries, valid or not, still refuse the whole map.
    expect(desiredIssues({ models: Object.fromEntries(Array.from({ length: 17 }, (_, index) => [`m.${index}`, entry('1')])) })).toEqual(['models: at most 16 models']);
  });
});

describe('parseLoaderDesiredStrictly (for tools that write desired properties)', () => {
  it('refuses what the loader would set aside, naming the entry and its field', () => {
    expect(() => parseLoaderDesiredStrictly({ models: { cls: entry('1'), 'ssd%2Ev1': { ...entry('1'), url: 'ftp://x/a.zip' }, 'a.b': entry('1') } })).toThrow(/must not contain/);
    try {
      parseLoaderDesiredStrictly({ models: { cls: entry('1'), 'ssd%2Ev1': { ...entry('1'), url: 'ftp://x/a.zip' } } });
    } catch (error) {
      expect((error as { issues: { path: PropertyKey[]; message: string }[] }).issues.map((issue) => `${issue.path.join('/')}: ${issue.message}`)).toEqual([expect.stringMatching(/^models\/ssd%2Ev1: url: /)]);
    }
    expect(parseLoaderDesiredStrictly({ models: { cls: entry('1') } }).kind).toBe('models');
  });
});

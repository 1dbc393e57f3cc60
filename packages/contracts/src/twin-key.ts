import { z } from 'zod';
import { ModelNameSchema } from './path-segment.js';

/**
 * IoT Hub's rules for the keys of tags, desired and reported properties (learn.microsoft.com/azure/iot-hub/
 * iot-hub-devguide-device-twins): at most 1 KB of UTF-8, and no `.`, `$`, space or control character (C0, DEL, C1).
 * A patch that breaks them is refused whole.
 */
export const MAX_TWIN_KEY_BYTES = 1024;

// eslint-disable-next-line no-control-regex
const FORBIDDEN_IN_TWIN_KEY = /[.$ \u0000-\u001f\u007f-\u009f]/u;
// `%` is escaped too, so that twinKeyOf is reversible for every string.
// eslint-disable-next-line no-control-regex
const ESCAPED_IN_TWIN_KEY = /[%.$ \u0000-\u001f\u007f-\u009f]/gu;

const describeCharacter = (character: string): string =>
  character === ' ' ? 'a space' : /^[.$]$/.test(character) ? `"${character}"` : `the control character U+${character.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/** Why `key` cannot be a key of a twin document, or undefined when it can. */
export function twinKeyProblem(key: string): string | undefined {
  if (key.length === 0) return 'must not be empty';
  const forbidden = FORBIDDEN_IN_TWIN_KEY.exec(key)?.[0];
  if (forbidden !== undefined) return `must not contain ${describeCharacter(forbidden)}`;
  if (new TextEncoder().encode(key).length > MAX_TWIN_KEY_BYTES) return `must be at most ${MAX_TWIN_KEY_BYTES} bytes`;
  return undefined;
}

/** A key of a twin document that breaks the hub's rules: where it is (the keys above it) and why. */
export interface TwinKeyViolation {
  path: string[];
  key: string;
  problem: string;
}

/**
 * The first key of `document` (at any depth, inside arrays too) that IoT Hub would refuse, or undefined. With
 * `hubMetadata`, the top-level `$version` and `$metadata` are the hub's own and not checked.
 */
export function findTwinKeyViolation(document: unknown, options: { hubMetadata?: boolean } = {}, path: string[] = []): TwinKeyViolation | undefined {
  if (Array.isArray(document)) {
    for (const item of document) {
      const found = findTwinKeyViolation(item, {}, path);
      if (found) return found;
    }
    return undefined;
  }
  if (typeof document !== 'object' || document === null) return undefined;
  for (const [key, value] of Object.entries(document)) {
    if (options.hubMetadata && path.length === 0 && (key === '$version' || key === '$metadata')) continue;
    const problem = twinKeyProblem(key);
    if (problem) return { path, key, problem };
    const found = findTwinKeyViolation(value, {}, [...path, key]);
    if (found) return found;
  }
  return undefined;
}

/** One sentence naming a violation, e.g. `twin key "ssd.v1" at models must not contain "."`. */
export const describeTwinKeyViolation = (violation: TwinKeyViolation): string =>
  `twin key ${JSON.stringify(violation.key)}${violation.path.length > 0 ? ` at ${violation.path.join('/')}` : ''} ${violation.problem}`;

const hex = (byte: number): string => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;

/**
 * The key under which a model name (or any string) is written in a twin map such as `models`: `%`, `.`, `$`, space
 * and control characters as `%XX` (upper-case hex of their UTF-8 bytes), everything else as it is. `ssd.v1` is
 * `ssd%2Ev1`; a name without those characters is its own key.
 */
export function twinKeyOf(name: string): string {
  return name.replace(ESCAPED_IN_TWIN_KEY, (character) => [...new TextEncoder().encode(character)].map(hex).join(''));
}

/**
 * The model name a twin key stands for (the inverse of twinKeyOf), or undefined when the key is not the canonical
 * encoding of any name: a key the hub refuses, a `%` not followed by two hex digits, lower-case hex (`%2e`), or an
 * escape of a character that needs none. Every name has exactly one key, so two keys never name one model.
 */
export function modelNameOfTwinKey(key: string): string | undefined {
  if (twinKeyProblem(key) !== undefined) return undefined;
  let name: string;
  try {
    name = key.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => decodeURIComponent(run));
  } catch {
    return undefined;
  }
  return twinKeyOf(name) === key ? name : undefined;
}

/** A key of a twin `models` map: the twin key of a valid model name, parsed to that name. */
export const ModelTwinKeySchema = z
  .string()
  .transform((key, context) => {
    const name = modelNameOfTwinKey(key);
    if (name === undefined) {
      const problem = twinKeyProblem(key);
      context.addIssue({ code: 'custom', message: problem ? `is not a twin key (it ${problem}): write the model name ${JSON.stringify(key)} as ${JSON.stringify(twinKeyOf(key))}` : `is not the twin key of a model name (escape only "%", ".", "$", space and control characters, as %XX in upper-case hex)` });
      return z.NEVER;
    }
    return name;
  })
  .pipe(ModelNameSchema);

import { z } from 'zod';

/** Names Windows reserves whatever the extension (`CON`, `nul.txt`): a share or a copy to such a host must not meet them. */
const RESERVED_DEVICE_NAME = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;

/** Files the model repository keeps in models/, beside the model directories. */
const REPOSITORY_FILES = new Set(['announced.json', 'confirmed.json', 'serving.json']);

/**
 * Why `value` cannot be one segment of a path the loader creates or removes, or undefined when it can. A segment is
 * never empty, `.` or `..`; holds no slash, backslash, NUL or control character; does not start or end with a dot or
 * a space (hidden files; Windows and SMB shares drop trailing ones, so `1.` and `1` would be one directory); is not a
 * device name; and fits `maxLength` UTF-8 bytes.
 */
export function pathSegmentProblem(value: string, maxLength = 255): string | undefined {
  if (value.length === 0) return 'must not be empty';
  if (value === '.' || value === '..') return `must not be "${value}"`;
  if (/[/\\]/.test(value)) return 'must not contain "/" or "\\"';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) return 'must not contain NUL or control characters';
  if (/^[. ]|[. ]$/.test(value)) return 'must not start or end with "." or a space';
  if (RESERVED_DEVICE_NAME.test(value)) return `"${value}" is a reserved device name`;
  if (Buffer.byteLength(value, 'utf8') > maxLength) return `must be at most ${maxLength} bytes`;
  return undefined;
}

/** Whether `value` is safe as one path segment (see pathSegmentProblem). */
export const isSafePathSegment = (value: string, maxLength?: number): boolean => pathSegmentProblem(value, maxLength) === undefined;

/** A string that becomes one directory or file name on shared storage, refused unless pathSegmentProblem finds nothing. */
export function pathSegmentSchema(maxLength = 255) {
  return z.string().superRefine((value, context) => {
    const problem = pathSegmentProblem(value, maxLength);
    if (problem) context.addIssue({ code: 'custom', message: problem });
  });
}

const NAME_CHARACTERS = /^[A-Za-z0-9._-]+$/;
const NAME_CHARACTERS_MESSAGE = 'may contain letters, digits, ".", "_" and "-"';

/** A model's name: models/<name>/ on shared storage. */
export const ModelNameSchema = pathSegmentSchema(128).pipe(
  z
    .string()
    .regex(NAME_CHARACTERS, NAME_CHARACTERS_MESSAGE)
    .refine((value) => !REPOSITORY_FILES.has(value.toLowerCase()), 'is a file name the model repository uses itself'),
);
/** A model's version: models/<name>/<version>/ on shared storage. */
export const ModelVersionSchema = pathSegmentSchema(64).pipe(z.string().regex(NAME_CHARACTERS, NAME_CHARACTERS_MESSAGE));
/** A package or model file name (the seed's FileName); any character a file name may hold, but one plain segment. */
export const PackageFileNameSchema = pathSegmentSchema(255);

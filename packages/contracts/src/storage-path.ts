import { z } from 'zod';

/**
 * A path relative to the shared storage root, as the seed's DLModelOutput message carries it.
 * Absolute paths, drive letters, backslashes and `..` segments are rejected so that no message can point outside the root.
 */
export const StorageRelativePathSchema = z
  .string()
  .min(1)
  .max(1024)
  .refine((value) => !value.includes('\0'), 'must not contain NUL')
  .refine((value) => !value.includes('\\'), 'must use forward slashes')
  .refine((value) => !value.startsWith('/') && !/^[A-Za-z]:/.test(value), 'must be relative to the storage root')
  .refine((value) => value.split('/').every((segment) => segment !== '..'), 'must not contain ".." segments');

import { realpath } from 'node:fs/promises';
import path from 'node:path';

/** Characters that continue a path: a root only matches where none stands right before or after it. */
const PATH_CHARACTER = String.raw`[\w.~+@%-]`;
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Rewrites every absolute path under one of the roots to its path relative to the storage root (the root itself
 * becomes "."), so that a message leaves the device without saying where storage is mounted.
 */
export function relativizeStoragePaths(text: string, roots: readonly string[]): string {
  let result = text;
  // Longest first: a root nested in another (a symlink's target under its own path) must match whole.
  for (const root of [...roots].sort((a, b) => b.length - a.length)) {
    if (root === '' || root === path.sep) continue;
    const escaped = escapeRegExp(root);
    result = result
      .replace(new RegExp(`(?<!${PATH_CHARACTER}|/)${escaped}/+`, 'g'), '')
      .replace(new RegExp(`(?<!${PATH_CHARACTER}|/)${escaped}(?!${PATH_CHARACTER}|/)`, 'g'), '.');
  }
  return result;
}

/** Applies `rewrite` to every string in a JSON-like value (reported properties, a response body). */
export function rewriteStrings<T>(value: T, rewrite: (text: string) => string): T {
  if (typeof value === 'string') return rewrite(value) as T;
  if (Array.isArray(value)) return value.map((item: unknown) => rewriteStrings(item, rewrite)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, rewriteStrings(item, rewrite)])) as T;
  }
  return value;
}

/** The forms the storage root can take in a message: as configured, resolved, and with symlinks followed (when it exists). */
export async function storageRootForms(storageRoot: string): Promise<string[]> {
  const resolved = path.resolve(storageRoot);
  const real = await realpath(resolved).catch(() => resolved);
  return [...new Set([storageRoot.replace(/\/+$/, ''), resolved, real])];
}

/** A function that strips the storage root from a message bound for the outside. */
export async function storagePathRelativizer(storageRoot: string): Promise<(text: string) => string> {
  const roots = await storageRootForms(storageRoot);
  return (text) => relativizeStoragePaths(text, roots);
}

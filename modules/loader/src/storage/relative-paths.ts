import path from 'node:path';

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Rewrites absolute paths under `storageRoot` in a message as paths relative to it, so that nothing leaving the
 * device (reported properties, method answers) tells where the storage is mounted; the root itself becomes ".".
 */
export function withRelativeStoragePaths(message: string, storageRoot: string): string {
  const root = path.resolve(storageRoot);
  if (root === path.parse(root).root) return message;
  const escaped = escapeRegExp(root);
  return message.replace(new RegExp(`${escaped}/`, 'g'), '').replace(new RegExp(`${escaped}(?![\\w.-])`, 'g'), '.');
}

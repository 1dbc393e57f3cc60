import { createHash } from 'node:crypto';
import type { ModelTarget } from './target.js';

/**
 * Identifies a whole desired model: every field the update uses (name, version, URL, hashes, size, delta manifest,
 * file name). A permanent failure holds only for the fingerprint it happened on: correcting any field retries.
 */
export function targetFingerprint(target: ModelTarget): string {
  const fields = Object.entries(target).sort(([a], [b]) => a.localeCompare(b));
  return createHash('sha256').update(JSON.stringify(fields)).digest('hex').slice(0, 24);
}

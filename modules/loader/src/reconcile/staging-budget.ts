import type { ModelRepository } from '../repository/model-repository.js';
import { isResumableStagingEntry } from './executors.js';
import { readDesired } from './target.js';

/** The keys of the targets that desired documents name; a document that does not parse names none. */
export function desiredTargetKeys(documents: (Record<string, unknown> | undefined)[]): string[] {
  return documents.flatMap((document) => {
    if (!document) return [];
    try {
      const { target } = readDesired(document);
      return target ? [target.key] : [];
    } catch {
      return [];
    }
  });
}

/**
 * The staging budget: removes every staging entry (partial downloads with their .json, .patch and .chunks, verified
 * packages, extractions) that belongs to none of `keepKeys`. Run only between steps, when no extraction is in flight.
 */
export function pruneStaging(repository: ModelRepository, keepKeys: string[]): Promise<string[]> {
  return repository.cleanStaging((entry) => isResumableStagingEntry(entry) && keepKeys.some((key) => entry.startsWith(`${key}.`)));
}

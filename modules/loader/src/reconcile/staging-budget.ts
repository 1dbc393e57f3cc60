import type { ModelRepository } from '../repository/model-repository.js';
import { isResumableStagingEntry } from './executors.js';
import { readDesired } from './target.js';

/** The keys of the targets that desired documents name; a document that does not parse names none. */
export function desiredTargetKeys(documents: (Record<string, unknown> | undefined)[]): string[] {
  return documents.flatMap((document) => {
    if (!document) return [];
    try {
      return [...readDesired(document).targets.values()].map((target) => target.key);
    } catch {
      return [];
    }
  });
}

/**
 * The staging budget: removes every staging entry (partial downloads with their .json, .patch and .chunks, verified
 * packages, extractions) that belongs to none of `keepKeys`. While entries run, `keepExtractions` spares extractions
 * in flight (another entry's); at start-up none is.
 */
export function pruneStaging(repository: ModelRepository, keepKeys: string[], options: { keepExtractions?: boolean } = {}): Promise<string[]> {
  return repository.cleanStaging((entry) => (options.keepExtractions === true && entry.endsWith('.extract')) || (isResumableStagingEntry(entry) && keepKeys.some((key) => entry.startsWith(`${key}.`))));
}

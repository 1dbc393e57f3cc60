import type { ModelTarget } from './target.js';

/** What the loader can see on disk about a target; gathered afresh before every planning round. */
export interface Facts {
  /** The installed version of the target exists and is complete. */
  installed: boolean;
  /** The announced pointer names the target's name and version. */
  announced: boolean;
  /** A downloaded, verified package for the target waits in staging. */
  verifiedPackage: boolean;
  /** The target failed in a way only a new desired state can fix. */
  failedPermanently: boolean;
  /** Installed versions beyond the policy's count, besides the announced one. */
  excessVersions: number;
}

export type Step =
  | { action: 'fetch'; target: ModelTarget }
  | { action: 'install'; target: ModelTarget }
  | { action: 'announce'; target: ModelTarget }
  | { action: 'collect-garbage' };

/**
 * The next steps from the facts to the target, in order. Pure: the loop executes the first step and plans again,
 * so a restart after a crash continues from whatever the disk shows.
 */
export function planSteps(target: ModelTarget | undefined, facts: Facts): Step[] {
  if (!target || facts.failedPermanently) return facts.excessVersions > 0 ? [{ action: 'collect-garbage' }] : [];
  if (facts.announced && facts.installed) return facts.excessVersions > 0 ? [{ action: 'collect-garbage' }] : [];
  const steps: Step[] = [];
  if (!facts.installed) {
    if (!facts.verifiedPackage) steps.push({ action: 'fetch', target });
    steps.push({ action: 'install', target });
  }
  steps.push({ action: 'announce', target }, { action: 'collect-garbage' });
  return steps;
}

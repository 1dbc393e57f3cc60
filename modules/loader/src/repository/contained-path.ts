import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { pathSegmentProblem } from '@edge-ml/contracts';
import { InvalidDesiredError } from '../errors.js';

/**
 * `base` joined with `segments`, each of which must be one safe path segment, and the result must lie strictly inside
 * `base`. Whatever a caller hands it (a twin value, a manifest read back from disk), the repository never computes a
 * path it would create, rename or remove outside its own directories.
 */
export function pathInside(base: string, ...segments: string[]): string {
  for (const segment of segments) {
    const problem = pathSegmentProblem(segment);
    if (problem) throw new InvalidDesiredError(`"${segment}" cannot name a directory of the model repository: it ${problem}`);
  }
  const resolved = path.resolve(base, ...segments);
  if (!isStrictlyInside(path.resolve(base), resolved)) throw new InvalidDesiredError(`"${segments.join('/')}" lies outside the model repository`);
  return resolved;
}

function isStrictlyInside(base: string, target: string): boolean {
  const relative = path.relative(base, target);
  return relative !== '' && relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}

/**
 * Throws unless `target`, with every symbolic link in its parent resolved, still lies inside `base`: a link planted in
 * the repository must not turn a rename or removal of "models/<name>/<version>" into one elsewhere. `target` itself
 * may not exist yet; its parent must.
 */
export async function assertRealPathInside(base: string, target: string): Promise<void> {
  const [realBase, realParent] = await Promise.all([realpath(base), realpath(path.dirname(target))]);
  if (!isStrictlyInside(realBase, path.join(realParent, path.basename(target)))) {
    throw new InvalidDesiredError(`"${path.relative(base, target)}" leads outside the model repository through a symbolic link`);
  }
}

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
  const resolvedBase = path.resolve(base);
  const resolved = path.resolve(resolvedBase, ...segments);
  const relative = path.relative(resolvedBase, resolved);
  if (relative === '' || relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative)) {
    throw new InvalidDesiredError(`"${segments.join('/')}" lies outside the model repository`);
  }
  return resolved;
}

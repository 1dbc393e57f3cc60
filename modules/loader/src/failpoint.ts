/** Every failpoint in the loader, in the order an update reaches them. */
export const FAILPOINTS = [
  'download.chunk',
  'download.verified',
  'download.renamed',
  'extract.entry',
  'install.synced',
  'install.renamed',
  'delta.hashes-stored',
  'delta.range-stored',
  'delta.assembled',
  'announce.awaiting-recorded',
  'index.written',
  'announce.pointer-written',
  'announce.sent',
  'confirm.pointer-written',
  'confirm.recorded',
  'reject.recorded',
  'fallback.pointer-written',
  'gc.renamed',
  'removal.unindexed',
] as const;

export type Failpoint = (typeof FAILPOINTS)[number];

const spec = process.env.LOADER_FAILPOINT;
const [armedName, armedCount] = spec ? [spec.split('@')[0], Number(spec.split('@')[1] ?? 1)] : [undefined, 0];
let hits = 0;

/**
 * A named point where crash tests kill the process (SIGKILL, no clean-up), set by LOADER_FAILPOINT=name[@n]:
 * the n-th time the point is reached. Inert, and nearly free, when the variable is unset.
 */
export function failpoint(name: Failpoint): void {
  if (armedName !== name) return;
  hits += 1;
  if (hits === armedCount) process.kill(process.pid, 'SIGKILL');
}


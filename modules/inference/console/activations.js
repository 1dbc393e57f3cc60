// What /v1/models says about recent activations, as one list for the console.

const timeOf = (entry) => entry.at ?? entry.activatedAt ?? entry.finishedAt ?? entry.startedAt;
const same = (a, b) => a.name === b.name && a.version === b.version && a.at === b.at;

/**
 * The recent activations, newest first. `activations` (attempts with `outcome` accepted | rejected, `error.code`,
 * `trigger`, load times) and `lastActivation` come first; swaps in `history` that no accepted attempt covers (a module
 * without attempt reports, or an activation made in-process) are listed as `activated`; `lastError` is folded in as a
 * rejected entry unless an attempt already says so.
 */
export function activationEntries(models) {
  const attempts = (Array.isArray(models.activations) ? models.activations : []).map((entry) => ({ ...entry, at: timeOf(entry) }));
  const last = models.lastActivation;
  if (last && last.name && !attempts.some((entry) => same(entry, { ...last, at: timeOf(last) }))) attempts.push({ ...last, at: timeOf(last) });
  const entries = attempts.map((entry) => ({ ...entry, outcome: entry.outcome ?? (entry.error ? 'rejected' : 'activated') }));
  const accepted = new Set(entries.filter((entry) => entry.outcome !== 'rejected').map((entry) => `${entry.name}@${entry.version}`));
  for (const swap of models.history ?? []) {
    if (!accepted.has(`${swap.name}@${swap.version}`)) entries.push({ ...swap, at: timeOf(swap), outcome: 'activated' });
  }
  const error = models.lastError;
  if (error && !entries.some((entry) => entry.outcome === 'rejected' && entry.name === error.name && entry.version === error.version)) {
    entries.push({ name: error.name, version: error.version, at: error.at, outcome: 'rejected', error: { code: error.code, message: error.message } });
  }
  return entries.sort((a, b) => (Date.parse(b.at) || 0) - (Date.parse(a.at) || 0));
}

// What /v1/models says about recent activations, as one list for the console.

const timeOf = (entry) => entry.at ?? entry.activatedAt ?? entry.finishedAt ?? entry.startedAt;

/**
 * The recent activations, newest first. Entries carry `outcome` (accepted | rejected) and `error.code` where the
 * module reports them (`activations` when the module lists them, else `history`); `lastError` and `lastActivation` are folded in when the history does not already hold them.
 */
export function activationEntries(models) {
  const listed = Array.isArray(models.activations) ? models.activations : (models.history ?? []);
  const entries = listed.map((entry) => ({ ...entry, at: timeOf(entry), outcome: entry.outcome ?? 'activated' }));
  const same = (a, b) => a.name === b.name && a.version === b.version && a.at === b.at;
  const last = models.lastActivation;
  if (last && last.name && !entries.some((entry) => same(entry, { ...last, at: timeOf(last) }))) {
    entries.push({ ...last, at: timeOf(last), outcome: last.outcome ?? (last.error ? 'rejected' : 'activated') });
  }
  const error = models.lastError;
  if (error && !entries.some((entry) => entry.outcome === 'rejected' && entry.name === error.name && entry.version === error.version)) {
    entries.push({ name: error.name, version: error.version, at: error.at, outcome: 'rejected', error: { code: error.code, message: error.message } });
  }
  return entries.sort((a, b) => (Date.parse(b.at) || 0) - (Date.parse(a.at) || 0));
}

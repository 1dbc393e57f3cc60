import { parseArgs } from 'node:util';
import { emulatorCall, emulatorUrl } from '../emulator-client.js';
import { modelStatuses, modelTable } from '../model-status.js';

export const STATUS_HELP = `edge-model status [--emulator-url <url> | --state-dir <dir>] [--json]

The loader's and the inference module's reported properties on the local emulator, as a table. When the device
has several models (the loader's desired or reported \`models\`, the inference module's reported \`models\`), a
second table has one row per model: the version desired, the loader's state, the version it works on and its active
(confirmed) version, what the inference module serves, and the detail (error, progress, removal); * marks the default
model (the one /v1/detect serves). --json prints { loader, inference, models, defaultModel } (the two modules'
reported properties, then the per-model rows).`;

interface Reported {
  modelUpdate?: { state?: string; name?: string; version?: string; bytesDownloaded?: number; bytesTotal?: number; error?: { code: string; message: string } | null; updatedAt?: string };
  activeModel?: { name: string; version: string } | null;
  lastSwapError?: { code: string; message: string; name?: string; version?: string } | null;
  swapCount?: number;
  lastActivation?: { name: string; version: string; outcome: string; error?: { code: string } | null } | null;
}

/**
 * The inference module's detail: the last rejection, else the swap count. After a rejection the loader announces the
 * last-known-good again, whose re-acceptance becomes lastActivation; lastSwapError still names the rejected version.
 */
function inferenceDetail(inference: Reported): string {
  const last = inference.lastActivation;
  if (last?.outcome === 'rejected') return `rejected ${last.name}@${last.version}: ${last.error?.code ?? 'unknown'}`;
  const failed = inference.lastSwapError;
  if (failed) return failed.name ? `rejected ${failed.name}@${failed.version ?? '?'}: ${failed.code}` : `last swap failed: ${failed.code}`;
  return `swaps: ${inference.swapCount ?? 0}`;
}

/** Rows as aligned columns (the last column is not padded). */
function printTable(rows: string[][], print: (line: string) => void): void {
  const columns = Math.max(...rows.map((cells) => cells.length));
  const widths = Array.from({ length: columns - 1 }, (_, column) => Math.max(...rows.map((cells) => (cells[column] ?? '').length)));
  for (const cells of rows) print(cells.map((cell, index) => cell.padEnd(widths[index] ?? 0)).join('  ').trimEnd());
}

export async function statusCommand(argv: string[], print: (line: string) => void): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { 'emulator-url': { type: 'string' }, 'state-dir': { type: 'string' }, json: { type: 'boolean' } } });
  const base = await emulatorUrl({ ...(values['emulator-url'] ? { emulatorUrl: values['emulator-url'] } : {}), ...(values['state-dir'] ? { stateDir: values['state-dir'] } : {}) });
  const loaderTwin = await emulatorCall<{ desired: Record<string, unknown>; reported: Reported }>(base, 'GET', '/twins/loader');
  const loader = loaderTwin.reported;
  const inference = (await emulatorCall<{ reported: Reported }>(base, 'GET', '/twins/inference')).reported;
  const perModel = modelStatuses(loaderTwin.desired, loader as Record<string, unknown>, inference as Record<string, unknown>);
  if (values.json) return print(JSON.stringify({ loader, inference, ...perModel }));
  const update = loader.modelUpdate;
  const progress = update?.bytesTotal ? `${Math.round(((update.bytesDownloaded ?? 0) / update.bytesTotal) * 100)}% of ${update.bytesTotal} bytes` : '';
  const rows = [
    ['MODULE', 'STATE', 'MODEL', 'DETAIL'],
    ['loader', update?.state ?? 'idle', update?.name ? `${update.name}@${update.version}` : '-', update?.error ? `${update.error.code}: ${update.error.message}` : progress || (loader.activeModel ? `active ${loader.activeModel.name}@${loader.activeModel.version}` : '')],
    ['inference', inference.activeModel ? 'serving' : 'no model', inference.activeModel ? `${inference.activeModel.name}@${inference.activeModel.version}` : '-', inferenceDetail(inference)],
  ];
  printTable(rows, print);
  if (perModel.models.length === 0) return;
  print('');
  printTable(modelTable(perModel.models), print);
  print(perModel.defaultModel ? `* default model: ${perModel.defaultModel}` : 'no default model named: /v1/detect serves INFERENCE_DEFAULT_MODEL, else the first model by name');
}

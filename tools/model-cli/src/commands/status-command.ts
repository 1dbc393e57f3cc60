import { parseArgs } from 'node:util';
import { emulatorCall, emulatorUrl } from '../emulator-client.js';

export const STATUS_HELP = `edge-model status [--emulator-url <url> | --state-dir <dir>] [--json]

The loader's and the inference module's reported properties on the local emulator, as a table.`;

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

function row(cells: string[], widths: number[]): string {
  return cells.map((cell, index) => cell.padEnd(widths[index] ?? 0)).join('  ').trimEnd();
}

export async function statusCommand(argv: string[], print: (line: string) => void): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { 'emulator-url': { type: 'string' }, 'state-dir': { type: 'string' }, json: { type: 'boolean' } } });
  const base = await emulatorUrl({ ...(values['emulator-url'] ? { emulatorUrl: values['emulator-url'] } : {}), ...(values['state-dir'] ? { stateDir: values['state-dir'] } : {}) });
  const loader = (await emulatorCall<{ reported: Reported }>(base, 'GET', '/twins/loader')).reported;
  const inference = (await emulatorCall<{ reported: Reported }>(base, 'GET', '/twins/inference')).reported;
  if (values.json) return print(JSON.stringify({ loader, inference }));
  const update = loader.modelUpdate;
  const progress = update?.bytesTotal ? `${Math.round(((update.bytesDownloaded ?? 0) / update.bytesTotal) * 100)}% of ${update.bytesTotal} bytes` : '';
  const rows = [
    ['MODULE', 'STATE', 'MODEL', 'DETAIL'],
    ['loader', update?.state ?? 'idle', update?.name ? `${update.name}@${update.version}` : '-', update?.error ? `${update.error.code}: ${update.error.message}` : progress || (loader.activeModel ? `active ${loader.activeModel.name}@${loader.activeModel.version}` : '')],
    ['inference', inference.activeModel ? 'serving' : 'no model', inference.activeModel ? `${inference.activeModel.name}@${inference.activeModel.version}` : '-', inferenceDetail(inference)],
  ];
  const widths = [0, 1, 2].map((column) => Math.max(...rows.map((cells) => (cells[column] ?? '').length)));
  for (const cells of rows) print(row(cells, widths));
}

import { z } from 'zod';
import { LoaderModelReportSchema, modelNameOfTwinKey, ServedModelReportSchema, type LoaderModelReport, type ServedModelReport } from '@edge-ml/contracts';

/** What status knows about one model: its desired entry, the loader's report and what the inference module serves. */
export interface ModelStatus {
  name: string;
  /** The version the desired models map names; null when the entry is not (or no longer) desired. */
  desiredVersion: string | null;
  /** True for the model /v1/detect serves (the inference module's report, else the desired defaultModel). */
  isDefault: boolean;
  loader: LoaderModelReport | null;
  inference: ServedModelReport | null;
  /** A report that does not match the contract, named so that status shows it instead of failing. */
  unreadable: string[];
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The model name a key of a `models` map stands for (twin keys: `ssd%2Ev1` is ssd.v1); a key that is no name's twin key as it is. */
const nameOfKey = (key: string): string => modelNameOfTwinKey(key) ?? key;

function entriesOf<T>(raw: unknown, schema: z.ZodType<T>, label: string, unreadable: Map<string, string[]>): Map<string, T> {
  const result = new Map<string, T>();
  if (!isObject(raw)) return result;
  for (const [key, value] of Object.entries(raw)) {
    if (value === null) continue;
    const name = nameOfKey(key);
    const parsed = schema.safeParse(value);
    if (parsed.success) result.set(name, parsed.data);
    else unreadable.set(name, [...(unreadable.get(name) ?? []), `${label}: ${parsed.error.issues.map((issue) => `${issue.path.map(String).join('.') || '(entry)'} ${issue.message}`).join('; ')}`]);
  }
  return result;
}

/**
 * Every model named by the loader's desired `models`, the loader's reported `models` or the inference module's
 * reported `models`, by name (the maps' twin keys decoded); empty when none of the three has a models map (a
 * single-model device).
 */
export function modelStatuses(loaderDesired: Record<string, unknown>, loaderReported: Record<string, unknown>, inferenceReported: Record<string, unknown>): { models: ModelStatus[]; defaultModel: string | null } {
  const unreadable = new Map<string, string[]>();
  const loader = entriesOf(loaderReported.models, LoaderModelReportSchema, 'loader report', unreadable);
  // A member reported as null is deleted by the hub's merge patch: read a missing one as null.
  const inference = entriesOf(inferenceReported.models, z.preprocess((value) => (isObject(value) ? { activeModel: null, lastActivation: null, ...value } : value), ServedModelReportSchema), 'inference report', unreadable);
  const desired = new Map(Object.entries(isObject(loaderDesired.models) ? loaderDesired.models : {}).filter(([, entry]) => entry !== null).map(([key, entry]) => [nameOfKey(key), entry]));
  const desiredNames = [...desired.keys()];
  const served = typeof inferenceReported.defaultModel === 'string' ? inferenceReported.defaultModel : undefined;
  // The single rich `model` is the default model of a device that has no models map.
  const single = !isObject(loaderDesired.models) && isObject(loaderDesired.model) && typeof loaderDesired.model.name === 'string' ? loaderDesired.model.name : undefined;
  const defaultModel = served ?? (typeof loaderDesired.defaultModel === 'string' ? loaderDesired.defaultModel : (single ?? null));
  const names = [...new Set([...desiredNames, ...loader.keys(), ...inference.keys(), ...unreadable.keys()])].sort();
  return {
    defaultModel,
    models: names.map((name) => {
      const entry = desired.get(name);
      return {
        name,
        desiredVersion: isObject(entry) && typeof entry.version === 'string' ? entry.version : null,
        isDefault: name === defaultModel,
        loader: loader.get(name) ?? null,
        inference: inference.get(name) ?? null,
        unreadable: unreadable.get(name) ?? [],
      };
    }),
  };
}

/** The loader's detail for one model: its error, else its download progress, else when a removed entry goes. */
function loaderDetail(report: LoaderModelReport | null): string {
  if (!report) return '';
  if (report.error) return `${report.error.code}: ${report.error.message}`;
  if (report.state === 'removed') return report.removeAfter ? `versions deleted after ${report.removeAfter}` : 'removed';
  if (report.bytesTotal) return `${Math.round(((report.bytesDownloaded ?? 0) / report.bytesTotal) * 100)}% of ${report.bytesTotal} bytes`;
  return '';
}

/** What the inference module serves for one model, and its last rejection when the last activation failed. */
function inferenceCell(report: ServedModelReport | null): string {
  if (!report) return '-';
  const serving = report.activeModel ? `serving ${report.activeModel.version}` : 'not serving';
  const last = report.lastActivation;
  return last?.outcome === 'rejected' ? `${serving}, rejected ${last.version}: ${last.error?.code ?? 'unknown'}` : serving;
}

/** The per-model table of `status`: one row per model, the default marked with *. */
export function modelTable(models: ModelStatus[]): string[][] {
  return [
    ['MODEL', 'DESIRED', 'LOADER', 'VERSION', 'ACTIVE', 'INFERENCE', 'DETAIL'],
    ...models.map((model) => [
      `${model.name}${model.isDefault ? ' *' : ''}`,
      model.desiredVersion ?? '-',
      model.loader?.state ?? '-',
      model.loader?.version ?? '-',
      model.loader?.activeVersion?.version ?? '-',
      inferenceCell(model.inference),
      [loaderDetail(model.loader), ...model.unreadable].filter(Boolean).join('; '),
    ]),
  ];
}

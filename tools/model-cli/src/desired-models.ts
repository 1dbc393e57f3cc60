import { modelNameOfTwinKey, twinKeyOf } from '@edge-ml/contracts';
import { CliError } from './cli-error.js';

/** One change to the desired `models` map: put one entry, remove one, set the default (any of them, at least one). */
export interface ModelsChange {
  /** The entry keyed by `name`; null members remove fields an earlier rollout of that entry set. */
  put?: { name: string; entry: Record<string, unknown> };
  remove?: string;
  defaultModel?: string;
}

export interface ModelsPatchPlan {
  /** A merge patch of the loader's desired properties. */
  patch: Record<string, unknown>;
  /** What the user should know about the patch (a conversion, a default that went with its entry). */
  notes: string[];
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The model names of a desired `models` map that are not removed: its keys decoded (a key that is no model's twin key as it is). */
export function desiredModelNames(models: Record<string, unknown>): string[] {
  return Object.keys(models)
    .filter((key) => models[key] !== null)
    .map((key) => modelNameOfTwinKey(key) ?? key);
}

/**
 * The merge patch that applies one change to the desired `models` map and leaves every other entry as it is. The
 * map is keyed by the twin key of each model name (twinKeyOf: `ssd.v1` is `ssd%2Ev1`, a twin key cannot hold `.`).
 * `current` is the twin's desired document when it is known (the local emulator), undefined otherwise (one device
 * through az, a layered deployment). A twin that still names a single `model` is converted: that model becomes an
 * entry and the default model, and `model` is cleared. The seed's flat form cannot be converted (it has no version or
 * SHA-256) and is refused.
 */
export function planModelsPatch(current: Record<string, unknown> | undefined, change: ModelsChange): ModelsPatchPlan {
  const models: Record<string, unknown> = {};
  const patch: Record<string, unknown> = { models };
  const notes: string[] = [];
  if (change.put) models[twinKeyOf(change.put.name)] = change.put.entry;
  if (change.remove) models[twinKeyOf(change.remove)] = null;
  if (change.defaultModel) patch.defaultModel = change.defaultModel;

  if (!current) {
    if (change.put) notes.push('the loader follows the models map once it is set: a single `model` or seed fields on the device are then ignored; roll that model out as an entry too (rollout --models --name <it> …)');
    if (Object.keys(models).length === 0) delete patch.models;
    return { patch, notes };
  }

  let entries: string[];
  let desiredDefault = typeof current.defaultModel === 'string' ? current.defaultModel : undefined;
  if (isObject(current.models)) {
    entries = desiredModelNames(current.models);
  } else if (isObject(current.model) && typeof current.model.name === 'string') {
    const single = current.model;
    const name = single.name as string;
    entries = [name];
    if (change.put?.name !== name && change.remove !== name) models[twinKeyOf(name)] = single;
    patch.model = null;
    if (!change.defaultModel) {
      patch.defaultModel = name;
      desiredDefault = name;
    }
    notes.push(`converted the single desired \`model\` (${name}@${String(single.version)}) to the models map: it stays as the entry ${name}${change.defaultModel ? '' : ', the default model'}`);
  } else if (['FileName', 'DownloadUrl'].some((key) => current[key] !== undefined && current[key] !== null)) {
    throw new CliError(`the loader's desired properties use the seed's flat form (FileName ${String(current.FileName)}), which has no version or SHA-256 to keep as an entry of the models map: roll that model out first with rollout --name <it> --version <v> --url <url> --sha256 <hex>, then add others with --models`);
  } else {
    entries = [];
  }

  if (change.remove && !entries.includes(change.remove)) {
    throw new CliError(`the desired models map has no entry "${change.remove}" (entries: ${entries.length > 0 ? entries.join(', ') : 'none'})`);
  }
  const after = new Set(entries);
  if (change.put) after.add(change.put.name);
  if (change.remove) after.delete(change.remove);
  if (change.defaultModel && !after.has(change.defaultModel)) {
    throw new CliError(`--default ${change.defaultModel} is not an entry of the desired models map (entries: ${after.size > 0 ? [...after].join(', ') : 'none'})`);
  }
  if (change.remove && change.remove === desiredDefault && !change.defaultModel) {
    patch.defaultModel = null;
    notes.push(`${change.remove} was the default model: defaultModel is cleared (the inference module then serves INFERENCE_DEFAULT_MODEL or the first model by name on /v1/detect; set one with --default)`);
  }
  if (Object.keys(models).length === 0) delete patch.models;
  return { patch, notes };
}

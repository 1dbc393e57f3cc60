import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parseLoaderDesiredStrictly, twinKeyOf } from '@edge-ml/contracts';
import { CliError, usageError } from '../cli-error.js';
import { emulatorCall, emulatorUrl } from '../emulator-client.js';
import { applyMergePatch } from '@edge-ml/contracts';
import { desiredModelNames, planModelsPatch, type ModelsChange } from '../desired-models.js';
import { loaderLayeredDeployment } from '../layered-deployment.js';

export const ROLLOUT_HELP = `edge-model rollout --name <model> --version <v> --url <SAS URL> --sha256 <hex> [--size <bytes>] [--keep-versions N]
                   [--delta-url <delta manifest SAS URL, from edge-model delta>]
                   [--models] [--remove <model>] [--default <model>]
                   [--seed --file-name <x.zip> [--md5 <hex|base64>]]
                   (--emulator [--emulator-url <url> | --state-dir <dir>]
                    | --device <id> [--hub <name>]
                    | --layered --target-condition "<condition>" --priority <n> [--id <deployment-id>] [--out <file>])

Builds the loader's desired-property patch (the rich form, or with --seed the seed's FileName/DownloadUrl/ContentMD5)
as a merge patch that replaces the whole desired model: fields not given here (--size, --delta-url, --md5) are removed,
never kept from an earlier rollout, and the other form is cleared. It applies it to the local emulator, prints the az command for one device, or writes a layered deployment that
sets it on every device matching the target condition (az iot edge deployment create --layered).

Several models per device (the desired models map, keyed by model name; a twin key cannot hold ".", so a name with
one is written escaped, ssd.v1 as ssd%2Ev1, which --name, --remove and the table of status do for you):
  --models            --name is one entry of the models map: it is added or replaced, the other entries are kept.
                      Implied by --remove and --default, and on the emulator when its twin already has a models map.
                      On the emulator a twin that still names a single model is converted: that model stays as an
                      entry and becomes the default model (the seed's flat form cannot be converted).
  --remove <model>    removes one entry (the loader unloads it once the others are settled; not with --layered)
  --default <model>   the entry /v1/detect serves (defaultModel; INFERENCE_DEFAULT_MODEL on the device wins)
A layered deployment sets properties.desired.models.<twin key of the name> per entry, so deployments of different
entries combine.`;

type Values = Record<string, string | boolean | undefined>;

const problems = (error: unknown) => {
  const issues = (error as { issues?: { path: PropertyKey[]; message: string }[] }).issues;
  return issues ? issues.map((issue) => `${issue.path.map(String).join('.')}: ${issue.message}`).join('; ') : String(error);
};

function validated(desired: Record<string, unknown>): void {
  try {
    parseLoaderDesiredStrictly(desired);
  } catch (error) {
    throw new CliError(`the desired properties would be rejected by the loader: ${problems(error)}`);
  }
}

/** The rich desired model of --name/--version/--url/…, with null for every field this rollout does not set. */
function richModel(values: Values): Record<string, unknown> {
  if (!values.url) throw usageError(`missing --url\n\n${ROLLOUT_HELP}`);
  if (!values.name || !values.version || !values.sha256) throw usageError(`the rich form needs --name, --version and --sha256\n\n${ROLLOUT_HELP}`);
  return {
    name: values.name,
    version: values.version,
    url: values.url,
    sha256: values.sha256,
    sizeBytes: typeof values.size === 'string' ? Number(values.size) : null,
    md5: null,
    format: null,
    delta: typeof values['delta-url'] === 'string' ? { manifestUrl: values['delta-url'] } : null,
  };
}

/** Today's single-model patch: the rich `model` or the seed's flat fields, each clearing the other. */
function singleModelPatch(values: Values): Record<string, unknown> {
  if (values.seed) {
    if (!values.url) throw usageError(`missing --url\n\n${ROLLOUT_HELP}`);
    if (!values['file-name']) throw usageError('--seed needs --file-name (the seed\'s FileName, e.g. tiny-yolov3.zip)');
    // A merge patch: null removes what an earlier rollout set (the rich `model` would otherwise win over the seed form).
    return { FileName: values['file-name'], DownloadUrl: values.url, ContentMD5: values.md5 ?? null, model: null };
  }
  // The whole desired model is replaced: fields this rollout does not set are removed (null in a merge patch), so
  // that a sizeBytes or delta manifest of an earlier version cannot fail or misdirect this one.
  return { model: richModel(values), FileName: null, DownloadUrl: null, ContentMD5: null };
}

/** The change to the models map the flags ask for; refuses combinations that mean nothing. */
function modelsChange(values: Values): ModelsChange {
  const remove = typeof values.remove === 'string' ? values.remove : undefined;
  const defaultModel = typeof values.default === 'string' ? values.default : undefined;
  if (remove !== undefined && remove === values.name) throw usageError(`--name ${remove} and --remove ${remove}: an entry cannot be set and removed in one rollout`);
  if (remove !== undefined && remove === defaultModel) throw usageError(`--default ${remove} names the entry --remove ${remove} removes`);
  if (!values.name) {
    const stray = ['version', 'url', 'sha256', 'size', 'delta-url', 'md5'].filter((key) => values[key] !== undefined);
    if (stray.length > 0) throw usageError(`--${stray.join(', --')} only go with --name (they describe the entry it sets)`);
    if (values.models) throw usageError('--models needs --name (the entry to add or replace)');
    return { ...(remove ? { remove } : {}), ...(defaultModel ? { defaultModel } : {}) };
  }
  const { name, ...entry } = richModel(values);
  return { put: { name: name as string, entry }, ...(remove ? { remove } : {}), ...(defaultModel ? { defaultModel } : {}) };
}

export async function rolloutCommand(argv: string[], print: (line: string) => void): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      name: { type: 'string' }, version: { type: 'string' }, url: { type: 'string' }, 'delta-url': { type: 'string' }, sha256: { type: 'string' }, size: { type: 'string' }, 'keep-versions': { type: 'string' },
      models: { type: 'boolean' }, remove: { type: 'string' }, default: { type: 'string' },
      seed: { type: 'boolean' }, 'file-name': { type: 'string' }, md5: { type: 'string' },
      emulator: { type: 'boolean' }, 'emulator-url': { type: 'string' }, 'state-dir': { type: 'string' },
      device: { type: 'string' }, hub: { type: 'string' },
      layered: { type: 'boolean' }, 'target-condition': { type: 'string' }, priority: { type: 'string' }, id: { type: 'string' }, out: { type: 'string' },
    },
  });
  const onEmulator = Boolean(values.emulator || values['emulator-url']);
  if (values.layered && values.remove !== undefined) throw usageError('--remove cannot be a layered deployment (a deployment cannot set null): remove the entry with --device or --emulator, or change the deployment that sets it');
  if (values.layered && onEmulator) throw usageError('--layered and --emulator: choose one target');
  const explicitModels = Boolean(values.models || values.remove !== undefined || values.default !== undefined);
  if (values.seed && explicitModels) throw usageError('--seed is the single-model form: it cannot be combined with --models, --remove or --default');
  if (!explicitModels && !values.url && !values.name) throw usageError(`missing --url\n\n${ROLLOUT_HELP}`);

  // On the emulator the twin is known: a twin that already has a models map gets an entry (a single `model` would be ignored).
  const base = onEmulator ? await emulatorUrl({ ...(values['emulator-url'] ? { emulatorUrl: values['emulator-url'] } : {}), ...(values['state-dir'] ? { stateDir: values['state-dir'] } : {}) }) : undefined;
  const current = base ? withoutMetadata((await emulatorCall<{ desired: Record<string, unknown> }>(base, 'GET', '/twins/loader')).desired) : undefined;
  const twinHasModels = current !== undefined && current.models !== undefined && current.models !== null;
  if (values.seed && twinHasModels) throw new CliError('the twin has a models map, which the loader follows before the seed\'s flat form: roll the model out as an entry (--models --name <it> --version <v> --sha256 <hex>)');
  const entryForm = explicitModels || twinHasModels;

  let desired: Record<string, unknown>;
  const notes: string[] = [];
  if (entryForm) {
    const change = modelsChange(values);
    if (!explicitModels) notes.push(`the twin has a models map: set its entry ${String(values.name)} (the others are kept)`);
    const plan = planModelsPatch(current, change);
    desired = plan.patch;
    notes.push(...plan.notes);
  } else {
    desired = singleModelPatch(values);
  }
  if (values['keep-versions']) desired.policy = { keepVersions: Number(values['keep-versions']) };
  // With the twin known, the document the patch leaves is validated whole (entry count, every entry); otherwise the patch.
  validated(current ? applyMergePatch(current, desired) : withoutNulls(desired));

  if (values.layered) {
    if (!values['target-condition'] || values.priority === undefined) throw usageError('--layered needs --target-condition and --priority');
    const slug = (text: string) => text.toLowerCase().replace(/[^a-z0-9-]/g, '-');
    const id = values.id ?? (values.name || values['file-name'] ? `model-${slug(String(values.name ?? values['file-name']))}-${slug(String(values.version ?? 'seed'))}` : `default-model-${slug(String(values.default))}`);
    let deployment;
    try {
      // A layered deployment sets each path it names whole; there is nothing to remove with null.
      deployment = loaderLayeredDeployment({ id, targetCondition: values['target-condition'], priority: Number(values.priority), desired: withoutNulls(desired) });
    } catch (error) {
      throw new CliError(`the layered deployment is invalid: ${problems(error)}`);
    }
    const out = values.out ?? `${id}.layered.json`;
    await writeFile(out, `${JSON.stringify({ content: deployment.content }, null, 2)}\n`);
    for (const note of notes) print(`note: ${note}`);
    print(`wrote ${out}; create it with:`);
    print(`  az iot edge deployment create --layered --hub-name ${values.hub ?? '<hub>'} --deployment-id ${deployment.id} --content ${out} --target-condition "${deployment.targetCondition}" --priority ${deployment.priority}`);
    return;
  }
  if (base && current) {
    const result = await emulatorCall<{ $version: number }>(base, 'PATCH', '/twins/loader/desired', desired);
    print(`set the loader's desired properties on the local emulator ($version ${result.$version})`);
    for (const note of notes) print(`note: ${note}`);
    if (entryForm) print(describeModels(applyMergePatch(current, desired)));
    return;
  }
  const json = JSON.stringify(desired);
  print(json);
  for (const note of notes) print(`# note: ${note}`);
  print(`# apply to one device:`);
  print(`az iot hub module-twin update --hub-name ${values.hub ?? '<hub>'} --device-id ${values.device ?? '<device>'} --module-id loader --desired '${json.replace(/'/g, "'\\''")}'`);
}

/** One line naming the desired entries, their versions and the default, e.g. "desired models: ssd@2 (default), yolox@1". */
export function describeModels(desired: Record<string, unknown>): string {
  const models = (typeof desired.models === 'object' && desired.models !== null ? desired.models : {}) as Record<string, { version?: string } | null>;
  const names = desiredModelNames(models).sort();
  const listed = names.map((name) => `${name}@${models[twinKeyOf(name)]?.version ?? models[name]?.version ?? '?'}${name === desired.defaultModel ? ' (default)' : ''}`);
  return `desired models: ${listed.length > 0 ? listed.join(', ') : 'none'}${typeof desired.defaultModel === 'string' && !names.includes(desired.defaultModel) ? ` (defaultModel ${desired.defaultModel} is not among them)` : ''}`;
}

/** Hub metadata ($version, $metadata) is the hub's, not part of the desired document. */
function withoutMetadata(document: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(document).filter(([key]) => !key.startsWith('$')));
}

/** The document a merge patch leaves when applied to nothing: null members removed, at every level. */
export function withoutNulls(patch: Record<string, unknown>): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) continue;
    result[key] = typeof value === 'object' && !Array.isArray(value) ? withoutNulls(value as Record<string, unknown>) : value;
  }
  return result;
}

import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parseLoaderDesired } from '@edge-ml/contracts';
import { CliError, usageError } from '../cli-error.js';
import { emulatorCall, emulatorUrl } from '../emulator-client.js';
import { loaderLayeredDeployment } from '../layered-deployment.js';

export const ROLLOUT_HELP = `edge-model rollout --name <model> --version <v> --url <SAS URL> --sha256 <hex> [--size <bytes>] [--keep-versions N]
                   [--delta-url <delta manifest SAS URL, from edge-model delta>]
                   [--seed --file-name <x.zip> [--md5 <hex|base64>]]
                   (--emulator [--emulator-url <url> | --state-dir <dir>]
                    | --device <id> [--hub <name>]
                    | --layered --target-condition "<condition>" --priority <n> [--id <deployment-id>] [--out <file>])

Builds the loader's desired-property patch (the rich form, or with --seed the seed's FileName/DownloadUrl/ContentMD5)
as a merge patch that replaces the whole desired model: fields not given here (--size, --delta-url, --md5) are removed,
never kept from an earlier rollout, and the other form is cleared. It applies it to the local emulator, prints the az command for one device, or writes a layered deployment that
sets it on every device matching the target condition (az iot edge deployment create --layered).`;

export async function rolloutCommand(argv: string[], print: (line: string) => void): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      name: { type: 'string' }, version: { type: 'string' }, url: { type: 'string' }, 'delta-url': { type: 'string' }, sha256: { type: 'string' }, size: { type: 'string' }, 'keep-versions': { type: 'string' },
      seed: { type: 'boolean' }, 'file-name': { type: 'string' }, md5: { type: 'string' },
      emulator: { type: 'boolean' }, 'emulator-url': { type: 'string' }, 'state-dir': { type: 'string' },
      device: { type: 'string' }, hub: { type: 'string' },
      layered: { type: 'boolean' }, 'target-condition': { type: 'string' }, priority: { type: 'string' }, id: { type: 'string' }, out: { type: 'string' },
    },
  });
  if (!values.url) throw usageError(`missing --url\n\n${ROLLOUT_HELP}`);
  let desired: Record<string, unknown>;
  if (values.seed) {
    if (!values['file-name']) throw usageError('--seed needs --file-name (the seed\'s FileName, e.g. tiny-yolov3.zip)');
    // A merge patch: null removes what an earlier rollout set (the rich `model` would otherwise win over the seed form).
    desired = { FileName: values['file-name'], DownloadUrl: values.url, ContentMD5: values.md5 ?? null, model: null };
  } else {
    if (!values.name || !values.version || !values.sha256) throw usageError(`the rich form needs --name, --version and --sha256\n\n${ROLLOUT_HELP}`);
    // The whole desired model is replaced: fields this rollout does not set are removed (null in a merge patch), so
    // that a sizeBytes or delta manifest of an earlier version cannot fail or misdirect this one.
    desired = {
      model: {
        name: values.name,
        version: values.version,
        url: values.url,
        sha256: values.sha256,
        sizeBytes: values.size ? Number(values.size) : null,
        md5: null,
        format: null,
        delta: values['delta-url'] ? { manifestUrl: values['delta-url'] } : null,
      },
      FileName: null,
      DownloadUrl: null,
      ContentMD5: null,
    };
  }
  if (values['keep-versions']) desired.policy = { keepVersions: Number(values['keep-versions']) };
  try {
    parseLoaderDesired(withoutNulls(desired));
  } catch (error) {
    const issues = (error as { issues?: { path: PropertyKey[]; message: string }[] }).issues;
    throw new CliError(`the desired properties would be rejected by the loader: ${issues ? issues.map((issue) => `${issue.path.map(String).join('.')}: ${issue.message}`).join('; ') : String(error)}`);
  }

  if (values.layered) {
    if (!values['target-condition'] || values.priority === undefined) throw usageError('--layered needs --target-condition and --priority');
    const id = values.id ?? `model-${String(values.name ?? values['file-name']).toLowerCase().replace(/[^a-z0-9-]/g, '-')}-${String(values.version ?? 'seed').toLowerCase().replace(/[^a-z0-9-]/g, '-')}`;
    let deployment;
    try {
      // A layered deployment sets each top-level section whole; there is nothing to remove with null.
      deployment = loaderLayeredDeployment({ id, targetCondition: values['target-condition'], priority: Number(values.priority), desired: withoutNulls(desired) });
    } catch (error) {
      const issues = (error as { issues?: { path: PropertyKey[]; message: string }[] }).issues;
      throw new CliError(`the layered deployment is invalid: ${issues ? issues.map((issue) => `${issue.path.map(String).join('.')}: ${issue.message}`).join('; ') : String(error)}`);
    }
    const out = values.out ?? `${id}.layered.json`;
    await writeFile(out, `${JSON.stringify({ content: deployment.content }, null, 2)}\n`);
    print(`wrote ${out}; create it with:`);
    print(`  az iot edge deployment create --layered --hub-name ${values.hub ?? '<hub>'} --deployment-id ${deployment.id} --content ${out} --target-condition "${deployment.targetCondition}" --priority ${deployment.priority}`);
    return;
  }
  if (values.emulator || values['emulator-url']) {
    const base = await emulatorUrl({ ...(values['emulator-url'] ? { emulatorUrl: values['emulator-url'] } : {}), ...(values['state-dir'] ? { stateDir: values['state-dir'] } : {}) });
    const result = await emulatorCall<{ $version: number }>(base, 'PATCH', '/twins/loader/desired', desired);
    print(`set the loader's desired properties on the local emulator ($version ${result.$version})`);
    return;
  }
  const json = JSON.stringify(desired);
  print(json);
  print(`# apply to one device:`);
  print(`az iot hub module-twin update --hub-name ${values.hub ?? '<hub>'} --device-id ${values.device ?? '<device>'} --module-id loader --desired '${json.replace(/'/g, "'\\''")}'`);
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

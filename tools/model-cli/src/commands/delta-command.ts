import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DeltaManifestSchema, type DeltaManifest } from '@edge-ml/contracts';
import { createPatch, encodeGroupList } from '@edge-ml/delta';
import { containerClient, readOnlySasUrl, sharedKeyOf, storageFailure } from '../blob-storage.js';
import { CliError, usageError } from '../cli-error.js';
import { readPackage } from '../read-package.js';
import { expiryFrom } from './sas-command.js';

export const DELTA_HELP = `edge-model delta <new-package.zip> --name <model> --version <v> --from <package or model file devices hold>... 
                  (--connection-string <cs> [--container models] [--expires-in 120d] | --url-prefix <https://…/>)
                  [--out <dir>]

Makes a patch from each model devices may hold (a package, or its model file: the sha256 the loader reports as
activeModel.sha256) to the package's model, the model's two-level chunk list (for devices with no patch: they reuse
the chunks they hold and fetch the rest by HTTP Range from the list's blob and the raw model blob), and a delta
manifest listing them. With a connection string, uploads patches and manifest and
prints the manifest's read-only SAS URL, for: edge-model rollout … --delta-url <that URL>. Devices whose model has
no patch, or whose patch does not verify, download the full package. Labels and model.json travel in the manifest
only when they differ from those of a --from package (always when a --from is a bare model file).`;

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

export async function deltaCommand(argv: string[], print: (line: string) => void, warn: (line: string) => void): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { name: { type: 'string' }, version: { type: 'string' }, from: { type: 'string', multiple: true }, 'connection-string': { type: 'string' }, container: { type: 'string' }, 'expires-in': { type: 'string' }, 'url-prefix': { type: 'string' }, out: { type: 'string' } },
  });
  const [packageFile] = positionals;
  if (!packageFile || !values.name || !values.version || !values.from?.length) throw usageError(`missing ${packageFile ? '--name, --version or --from' : 'the package file'}\n\n${DELTA_HELP}`);
  const connectionString = values['connection-string'] ?? process.env.AZURE_STORAGE_CONNECTION_STRING;
  if (!connectionString && !values['url-prefix']) throw usageError('say where patches will live: --connection-string (uploads them) or --url-prefix');
  const { bytes, contents } = await readPackage(packageFile);
  const out = values.out ?? path.dirname(packageFile);
  const base = path.basename(packageFile).replace(/\.zip$/i, '');
  const patches: { name: string; fromSha256: string; bytes: Uint8Array }[] = [];
  // The companion files every --from holds unchanged (name and sha256); a bare model file holds none.
  let unchangedEverywhere: Set<string> | undefined;
  for (const from of values.from) {
    let old: Buffer;
    let held = new Set<string>();
    if (/\.zip$/i.test(from)) {
      const previous = (await readPackage(from)).contents;
      old = previous.model;
      held = new Set(Object.entries(previous.files).map(([name, data]) => `${name}:${sha256(data)}`));
    } else {
      try {
        old = await readFile(from);
      } catch {
        throw new CliError(`cannot read ${from}`);
      }
    }
    unchangedEverywhere = unchangedEverywhere ? new Set([...unchangedEverywhere].filter((key) => held.has(key))) : held;
    const fromSha256 = sha256(old);
    if (fromSha256 === sha256(contents.model)) {
      warn(`${path.basename(from)} is the same model: devices holding it already have this version's model`);
      continue;
    }
    const started = performance.now();
    const patch = createPatch(old, contents.model);
    const name = `${base}.from-${fromSha256.slice(0, 12)}.patch`;
    patches.push({ name, fromSha256, bytes: patch });
    print(`${name}: ${patch.length} bytes from ${path.basename(from)} (${((patch.length / bytes.length) * 100).toFixed(2)}% of the package, ${Math.round(performance.now() - started)} ms)`);
  }
  // For devices whose model has no patch: the chunk list (its block hashes after it in the same blob), and the raw
  // model the missing ranges are fetched from.
  const { blob: chunkBlob, listSizeBytes } = encodeGroupList(contents.model);
  const chunkListName = `${base}.chunks`;
  const rawModelName = `${base}.model`;
  print(`${chunkListName}: a ${listSizeBytes}-byte list (${((listSizeBytes / contents.model.length) * 100).toFixed(2)}% of the model), then ${chunkBlob.length - listSizeBytes} bytes of block hashes devices fetch by range where they lack groups`);
  const container = connectionString ? containerClient({ connectionString, ...(values.container ? { container: values.container } : {}) }) : undefined;
  const expiresOn = expiryFrom(values);
  const urlOf = (name: string) => (container && connectionString ? readOnlySasUrl(container, name, sharedKeyOf(connectionString), expiresOn) : `${values['url-prefix']}${name}`);
  const carried = Object.keys(contents.files).filter((name) => !unchangedEverywhere?.has(`${name}:${sha256(contents.files[name] ?? Buffer.alloc(0))}`));
  const files = Object.fromEntries(
    Object.entries(contents.files).map(([name, data]) => [name, { sha256: sha256(data), sizeBytes: data.length, ...(carried.includes(name) ? { base64: data.toString('base64') } : {}) }]),
  );
  const manifest: DeltaManifest = DeltaManifestSchema.parse({
    schemaVersion: 2,
    name: values.name,
    version: values.version,
    package: { sha256: sha256(bytes), sizeBytes: bytes.length },
    model: { file: contents.modelFile, format: contents.format, sha256: sha256(contents.model), sizeBytes: contents.model.length },
    files,
    patches: patches.map((patch) => ({ fromSha256: patch.fromSha256, url: urlOf(patch.name), sha256: sha256(patch.bytes), sizeBytes: patch.bytes.length })),
    chunks: { listUrl: urlOf(chunkListName), listSha256: sha256(chunkBlob.subarray(0, listSizeBytes)), listSizeBytes, modelUrl: urlOf(rawModelName) },
  });
  print(`companion files in the manifest: ${carried.length > 0 ? carried.join(', ') : 'none (unchanged in every --from package)'}`);
  const manifestName = `${base}.delta.json`;
  await mkdir(out, { recursive: true });
  for (const patch of patches) await writeFile(path.join(out, patch.name), patch.bytes);
  await writeFile(path.join(out, chunkListName), chunkBlob);
  await writeFile(path.join(out, rawModelName), contents.model);
  // The same compact bytes as the upload: devices fetch this file over the link it is meant to spare.
  await writeFile(path.join(out, manifestName), JSON.stringify(manifest));
  if (!container || !connectionString) {
    print(`wrote ${manifestName}, ${patches.length} patches, ${chunkListName} and ${rawModelName} to ${out}; upload them so that ${values['url-prefix']} serves them`);
    return;
  }
  try {
    await container.createIfNotExists();
    for (const patch of patches) await container.getBlockBlobClient(patch.name).uploadData(Buffer.from(patch.bytes));
    await container.getBlockBlobClient(chunkListName).uploadData(Buffer.from(chunkBlob));
    await container.getBlockBlobClient(rawModelName).uploadData(contents.model);
    await container.getBlockBlobClient(manifestName).uploadData(Buffer.from(JSON.stringify(manifest)), { blobHTTPHeaders: { blobContentType: 'application/json' } });
  } catch (error) {
    throw storageFailure(error, 'uploading the delta');
  }
  print(`uploaded ${manifestName}, ${patches.length} patches, the chunk list and the raw model; delta manifest URL:`);
  print(urlOf(manifestName));
}

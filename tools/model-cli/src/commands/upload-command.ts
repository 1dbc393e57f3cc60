import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { containerClient, storageFailure } from '../blob-storage.js';
import { CliError, usageError } from '../cli-error.js';
import { progressReporter } from '../progress.js';

export const UPLOAD_HELP = `edge-model upload <package> [--name <blob>] (--connection-string <cs> [--container models] | --container-url <url?SAS>)

Uploads a package to Blob Storage (Azurite locally). Idempotent: a blob that already holds the same content (by its
sha256 metadata) is not uploaded again. AZURE_STORAGE_CONNECTION_STRING is used when no target is given.`;

export async function uploadCommand(argv: string[], print: (line: string) => void): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { name: { type: 'string' }, 'connection-string': { type: 'string' }, container: { type: 'string' }, 'container-url': { type: 'string' }, json: { type: 'boolean' } } });
  const [file] = positionals;
  if (!file) throw usageError(`missing the package file\n\n${UPLOAD_HELP}`);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch {
    throw new CliError(`cannot read ${file}`);
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const container = containerClient({
    ...(values['connection-string'] ?? process.env.AZURE_STORAGE_CONNECTION_STRING ? { connectionString: values['connection-string'] ?? process.env.AZURE_STORAGE_CONNECTION_STRING } : {}),
    ...(values['container-url'] ? { containerUrl: values['container-url'] } : {}),
    ...(values.container ? { container: values.container } : {}),
  });
  const name = values.name ?? path.basename(file);
  const blob = container.getBlockBlobClient(name);
  try {
    if (!values['container-url']) await container.createIfNotExists();
    const existing = await blob.getProperties().catch((error: { statusCode?: number }) => {
      if (error.statusCode === 404) return undefined;
      throw error;
    });
    const uploaded = existing?.metadata?.sha256 !== sha256;
    if (uploaded) {
      const report = progressReporter(bytes.length);
      await blob.uploadData(bytes, { metadata: { sha256 }, blobHTTPHeaders: { blobContentType: 'application/octet-stream' }, onProgress: (event) => report(event.loadedBytes) });
    }
    const result = { blob: blob.url, name, sizeBytes: bytes.length, sha256, uploaded };
    if (values.json) return print(JSON.stringify(result));
    print(uploaded ? `uploaded ${name} (${bytes.length} bytes, sha256 ${sha256})` : `${name} already holds this content (sha256 ${sha256}): not uploaded again`);
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw storageFailure(error, `uploading ${name}`);
  }
}

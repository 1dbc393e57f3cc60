import { BlobServiceClient, ContainerClient, StorageSharedKeyCredential, BlobSASPermissions, generateBlobSASQueryParameters } from '@azure/storage-blob';
import { CliError } from './cli-error.js';

/** A few quick retries: a person is waiting, and an unreachable account should say so in seconds. */
const RETRIES = { maxTries: 3, retryDelayInMs: 300, maxRetryDelayInMs: 2_000 };

export interface StorageTarget {
  connectionString?: string;
  /** A container URL with a SAS that allows write (and read for idempotence checks). */
  containerUrl?: string;
  container?: string;
}

export function containerClient(target: StorageTarget): ContainerClient {
  if (target.containerUrl) {
    try {
      return new ContainerClient(target.containerUrl, undefined, { retryOptions: RETRIES });
    } catch {
      throw new CliError('--container-url is not a valid container URL');
    }
  }
  if (target.connectionString) {
    try {
      return BlobServiceClient.fromConnectionString(target.connectionString, { retryOptions: RETRIES }).getContainerClient(target.container ?? 'models');
    } catch {
      throw new CliError('the storage connection string is not valid');
    }
  }
  throw new CliError('say where to upload: --connection-string (or AZURE_STORAGE_CONNECTION_STRING) or --container-url');
}

/** Turns the storage SDK's errors into one line a user can act on. */
export function storageFailure(error: unknown, action: string): CliError {
  const status = (error as { statusCode?: number }).statusCode;
  const code = (error as { code?: string }).code;
  if (status === 403) return new CliError(`${action}: Blob Storage refused the credentials (expired SAS or wrong key)`);
  if (status === 404) return new CliError(`${action}: the container or blob does not exist`);
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'REQUEST_SEND_ERROR') return new CliError(`${action}: Blob Storage is unreachable (${code})`);
  return new CliError(`${action}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
}

/** The account's shared key, which only a connection string carries: needed to sign SAS tokens. */
export function sharedKeyOf(connectionString: string): StorageSharedKeyCredential {
  const fields = Object.fromEntries(connectionString.split(';').filter(Boolean).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
  if (!fields.AccountName || !fields.AccountKey) throw new CliError('making a SAS needs a connection string with AccountName and AccountKey');
  return new StorageSharedKeyCredential(fields.AccountName, fields.AccountKey);
}

export function readOnlySasUrl(container: ContainerClient, blobName: string, credential: StorageSharedKeyCredential, expiresOn: Date, startsOn = new Date(Date.now() - 15 * 60_000)): string {
  const sas = generateBlobSASQueryParameters({ containerName: container.containerName, blobName, permissions: BlobSASPermissions.parse('r'), startsOn, expiresOn }, credential).toString();
  return `${container.getBlockBlobClient(blobName).url}?${sas}`;
}

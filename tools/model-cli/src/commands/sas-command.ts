import { parseArgs } from 'node:util';
import { containerClient, readOnlySasUrl, sharedKeyOf, storageFailure } from '../blob-storage.js';
import { CliError, usageError } from '../cli-error.js';

export const SAS_HELP = `edge-model sas <blob> --connection-string <cs> [--container models] [--expires-in 90d | --expires-on <ISO date>]

Prints a read-only SAS URL for a blob. Devices behind intermittent links may stay offline for weeks: the expiry should
cover the longest outage plus the download time; a warning is printed below 30 days.`;

const DURATION = /^(\d+)([dh])$/;

export function expiryFrom(values: { 'expires-in'?: string; 'expires-on'?: string }, now = Date.now()): Date {
  if (values['expires-on']) {
    const date = new Date(values['expires-on']);
    if (Number.isNaN(date.getTime())) throw usageError(`--expires-on ${values['expires-on']} is not a date`);
    return date;
  }
  const match = DURATION.exec(values['expires-in'] ?? '90d');
  if (!match?.[1]) throw usageError(`--expires-in takes days or hours, like 90d or 12h`);
  return new Date(now + Number(match[1]) * (match[2] === 'd' ? 86_400_000 : 3_600_000));
}

export async function sasCommand(argv: string[], print: (line: string) => void, warn: (line: string) => void): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { 'connection-string': { type: 'string' }, container: { type: 'string' }, 'expires-in': { type: 'string' }, 'expires-on': { type: 'string' } } });
  const [name] = positionals;
  const connectionString = values['connection-string'] ?? process.env.AZURE_STORAGE_CONNECTION_STRING;
  if (!name) throw usageError(`missing the blob name\n\n${SAS_HELP}`);
  if (!connectionString) throw usageError('a SAS is signed with the account key: pass --connection-string (or AZURE_STORAGE_CONNECTION_STRING)');
  const expiresOn = expiryFrom(values);
  const days = (expiresOn.getTime() - Date.now()) / 86_400_000;
  if (days <= 0) throw new CliError(`the expiry ${expiresOn.toISOString()} is in the past`);
  if (days < 30) warn(`warning: the SAS expires in ${days.toFixed(1)} days; a device offline longer cannot download the model until it gets a new URL`);
  const container = containerClient({ connectionString, ...(values.container ? { container: values.container } : {}) });
  try {
    await container.getBlockBlobClient(name).getProperties();
  } catch (error) {
    throw storageFailure(error, `checking ${name}`);
  }
  print(readOnlySasUrl(container, name, sharedKeyOf(connectionString), expiresOn));
}

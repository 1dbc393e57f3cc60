import { readFileSync } from 'node:fs';
import path from 'node:path';

/** Written by `npm start` (tools/local-run): the running local system's Azurite and emulator, as KEY=value lines. */
export const LOCAL_ENVIRONMENT_FILE = path.join('.local-run', 'local.env');

/** Parses KEY=value lines as a shell would source them here: # comments skipped, one pair of quotes removed. */
export function parseEnvironmentFile(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!match?.[1] || line.trimStart().startsWith('#')) continue;
    const raw = (match[2] ?? '').trim();
    values[match[1]] = /^'[^']*'$|^"[^"]*"$/.test(raw) ? raw.slice(1, -1) : raw;
  }
  return values;
}

/**
 * The local system's storage connection string when the user gave none: `npm run model` next to a running `npm start`
 * then works with no flags. Returns undefined when a connection string is set or no local system wrote the file.
 */
export function localConnectionString(directory: string, environment: NodeJS.ProcessEnv): string | undefined {
  if (environment.AZURE_STORAGE_CONNECTION_STRING !== undefined) return undefined;
  try {
    return parseEnvironmentFile(readFileSync(path.join(directory, LOCAL_ENVIRONMENT_FILE), 'utf8')).AZURE_STORAGE_CONNECTION_STRING || undefined;
  } catch {
    return undefined;
  }
}

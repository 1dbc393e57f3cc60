import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CliError } from './cli-error.js';

/** The local edgeHub emulator's control URL, from --emulator-url or the state file `start` wrote. */
export async function emulatorUrl(options: { emulatorUrl?: string; stateDir?: string }): Promise<string> {
  if (options.emulatorUrl) return options.emulatorUrl;
  const file = path.join(options.stateDir ?? '.local-run/emulator', 'emulator.json');
  try {
    return (JSON.parse(await readFile(file, 'utf8')) as { controlUrl: string }).controlUrl;
  } catch {
    throw new CliError(`no local edgeHub emulator found (${file}): start one (npm start) or pass --emulator-url`);
  }
}

export async function emulatorCall<T>(base: string, method: string, route: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${base}${route}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
  } catch {
    throw new CliError(`the edgeHub emulator does not answer at ${base}`);
  }
  if (!response.ok) throw new CliError(`the emulator answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as T;
}

#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { CliError } from './cli-error.js';
import { DELTA_HELP, deltaCommand } from './commands/delta-command.js';
import { PACKAGE_HELP, packageCommand } from './commands/package-command.js';
import { ROLLOUT_HELP, rolloutCommand } from './commands/rollout-command.js';
import { SAS_HELP, sasCommand } from './commands/sas-command.js';
import { STATUS_HELP, statusCommand } from './commands/status-command.js';
import { UPLOAD_HELP, uploadCommand } from './commands/upload-command.js';
import { LOCAL_ENVIRONMENT_FILE, localConnectionString } from './local-environment.js';

const HELP = `edge-model: package, upload and roll out models to one device or a fleet

Commands:
  package   check a model and write a package (zip or raw); prints size, sha256, MD5
  upload    upload a package to Blob Storage (idempotent)
  sas       make a read-only SAS URL sized for devices that stay offline
  delta     patches from the model files devices hold, and a delta manifest (only the changed bytes cross the link)
  rollout   set the loader's desired properties: local emulator, one device (az), or a fleet (layered deployment);
            --models/--remove/--default change one entry of the models map (several models per device)
  status    the loader's and inference module's reported properties on the local emulator, per model

edge-model <command> --help for its options; edge-model --version prints the version.
Exit codes: 0 success, 1 failure, 2 usage error.`;

const HELPS: Record<string, string> = { delta: DELTA_HELP, package: PACKAGE_HELP, upload: UPLOAD_HELP, sas: SAS_HELP, rollout: ROLLOUT_HELP, status: STATUS_HELP };

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const print = (line: string) => console.log(line);
  const warn = (line: string) => console.error(line);
  if (!command || command === '--help' || command === '-h') return print(HELP);
  if (command === '--version') return print((JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version);
  if (rest.includes('--help') || rest.includes('-h')) {
    const help = HELPS[command];
    if (!help) throw new CliError(`unknown command "${command}"\n\n${HELP}`, 2);
    return print(help);
  }
  const local = ['upload', 'sas', 'delta'].includes(command) && !rest.includes('--connection-string') ? localConnectionString(process.cwd(), process.env) : undefined;
  if (local) {
    warn(`using the local system's Azurite (${LOCAL_ENVIRONMENT_FILE}, written by npm start)`);
    process.env.AZURE_STORAGE_CONNECTION_STRING = local;
  }
  switch (command) {
    case 'package':
      return packageCommand(rest, print);
    case 'upload':
      return uploadCommand(rest, print);
    case 'sas':
      return sasCommand(rest, print, warn);
    case 'delta':
      return deltaCommand(rest, print, warn);
    case 'rollout':
      return rolloutCommand(rest, print);
    case 'status':
      return statusCommand(rest, print);
    default:
      throw new CliError(`unknown command "${command}"\n\n${HELP}`, 2);
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: unknown) => {
    if (error instanceof CliError) {
      console.error(`edge-model: ${error.message}`);
      process.exit(error.exitCode);
    }
    // parseArgs reports unknown options as TypeErrors with a code: still the user's mistake.
    const code = (error as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      console.error(`edge-model: ${(error as Error).message}`);
      process.exit(2);
    }
    console.error(`edge-model: unexpected failure: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);

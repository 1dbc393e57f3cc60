#!/usr/bin/env node
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createLogger } from '@edge-ml/edge-kit';
import { runEmulator, STATE_FILE, type EmulatorState } from './run-emulator.js';

const HELP = `edgehub-emulator: a local edgeHub and workload API for running IoT Edge modules without Docker or Azure

Usage:
  edgehub-emulator start [--deployment deployment.template.json] [--state-dir .local-run/emulator]
                         [--mqtt-port N] [--control-port N] [--workload-socket]
  edgehub-emulator desired <module> <json | @file>     merge-patch a module's desired properties
  edgehub-emulator twin <module>                       print a module twin
  edgehub-emulator upstream                            print messages routed to $upstream
  edgehub-emulator invoke <module> <method> [json]     call a direct method
  edgehub-emulator send <module> <input> <file | ->    put a file's bytes (or stdin) into a module input, as a route
                                                       would (at most 256 KiB, edgeHub's message limit)
  edgehub-emulator fault --drop-twin-responses N       ignore the next N twin requests
  edgehub-emulator restart [--no-sessions] [--outage-ms N]
  edgehub-emulator status
  edgehub-emulator --version

Commands other than start find the emulator through <state-dir>/${STATE_FILE} (or --control-url).
Each module's IOTEDGE_* environment is written to <state-dir>/<module>.env by start.`;

class UsageError extends Error {}

async function controlUrl(values: { 'state-dir'?: string; 'control-url'?: string }): Promise<string> {
  if (values['control-url']) return values['control-url'];
  const file = path.join(values['state-dir'] ?? '.local-run/emulator', STATE_FILE);
  try {
    return (JSON.parse(await readFile(file, 'utf8')) as EmulatorState).controlUrl;
  } catch {
    throw new UsageError(`no running emulator found (${file} is missing): run "edgehub-emulator start" first or pass --control-url`);
  }
}

async function call(url: string, method: string, body?: unknown): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
  } catch {
    throw new UsageError(`the emulator does not answer at ${url}`);
  }
  const result = (await response.json()) as unknown;
  if (!response.ok) throw new UsageError(`${response.status}: ${JSON.stringify(result)}`);
  return result;
}

async function jsonArgument(text: string | undefined): Promise<unknown> {
  if (text === undefined) return undefined;
  const source = text.startsWith('@') ? await readFile(text.slice(1), 'utf8') : text;
  try {
    return JSON.parse(source);
  } catch {
    throw new UsageError(`not valid JSON: ${source.slice(0, 80)}`);
  }
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** JSON for .json files and stdin (DLModelOutput bodies), image types by extension, else bytes. */
function contentTypeOf(file: string): string {
  const extension = path.extname(file).toLowerCase();
  if (file === '-' || extension === '.json') return 'application/json';
  return { '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png', '.bmp': 'image/bmp', '.webp': 'image/webp' }[extension] ?? 'application/octet-stream';
}

function toolVersion(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      deployment: { type: 'string' },
      'state-dir': { type: 'string' },
      'control-url': { type: 'string' },
      'mqtt-port': { type: 'string' },
      'control-port': { type: 'string' },
      'workload-socket': { type: 'boolean' },
      'drop-twin-responses': { type: 'string' },
      'no-sessions': { type: 'boolean' },
      'outage-ms': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.version) {
    console.log(toolVersion());
    return;
  }
  if (values.help || !command) {
    console.log(HELP);
    return;
  }
  const print = (value: unknown) => console.log(JSON.stringify(value, null, 2));
  switch (command) {
    case 'start': {
      const logger = createLogger({ name: 'edgehub-emulator', level: process.env.LOG_LEVEL ?? 'info' });
      const running = await runEmulator({
        deploymentPath: values.deployment ?? 'deployment.template.json',
        stateDirectory: values['state-dir'] ?? '.local-run/emulator',
        logger,
        ...(values['mqtt-port'] ? { mqttPort: Number(values['mqtt-port']) } : {}),
        ...(values['control-port'] ? { controlPort: Number(values['control-port']) } : {}),
        ...(values['workload-socket'] ? { workloadSocket: true } : {}),
      });
      const stop = () => void running.stop().then(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      return;
    }
    case 'desired': {
      const [module, json] = rest;
      if (!module || !json) throw new UsageError('usage: edgehub-emulator desired <module> <json | @file>');
      return print(await call(`${await controlUrl(values)}/twins/${encodeURIComponent(module)}/desired`, 'PATCH', await jsonArgument(json)));
    }
    case 'twin': {
      if (!rest[0]) throw new UsageError('usage: edgehub-emulator twin <module>');
      return print(await call(`${await controlUrl(values)}/twins/${encodeURIComponent(rest[0])}`, 'GET'));
    }
    case 'upstream':
      return print(await call(`${await controlUrl(values)}/upstream`, 'GET'));
    case 'invoke': {
      const [module, method, json] = rest;
      if (!module || !method) throw new UsageError('usage: edgehub-emulator invoke <module> <method> [json]');
      return print(await call(`${await controlUrl(values)}/methods/${encodeURIComponent(module)}/${encodeURIComponent(method)}`, 'POST', { payload: await jsonArgument(json) }));
    }
    case 'send': {
      const [module, input, file] = rest;
      if (!module || !input || !file) throw new UsageError('usage: edgehub-emulator send <module> <input> <file | ->');
      const body = file === '-' ? await readStdin() : await readFile(file);
      const response = await fetch(`${await controlUrl(values)}/inputs/${encodeURIComponent(module)}/${encodeURIComponent(input)}`, {
        method: 'POST',
        body,
        headers: { 'content-type': contentTypeOf(file) },
      });
      const answer = (await response.json()) as unknown;
      if (!response.ok) throw new Error(`the emulator refused the message: ${JSON.stringify(answer)}`);
      return print(answer);
    }
    case 'fault':
      return print(await call(`${await controlUrl(values)}/faults`, 'POST', { dropTwinResponses: Number(values['drop-twin-responses'] ?? 0) }));
    case 'restart':
      return print(await call(`${await controlUrl(values)}/restart`, 'POST', { keepSessions: !values['no-sessions'], ...(values['outage-ms'] ? { outageMs: Number(values['outage-ms']) } : {}) }));
    case 'status':
      return print(await call(`${await controlUrl(values)}/status`, 'GET'));
    default:
      throw new UsageError(`unknown command "${command}"\n\n${HELP}`);
  }
}

/** parseArgs reports unknown options and missing values as errors with an ERR_PARSE_ARGS code: the user's mistake. */
const isUsageError = (error: unknown) => error instanceof UsageError || String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS');

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(isUsageError(error) || error instanceof TypeError ? `edgehub-emulator: ${(error as Error).message}` : error);
  process.exit(isUsageError(error) ? 2 : 1);
});

import { parseArgs } from 'node:util';

export const START_USAGE = `Usage: npm start [-- options]

Builds the workspace and runs the whole system locally (the edgeHub emulator, Azurite as Blob Storage, the loader and
the inference module as processes), publishes the bundled YOLOX-nano package and shows it detecting objects.

Options:
  --once         exit after the demo detection (the default keeps everything running until Ctrl-C)
  --port <n>     the inference API's port (default: INFERENCE_PORT, else 8080)
  --verbose      show every log line (the default hides request and progress lines)
  -h, --help     print this text
`;

export type StartArguments = { kind: 'run'; once: boolean; port: number; verbose: boolean } | { kind: 'help' } | { kind: 'invalid'; message: string };

/** Reads `npm start`'s options; an unknown option or a port that is not one is `invalid`, with a message for the user. */
export function parseStartArguments(args: string[], environment: Record<string, string | undefined> = {}): StartArguments {
  let values: { once?: boolean; port?: string; verbose?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({ args, options: { once: { type: 'boolean' }, port: { type: 'string' }, verbose: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (error) {
    return { kind: 'invalid', message: error instanceof Error ? error.message : String(error) };
  }
  if (values.help) return { kind: 'help' };
  const portText = values.port ?? environment.INFERENCE_PORT ?? '8080';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65_535) return { kind: 'invalid', message: `--port must be a TCP port (1–65535), not "${portText}"` };
  return { kind: 'run', once: values.once === true, port, verbose: values.verbose === true };
}

import { describe, expect, it } from 'vitest';
import { parseStartArguments, START_USAGE } from './start-arguments.js';

describe("npm start's options", () => {
  it('prints the usage for --help and -h instead of starting anything', () => {
    expect(parseStartArguments(['--help'])).toEqual({ kind: 'help' });
    expect(parseStartArguments(['-h', '--once'])).toEqual({ kind: 'help' });
    expect(START_USAGE).toMatch(/^Usage: npm start/);
    for (const option of ['--once', '--port', '--verbose', '--help']) expect(START_USAGE).toContain(option);
  });

  it('reads --once, --port and --verbose, the port falling back to INFERENCE_PORT, then 8080', () => {
    expect(parseStartArguments([])).toEqual({ kind: 'run', once: false, port: 8080, verbose: false });
    expect(parseStartArguments(['--once', '--port', '9000', '--verbose'])).toEqual({ kind: 'run', once: true, port: 9000, verbose: true });
    expect(parseStartArguments([], { INFERENCE_PORT: '8181' })).toMatchObject({ port: 8181 });
  });

  it('answers an unknown option or a port that is none with a message, not a stack trace', () => {
    expect(parseStartArguments(['--frobnicate'])).toEqual({ kind: 'invalid', message: expect.stringContaining("Unknown option '--frobnicate'") });
    expect(parseStartArguments(['--port', 'http'])).toEqual({ kind: 'invalid', message: '--port must be a TCP port (1–65535), not "http"' });
    expect(parseStartArguments(['--port', '70000'])).toMatchObject({ kind: 'invalid' });
  });
});

import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tools = { 'model-cli': 'edge-model', 'edge-manifest': 'edge-manifest', 'edgehub-emulator': 'edgehub-emulator' } as const;

/** Runs a tool through the launcher behind `npm run model|manifest|emulator`, as a user's shell would. */
function runTool(tool: keyof typeof tools, args: string[]) {
  const result = spawnSync(process.execPath, [path.join(root, 'scripts', 'run-tool.mjs'), tool, ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('the CLIs behind npm run model | manifest | emulator', () => {
  it.each(Object.keys(tools) as (keyof typeof tools)[])('%s prints its package version with --version and exits 0', (tool) => {
    const result = runTool(tool, ['--version']);
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it.each(Object.entries(tools))('%s prints help naming itself and its exit codes with --help', (tool, bin) => {
    const result = runTool(tool as keyof typeof tools, ['--help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(bin);
    expect(result.stdout).toMatch(/--version/);
  });

  it.each(Object.keys(tools) as (keyof typeof tools)[])('%s answers an unknown option with a usage error, exit 2', (tool) => {
    const args = tool === 'model-cli' ? ['package', '--no-such-option'] : ['status', '--no-such-option'];
    const result = runTool(tool, tool === 'edge-manifest' ? ['validate', '--no-such-option'] : args);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/no-such-option/);
  });

  it('the launcher refuses an unknown tool with a usage line, exit 2', () => {
    const result = spawnSync(process.execPath, [path.join(root, 'scripts', 'run-tool.mjs'), 'no-such-tool'], { encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/usage: node scripts\/run-tool\.mjs <.*model-cli.*>/);
  });
});

#!/usr/bin/env node
// The README's start command: builds the workspace, then runs the whole system locally (tools/local-run):
// the edgeHub emulator, Azurite, the loader and the inference module, and shows a detection.
// Flags: --once (exit after the demo detection), --port N (inference API port, default 8080), --verbose, --help
// (tools/local-run/src/start-arguments.ts reads them; an unknown one prints the usage).
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
console.log('[start] building the workspace');
execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
const child = spawn(process.execPath, [path.join(root, 'tools', 'local-run', 'dist', 'main.js'), ...process.argv.slice(2)], { stdio: 'inherit', cwd: process.cwd() });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));

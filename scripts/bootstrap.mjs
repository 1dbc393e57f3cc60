#!/usr/bin/env node
// Makes a fresh clone runnable with only Node 20 and npm: installs the pinned pnpm, then the workspace's dependencies.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { packageManager } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const wantedPnpm = packageManager.split('@')[1];

function pnpmVersion() {
  const result = spawnSync('pnpm', ['--version'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

if (pnpmVersion() !== wantedPnpm) {
  console.log(`[bootstrap] installing pnpm ${wantedPnpm} with npm`);
  execFileSync('npm', ['install', '--global', `pnpm@${wantedPnpm}`], { stdio: 'inherit' });
}

const marker = path.join(root, 'node_modules', '.modules.yaml');
const lockfile = path.join(root, 'pnpm-lock.yaml');
const upToDate = existsSync(marker) && statSync(marker).mtimeMs >= statSync(lockfile).mtimeMs;
if (!upToDate || process.env.CI) {
  console.log('[bootstrap] installing workspace dependencies');
  // onnxruntime-node's install script downloads GPU providers; the CPU binding ships in the package itself.
  execFileSync('pnpm', ['install', '--frozen-lockfile'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
  });
}

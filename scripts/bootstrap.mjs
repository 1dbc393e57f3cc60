#!/usr/bin/env node
// Makes a fresh clone runnable with only Node 20 and npm: gets the pinned pnpm (globally when npm may install
// globally, else inside .cache/pnpm), then installs the workspace's dependencies. Nothing else needs pnpm: the
// package scripts run their tools from node_modules/.bin.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { packageManager } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const wantedPnpm = packageManager.split('@')[1];
const localPrefix = path.join(root, '.cache', 'pnpm');
const localPnpm = path.join(localPrefix, 'node_modules', 'pnpm', 'bin', 'pnpm.cjs');

function version(command, args) {
  const result = spawnSync(command, [...args, '--version'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

function findPnpm() {
  if (!process.env.EDGE_BOOTSTRAP_LOCAL_PNPM && version('pnpm', []) === wantedPnpm) return ['pnpm', []];
  if (existsSync(localPnpm) && version(process.execPath, [localPnpm]) === wantedPnpm) return [process.execPath, [localPnpm]];
  return undefined;
}

let pnpm = findPnpm();
if (!pnpm && !process.env.EDGE_BOOTSTRAP_LOCAL_PNPM) {
  console.log(`[bootstrap] installing pnpm ${wantedPnpm} with npm`);
  const global = spawnSync('npm', ['install', '--global', `pnpm@${wantedPnpm}`], { stdio: 'inherit' });
  if (global.status === 0) pnpm = findPnpm();
}
if (!pnpm) {
  console.log(`[bootstrap] installing pnpm ${wantedPnpm} into .cache/pnpm (no global install)`);
  execFileSync('npm', ['install', '--prefix', localPrefix, '--no-save', '--no-package-lock', `pnpm@${wantedPnpm}`], { stdio: 'inherit' });
  pnpm = findPnpm();
  if (!pnpm) throw new Error(`pnpm ${wantedPnpm} could not be installed`);
}

const marker = path.join(root, 'node_modules', '.modules.yaml');
const lockfile = path.join(root, 'pnpm-lock.yaml');
const upToDate = existsSync(marker) && statSync(marker).mtimeMs >= statSync(lockfile).mtimeMs;
if (!upToDate || process.env.CI) {
  console.log('[bootstrap] installing workspace dependencies');
  // onnxruntime-node's install script downloads GPU providers; the CPU binding ships in the package itself.
  execFileSync(pnpm[0], [...pnpm[1], 'install', '--frozen-lockfile'], { cwd: root, stdio: 'inherit', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' } });
}

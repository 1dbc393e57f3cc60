#!/usr/bin/env node
// Runs one of the workspace's CLIs the way `npm run model|manifest|emulator` promise on a fresh clone: installs the
// dependencies when they are missing (scripts/bootstrap.mjs), builds when any TypeScript source is newer than the last
// build, then hands the process over to tools/<tool>/dist/cli.js with the caller's arguments, exit code and signals.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [tool, ...args] = process.argv.slice(2);
const cli = tool ? path.join(root, 'tools', tool, 'dist', 'cli.js') : undefined;
if (!tool || !cli || !existsSync(path.join(root, 'tools', tool, 'package.json'))) {
  console.error(`usage: node scripts/run-tool.mjs <${readdirSync(path.join(root, 'tools')).join('|')}> [arguments]`);
  process.exit(2);
}

/** The newest modification time among the files under `directory` whose names pass `accept`. */
function newestMtimeMs(directory, accept) {
  let newest = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist') continue;
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtimeMs(full, accept));
    else if (accept(entry.name)) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

const projects = ['packages', 'modules', 'tools'].flatMap((group) =>
  readdirSync(path.join(root, group)).map((name) => path.join(root, group, name)).filter((dir) => existsSync(path.join(dir, 'tsconfig.json'))),
);
const sourceMtimeMs = () => Math.max(...projects.map((dir) => newestMtimeMs(path.join(dir, 'src'), (name) => name.endsWith('.ts'))));
const stamp = path.join(root, '.cache', 'run-tool.built');
const mtimeMs = (file) => (existsSync(file) ? statSync(file).mtimeMs : 0);
// tsc -b leaves its outputs alone when a touched source did not change; the stamp records that it checked.
const buildMtimeMs = () => Math.max(mtimeMs(stamp), Math.min(...projects.map((dir) => mtimeMs(path.join(dir, 'dist', '.tsbuildinfo')))));

if (!existsSync(path.join(root, 'node_modules', '.modules.yaml'))) {
  const bootstrap = spawnSync(process.execPath, [path.join(root, 'scripts', 'bootstrap.mjs')], { stdio: ['ignore', 2, 2] });
  if (bootstrap.status !== 0) process.exit(bootstrap.status ?? 1);
}
if (!existsSync(cli) || sourceMtimeMs() > buildMtimeMs()) {
  console.error(`[${tool}] building the workspace (first run or changed sources)`);
  execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', path.join(root, 'tsconfig.build.json')], { stdio: ['ignore', 2, 2] });
  mkdirSync(path.dirname(stamp), { recursive: true });
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
}

const child = spawn(process.execPath, [cli, ...args], { stdio: 'inherit', cwd: process.cwd() });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));

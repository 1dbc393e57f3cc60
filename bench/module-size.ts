/**
 * The deployed inference module's size: the amd64 Dockerfile's build stage replayed without Docker
 * (replayBuildStage in packages/testkit), then the bytes on disk of what the final stage copies to /app (before the base image),
 * the largest packages listed, and the gzipped tar size as a layer would be pushed (`tar | gzip -6`).
 * Usage: node --conditions=source --import tsx bench/module-size.ts [--json] [--keep (the replayed /app stays in the temp dir)]
 */
import { execFileSync } from 'node:child_process';
import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { replayBuildStage } from '@edge-ml/testkit';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MiB = 1024 * 1024;

/** Bytes of regular files under `dir` (symlinks not followed, each file counted once by inode). */
async function bytesUnder(dir: string, seen = new Set<string>()): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) total += await bytesUnder(full, seen);
    else if (entry.isFile()) {
      const info = await stat(full);
      const key = `${info.dev}:${info.ino}`;
      if (seen.has(key)) continue;
      seen.add(key);
      total += info.size;
    }
  }
  return total;
}

/** Installed packages (pnpm's virtual store) with their sizes, largest first. */
async function packages(out: string): Promise<{ name: string; bytes: number }[]> {
  const store = path.join(out, 'node_modules', '.pnpm');
  const list: { name: string; bytes: number }[] = [];
  for (const entry of await readdir(store, { withFileTypes: true })) {
    if (entry.isDirectory() && entry.name !== 'node_modules') list.push({ name: entry.name, bytes: await bytesUnder(path.join(store, entry.name)) });
  }
  return list.sort((a, b) => b.bytes - a.bytes);
}

export async function measureModuleSize(keep = false): Promise<{ bytes: number; gzipBytes: number; top: { name: string; bytes: number }[]; out: string }> {
  const out = await replayBuildStage(root, 'modules/inference/Dockerfile.amd64');
  try {
    const bytes = await bytesUnder(out);
    const gzipBytes = Number(execFileSync('sh', ['-c', 'tar -cf - . | gzip -6 | wc -c'], { cwd: out, maxBuffer: 1024 * 1024 }).toString().trim());
    return { bytes, gzipBytes, top: (await packages(out)).slice(0, 12), out };
  } finally {
    if (!keep) await rm(path.dirname(out), { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const keep = process.argv.includes('--keep');
  const { bytes, gzipBytes, top, out } = await measureModuleSize(keep);
  if (keep) console.log(`kept: ${out}`);
  if (process.argv.includes('--json')) console.log(JSON.stringify({ bytes, gzipBytes, top }));
  else {
    console.log(`deployed inference module (Dockerfile.amd64 build stage replayed, /app before the base image): ${(bytes / MiB).toFixed(1)} MiB, ${(gzipBytes / 1e6).toFixed(1)} MB as a gzipped layer`);
    for (const { name, bytes: size } of top) console.log(`  ${(size / MiB).toFixed(1).padStart(6)} MiB  ${name}`);
  }
}

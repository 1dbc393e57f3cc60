import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { ANNOUNCED_MODEL_POINTER, RichModelMessageSchema, type RichModelMessage } from '@edge-ml/contracts';
import { fsyncDirectory, writeJsonAtomic } from '@edge-ml/edge-kit';
import { failpoint } from '../failpoint.js';
import { assertRealPathInside, pathInside } from './contained-path.js';

/** What the loader records next to an installed version, so that it can be verified and announced again. */
export interface InstalledManifest {
  name: string;
  version: string;
  format: 'onnx' | 'tflite';
  modelFile: string;
  labelsFile: string;
  descriptorFile?: string;
  /** sha256 of the model file. */
  modelSha256: string;
  /** sha256 of the package as downloaded. */
  packageSha256: string;
  packageMd5?: string;
  installedAt: string;
  /** How the package arrived: through a patch or in full, and the bytes fetched and reused. */
  delivery?: { path: 'patch' | 'chunks' | 'full'; bytesFetched: number; bytesReused: number };
}

const MANIFEST_FILE = '.installed.json';

/**
 * The model repository on shared storage:
 *   models/<name>/<version>/   immutable, complete versions, each with .installed.json
 *   models/announced.json      the last announced version (a rich DLModelOutput body)
 *   .staging/                  work in progress; a version appears in models/ only by one rename
 */
export class ModelRepository {
  constructor(readonly root: string) {}

  get modelsDirectory(): string {
    return path.join(this.root, 'models');
  }

  get stagingDirectory(): string {
    return path.join(this.root, '.staging');
  }

  /** models/<name>/<version>; throws InvalidDesiredError unless both are safe path segments (see pathInside). */
  versionDirectory(name: string, version: string): string {
    return pathInside(this.modelsDirectory, name, version);
  }

  async initialise(): Promise<void> {
    await mkdir(this.modelsDirectory, { recursive: true });
    await mkdir(this.stagingDirectory, { recursive: true });
  }

  /** A fresh, empty staging directory for one extraction. */
  async createStagingDirectory(label: string): Promise<string> {
    const directory = path.join(this.stagingDirectory, `${label.replace(/[^A-Za-z0-9._-]/g, '_')}.${randomBytes(4).toString('hex')}.extract`);
    await mkdir(directory, { recursive: true });
    return directory;
  }

  /** Removes staging work that cannot be resumed: every entry `keep` does not claim. Returns the entries removed. */
  async cleanStaging(keep: (entry: string) => boolean = () => false): Promise<string[]> {
    const removed: string[] = [];
    for (const entry of await readdir(this.stagingDirectory).catch(() => [] as string[])) {
      if (keep(entry)) continue;
      await rm(path.join(this.stagingDirectory, entry), { recursive: true, force: true });
      removed.push(entry);
    }
    return removed;
  }

  async readManifest(name: string, version: string): Promise<InstalledManifest | undefined> {
    try {
      const manifest = JSON.parse(await readFile(path.join(this.versionDirectory(name, version), MANIFEST_FILE), 'utf8')) as InstalledManifest;
      // A manifest that names another directory (copied, or written by hand) would steer installs and removals there.
      return manifest.name === name && manifest.version === version ? manifest : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Moves a complete staging directory into models/<name>/<version>/ with one rename, after fsyncing every file and
   * the directory, then fsyncs the parent. A crash leaves either no version or a complete one. An existing version
   * with the same model hash is kept as it is (a repeated install after a crash is a no-op).
   */
  async install(stagingDirectory: string, manifest: InstalledManifest): Promise<string> {
    const target = this.versionDirectory(manifest.name, manifest.version);
    const existing = await this.readManifest(manifest.name, manifest.version);
    if (existing && existing.modelSha256 === manifest.modelSha256) {
      await rm(stagingDirectory, { recursive: true, force: true });
      return target;
    }
    await writeJsonAtomic(path.join(stagingDirectory, MANIFEST_FILE), manifest);
    for (const entry of await readdir(stagingDirectory)) {
      const handle = await open(path.join(stagingDirectory, entry), 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    await fsyncDirectory(stagingDirectory);
    failpoint('install.synced');
    await mkdir(path.dirname(target), { recursive: true });
    await assertRealPathInside(this.modelsDirectory, target);
    if (existing || (await stat(target).catch(() => undefined))) {
      // A different package under the same name and version: move the old one aside first, then drop it.
      const aside = path.join(this.stagingDirectory, `${manifest.name}.${manifest.version}.${randomBytes(4).toString('hex')}.replaced`);
      await rename(target, aside);
      await rename(stagingDirectory, target);
      await fsyncDirectory(path.dirname(target));
      await rm(aside, { recursive: true, force: true });
    } else {
      await rename(stagingDirectory, target);
      await fsyncDirectory(path.dirname(target));
    }
    await fsyncDirectory(this.modelsDirectory);
    failpoint('install.renamed');
    return target;
  }

  /** The DLModelOutput body for an installed version: seed fields plus the rich ones, paths relative to the root. */
  announcementFor(manifest: InstalledManifest): RichModelMessage {
    const relative = `models/${manifest.name}/${manifest.version}`;
    return RichModelMessageSchema.parse({
      schemaVersion: 1,
      name: manifest.name,
      version: manifest.version,
      format: manifest.format,
      sha256: manifest.modelSha256,
      local_model_path: `${relative}/${manifest.modelFile}`,
      local_labelmap_path: `${relative}/${manifest.labelsFile}`,
      ...(manifest.descriptorFile ? { descriptor_path: `${relative}/${manifest.descriptorFile}` } : {}),
      announcedAt: new Date().toISOString(),
    });
  }

  async writeAnnounced(message: RichModelMessage): Promise<void> {
    await writeJsonAtomic(path.join(this.root, ANNOUNCED_MODEL_POINTER), message);
  }

  async readAnnounced(): Promise<RichModelMessage | undefined> {
    try {
      return RichModelMessageSchema.parse(JSON.parse(await readFile(path.join(this.root, ANNOUNCED_MODEL_POINTER), 'utf8')));
    } catch {
      return undefined;
    }
  }

  /** Installed versions of every model, newest install first. */
  async listInstalled(): Promise<InstalledManifest[]> {
    const manifests: InstalledManifest[] = [];
    for (const name of await readdir(this.modelsDirectory).catch(() => [] as string[])) {
      const nameDirectory = path.join(this.modelsDirectory, name);
      if (!(await stat(nameDirectory)).isDirectory()) continue;
      for (const version of await readdir(nameDirectory)) {
        const manifest = await this.readManifest(name, version);
        if (manifest) manifests.push(manifest);
      }
    }
    return manifests.sort((a, b) => b.installedAt.localeCompare(a.installedAt));
  }

  /** Deletes all but the newest `keep` versions, never the announced one. Returns what it removed as name@version. */
  async collectGarbage(keep: number): Promise<string[]> {
    const announced = await this.readAnnounced();
    const installed = await this.listInstalled();
    const removed: string[] = [];
    let kept = 0;
    for (const manifest of installed) {
      const isAnnounced = announced?.name === manifest.name && announced.version === manifest.version;
      if (isAnnounced || kept < keep) {
        if (!isAnnounced) kept += 1;
        continue;
      }
      // Rename out of models/ first so that a crash never leaves a half-deleted version visible.
      const aside = path.join(this.stagingDirectory, `${manifest.name}.${manifest.version}.${randomBytes(4).toString('hex')}.gc`);
      await assertRealPathInside(this.modelsDirectory, this.versionDirectory(manifest.name, manifest.version));
      await rename(this.versionDirectory(manifest.name, manifest.version), aside);
      failpoint('gc.renamed');
      await rm(aside, { recursive: true, force: true });
      removed.push(`${manifest.name}@${manifest.version}`);
    }
    return removed;
  }
}

import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  ANNOUNCED_MODEL_POINTER,
  CONFIRMED_MODEL_POINTER,
  ConfirmedModelPointerSchema,
  InstalledManifestSchema,
  RichModelMessageSchema,
  SERVING_INDEX,
  ServingIndexSchema,
  type ServingIndex,
  type ConfirmedModelPointer,
  type InstalledManifest,
  type RichModelMessage,
} from '@edge-ml/contracts';
import { fsyncDirectory, writeJsonAtomic } from '@edge-ml/edge-kit';
import { failpoint } from '../failpoint.js';
import { assertRealPathInside, pathInside } from './contained-path.js';

export type { InstalledManifest };

/** An installed version, as announcements and verdicts name it: name@version#modelSha256. */
export const announcementKey = (manifest: Pick<InstalledManifest, 'name' | 'version' | 'modelSha256'>) => `${manifest.name}@${manifest.version}#${manifest.modelSha256}`;

const MANIFEST_FILE = '.installed.json';

/**
 * The model repository on shared storage:
 *   models/<name>/<version>/   immutable, complete versions, each with .installed.json
 *   models/serving.json        the serving index: every model the inference module serves, each with its announced
 *                              version (on trial or serving) and its last-known-good
 *   models/announced.json      legacy mirror of the default model's announced version (a rich DLModelOutput body)
 *   models/confirmed.json      legacy mirror of the default model's last-known-good
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
  // Stryker disable next-line ArrowFunction: equivalent, a keep that returns undefined keeps nothing either.
  async cleanStaging(keep: (entry: string) => boolean = () => false): Promise<string[]> {
    const removed: string[] = [];
    for (const entry of await readdir(this.stagingDirectory).catch(() => [] as string[])) {
      if (keep(entry)) continue;
      // Stryker disable next-line BooleanLiteral: equivalent, the entry was just listed (force only matters if it vanished meanwhile).
      await rm(path.join(this.stagingDirectory, entry), { recursive: true, force: true });
      removed.push(entry);
    }
    return removed;
  }

  /** An installed version's manifest; undefined when it is absent, torn, not one this loader can read, or names another directory. */
  async readManifest(name: string, version: string): Promise<InstalledManifest | undefined> {
    let file: string;
    try {
      file = path.join(this.versionDirectory(name, version), MANIFEST_FILE);
      // Stryker disable next-line BlockStatement: equivalent, an unassigned file makes readJsonFile's read fail, which is also undefined.
    } catch {
      return undefined;
    }
    const manifest = await readJsonFile(file, InstalledManifestSchema);
    // A manifest that names another directory (copied, or written by hand) would steer installs and removals there.
    return manifest?.name === name && manifest.version === version ? manifest : undefined;
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
      // Stryker disable next-line BooleanLiteral: equivalent, the caller's staging folder exists.
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
    // Stryker disable next-line StringLiteral: failpoint names matter to test/crash.test.ts only, outside this group.
    failpoint('install.synced');
    await mkdir(path.dirname(target), { recursive: true });
    await assertRealPathInside(this.modelsDirectory, target);
    if (existing || (await stat(target).catch(() => undefined))) {
      // A different package under the same name and version: move the old one aside first, then drop it.
      const aside = path.join(this.stagingDirectory, `${manifest.name}.${manifest.version}.${randomBytes(4).toString('hex')}.replaced`);
      await rename(target, aside);
      await rename(stagingDirectory, target);
      await fsyncDirectory(path.dirname(target));
      // Stryker disable next-line BooleanLiteral: equivalent, aside was just renamed into place.
      await rm(aside, { recursive: true, force: true });
    } else {
      await rename(stagingDirectory, target);
      await fsyncDirectory(path.dirname(target));
    }
    await fsyncDirectory(this.modelsDirectory);
    // Stryker disable next-line StringLiteral: as above.
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

  async writeServingIndex(index: ServingIndex): Promise<void> {
    await writeJsonAtomic(path.join(this.root, SERVING_INDEX), index);
  }

  /** The serving index; undefined when there is none, or it does not parse. */
  async readServingIndex(): Promise<ServingIndex | undefined> {
    return readJsonFile(path.join(this.root, SERVING_INDEX), ServingIndexSchema);
  }

  async writeAnnounced(message: RichModelMessage): Promise<void> {
    await writeJsonAtomic(path.join(this.root, ANNOUNCED_MODEL_POINTER), message);
  }

  async readAnnounced(): Promise<RichModelMessage | undefined> {
    return readJsonFile(path.join(this.root, ANNOUNCED_MODEL_POINTER), RichModelMessageSchema);
  }

  /** Removes the announced pointer (no version was ever confirmed, and the one it named was rejected). */
  async withdrawAnnounced(): Promise<void> {
    await rm(path.join(this.root, ANNOUNCED_MODEL_POINTER), { force: true });
    await fsyncDirectory(this.modelsDirectory);
  }

  async writeConfirmed(pointer: ConfirmedModelPointer): Promise<void> {
    await writeJsonAtomic(path.join(this.root, CONFIRMED_MODEL_POINTER), pointer);
  }

  /** Removes the confirmed pointer (the version it named is lost). */
  async withdrawConfirmed(): Promise<void> {
    await rm(path.join(this.root, CONFIRMED_MODEL_POINTER), { force: true });
    await fsyncDirectory(this.modelsDirectory);
  }

  async readConfirmed(): Promise<ConfirmedModelPointer | undefined> {
    return readJsonFile(path.join(this.root, CONFIRMED_MODEL_POINTER), ConfirmedModelPointerSchema);
  }

  /** Installed versions of every model, newest install first. */
  async listInstalled(): Promise<InstalledManifest[]> {
    const manifests: InstalledManifest[] = [];
    for (const name of await readdir(this.modelsDirectory).catch(() => [] as string[])) {
      const nameDirectory = path.join(this.modelsDirectory, name);
      // An entry removed meanwhile, or a file (the pointers), holds no versions.
      // Stryker disable next-line ConditionalExpression: equivalent, readdir of a file fails and the catch below gives no versions.
      if (!(await stat(nameDirectory).catch(() => undefined))?.isDirectory()) continue;
      // Stryker disable next-line ArrowFunction: only reached when a folder that stat just saw vanishes before readdir.
      const versions = await readdir(nameDirectory).catch(() => [] as string[]);
      for (const version of versions) {
        const manifest = await this.readManifest(name, version);
        if (manifest) manifests.push(manifest);
      }
    }
    return manifests.sort((a, b) => b.installedAt.localeCompare(a.installedAt));
  }

  /** Deletes installed versions (the planner chose them), renaming each out of models/ first. Returns name@version of each. */
  async removeVersions(versions: { name: string; version: string }[]): Promise<string[]> {
    const removed: string[] = [];
    for (const { name, version } of versions) {
      // Rename out of models/ first so that a crash never leaves a half-deleted version visible.
      const aside = path.join(this.stagingDirectory, `${name}.${version}.${randomBytes(4).toString('hex')}.gc`);
      await assertRealPathInside(this.modelsDirectory, this.versionDirectory(name, version));
      // Stryker disable next-line ArrowFunction: equivalent, undefined is as false as false.
      const moved = await rename(this.versionDirectory(name, version), aside).then(() => true, () => false);
      if (!moved) continue;
      // Stryker disable next-line StringLiteral: as above.
      failpoint('gc.renamed');
      // Stryker disable next-line BooleanLiteral: equivalent, aside was just renamed into place.
      await rm(aside, { recursive: true, force: true });
      removed.push(`${name}@${version}`);
    }
    return removed;
  }
}

/** Reads and parses a JSON file the loader wrote; undefined when it is absent or does not parse (a torn or foreign file). */
async function readJsonFile<T>(file: string, schema: { safeParse(value: unknown): { success: true; data: T } | { success: false } }): Promise<T | undefined> {
  let text: string;
  try {
    // Stryker disable next-line StringLiteral: equivalent, JSON.parse reads a Buffer as its UTF-8 text.
    text = await readFile(file, 'utf8');
    // Stryker disable next-line BlockStatement: equivalent, JSON.parse(undefined) throws and the next catch answers undefined.
  } catch {
    return undefined;
  }
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
    // Stryker disable next-line BlockStatement: equivalent, an empty catch also returns undefined.
  } catch {
    return undefined;
  }
}

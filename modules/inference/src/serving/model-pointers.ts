import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  ANNOUNCED_MODEL_POINTER,
  CONFIRMED_MODEL_POINTER,
  ConfirmedModelPointerSchema,
  ModelMessageSchema,
  toModelAnnouncement,
  type ModelAnnouncement,
} from '@edge-ml/contracts';

async function readPointer(storageRoot: string, pointer: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path.join(storageRoot, pointer), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return JSON.parse(text) as unknown;
}

/** The last model the loader announced, from the pointer it writes on shared storage; undefined when there is none yet. */
export async function readAnnouncedModel(storageRoot: string): Promise<ModelAnnouncement | undefined> {
  const json = await readPointer(storageRoot, ANNOUNCED_MODEL_POINTER);
  return json === undefined ? undefined : toModelAnnouncement(ModelMessageSchema.parse(json));
}

/** The last-known-good model: the last announcement this module confirmed serving, as the loader recorded it. */
export async function readConfirmedModel(storageRoot: string): Promise<ModelAnnouncement | undefined> {
  const json = await readPointer(storageRoot, CONFIRMED_MODEL_POINTER);
  return json === undefined ? undefined : toModelAnnouncement(ConfirmedModelPointerSchema.parse(json));
}

/** Identifies an announced version the way the loader does: name@version#sha256 (no hash for a seed body). */
export function announcementKey(announcement: Pick<ModelAnnouncement, 'name' | 'version' | 'sha256'>): string {
  return `${announcement.name}@${announcement.version}#${announcement.sha256 ?? ''}`;
}

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ANNOUNCED_MODEL_POINTER, ModelMessageSchema, toModelAnnouncement, type ModelAnnouncement } from '@edge-ml/contracts';

/** The last model the loader announced, from the pointer it writes on shared storage; undefined when there is none yet. */
export async function readAnnouncedModel(storageRoot: string): Promise<ModelAnnouncement | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(storageRoot, ANNOUNCED_MODEL_POINTER), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return toModelAnnouncement(ModelMessageSchema.parse(JSON.parse(text)));
}

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  ANNOUNCED_MODEL_POINTER,
  CONFIRMED_MODEL_POINTER,
  ConfirmedModelPointerSchema,
  ModelMessageSchema,
  SERVING_INDEX,
  ServingIndexSchema,
  type ConfirmedModelPointer,
  type ModelMessage,
} from '@edge-ml/contracts';
import { planFromIndex, planFromLegacyPointers, type ServingPlan } from './serving-plan.js';

/**
 * What reading the serving index gave: a plan, no index file at all, or an index file that exists and cannot be read
 * (kept apart from "missing" and from a plan: never a reason to unload).
 */
export type ServingIndexRead =
  | { status: 'planned'; plan: ServingPlan }
  | { status: 'missing' }
  | { status: 'unreadable'; file: string; problem: string };

async function readJson(storageRoot: string, file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path.join(storageRoot, file), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return JSON.parse(text) as unknown;
}

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** The serving index, parsed; undefined when the file does not exist. Throws when it exists and is not a valid index. */
async function readIndex(storageRoot: string): Promise<ServingPlan | undefined> {
  const json = await readJson(storageRoot, SERVING_INDEX);
  return json === undefined ? undefined : planFromIndex(ServingIndexSchema.parse(json));
}

/** The legacy pointers, each read on its own: a damaged one counts as absent (`problems` says why). */
export async function readLegacyPlan(storageRoot: string, problems: (file: string, problem: string) => void): Promise<ServingPlan | undefined> {
  let announced: ModelMessage | undefined;
  let confirmed: ConfirmedModelPointer | undefined;
  try {
    const json = await readJson(storageRoot, ANNOUNCED_MODEL_POINTER);
    announced = json === undefined ? undefined : ModelMessageSchema.parse(json);
  } catch (error) {
    problems(ANNOUNCED_MODEL_POINTER, describe(error));
  }
  try {
    const json = await readJson(storageRoot, CONFIRMED_MODEL_POINTER);
    confirmed = json === undefined ? undefined : ConfirmedModelPointerSchema.parse(json);
  } catch (error) {
    problems(CONFIRMED_MODEL_POINTER, describe(error));
  }
  try {
    return planFromLegacyPointers(announced, confirmed, new Date().toISOString());
  } catch (error) {
    // A seed body whose file name says no format.
    problems(ANNOUNCED_MODEL_POINTER, describe(error));
    return undefined;
  }
}

/** models/serving.json (the loader writes it atomically): its plan, `missing` when no file exists, or why it cannot be read. */
export async function readServingIndex(storageRoot: string): Promise<ServingIndexRead> {
  try {
    const index = await readIndex(storageRoot);
    return index ? { status: 'planned', plan: index } : { status: 'missing' };
  } catch (error) {
    return { status: 'unreadable', file: SERVING_INDEX, problem: describe(error) };
  }
}

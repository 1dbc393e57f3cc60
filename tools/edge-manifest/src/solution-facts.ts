import { CONFIG_SCHEMA as INFERENCE_CONFIG, EDGE_INTERFACE as INFERENCE_INTERFACE } from '@edge-ml/inference/manifest';
import { CONFIG_SCHEMA as LOADER_CONFIG, EDGE_INTERFACE as LOADER_INTERFACE } from '@edge-ml/loader/manifest';
import type { ModuleFacts } from './validate-deployment.js';

/** The modules of this solution, as their code declares them. */
export const SOLUTION_FACTS: Record<string, ModuleFacts> = {
  loader: { EDGE_INTERFACE: LOADER_INTERFACE, CONFIG_SCHEMA: LOADER_CONFIG },
  inference: { EDGE_INTERFACE: INFERENCE_INTERFACE, CONFIG_SCHEMA: INFERENCE_CONFIG },
};

export { INFERENCE_EDGE_INTERFACE } from './edge-interface.js';
export { InferenceConfigSchema, type InferenceConfig } from './config.js';
export { createInferenceService, type InferenceService } from './service.js';
export { ModelManager, type ActiveModel, type ActivationOutcome, type TensorInferenceResult } from './serving/model-manager.js';
export type { NamedTensor } from './pipeline/tensor-inputs.js';
export { ModelPipeline } from './pipeline/model-pipeline.js';
export { describeFindings, missingLabels, type SampleFindings } from './serving/acceptance.js';
export { decodeToFrame, type ColorProfiles, type DecodeOptions } from './image/decode-image.js';
export { WorkerPool } from './worker/worker-pool.js';

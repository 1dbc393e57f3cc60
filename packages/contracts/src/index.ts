export { Md5Schema, Sha256Schema } from './hashes.js';
export { StorageRelativePathSchema } from './storage-path.js';
export { isSafePathSegment, ModelNameSchema, ModelVersionSchema, PackageFileNameSchema, pathSegmentProblem, pathSegmentSchema } from './path-segment.js';
export { ModelFamilySchema, ModelFormatSchema, modelFormatFromFileName, type ModelFamily, type ModelFormat } from './model-format.js';
export {
  AcceptanceSampleSchema,
  AcceptanceSchema,
  InputSpecSchema,
  LabelFormatSchema,
  MODEL_DESCRIPTOR_FILE,
  ModelDescriptorSchema,
  type Acceptance,
  type AcceptanceSample,
  type InputSpec,
  type LabelFormat,
  type ModelDescriptor,
} from './model-descriptor.js';
export {
  ANNOUNCED_MODEL_POINTER,
  ModelMessageSchema,
  RichModelMessageSchema,
  SeedModelMessageSchema,
  toModelAnnouncement,
  type ModelAnnouncement,
  type ModelMessage,
  type RichModelMessage,
  type SeedModelMessage,
} from './model-message.js';
export {
  DesiredModelSchema,
  parseLoaderDesired,
  LoaderReportedSchema,
  LoaderUpdateReportSchema,
  SeedLoaderDesiredSchema,
  UpdatePolicySchema,
  UpdateStateSchema,
  type DesiredModel,
  type LoaderDesired,
  type LoaderReported,
  type LoaderUpdateReport,
  type SeedLoaderDesired,
  type UpdatePolicy,
  type UpdateState,
} from './loader-twin.js';
export {
  ActivationReportSchema,
  ActiveModelReportSchema,
  InferenceReportedSchema,
  type ActivationReport,
  type ActiveModelReport,
  type InferenceReported,
} from './inference-twin.js';
export {
  BoxSchema,
  ClassificationSchema,
  DetectionResultSchema,
  DetectionSchema,
  ModelRefSchema,
  SeedDetectionSchema,
  StageTimingsSchema,
  type Box,
  type Classification,
  type Detection,
  type DetectionResult,
  type ModelRef,
  type SeedDetection,
  type StageTimings,
} from './detections.js';
export { initialDesiredFromDeployment, matchRoutes, parseRoute, routesFromDeployment, type Route } from './deployment-routes.js';
export { DeltaManifestSchema, DeltaManifestV1Schema, DeltaManifestV2Schema, type DeltaManifest, type DeltaManifestV1, type DeltaManifestV2 } from './delta-manifest.js';
export {
  ActivationTriggerSchema,
  CONFIRMED_MODEL_POINTER,
  ConfirmedModelPointerSchema,
  MODEL_STATUS_INPUT,
  MODEL_STATUS_OUTPUT,
  ModelStatusMessageSchema,
  VersionVerdictSchema,
  type ActivationTrigger,
  type ConfirmedModelPointer,
  type ModelStatusMessage,
  type VersionVerdict,
} from './model-status.js';
export {
  ApiErrorSchema,
  DetectQuerySchema,
  LivenessResponseSchema,
  ModelsResponseSchema,
  ReadinessResponseSchema,
  RenderFormatSchema,
  RuntimeNameSchema,
  ServedInputSpecSchema,
  type ApiError,
  type DetectQuery,
  type LivenessResponse,
  type ModelsResponse,
  type ReadinessResponse,
  type RenderFormat,
  type RuntimeName,
  type ServedInputSpec,
} from './inference-api.js';

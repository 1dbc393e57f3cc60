export { LOADER_EDGE_INTERFACE } from './edge-interface.js';
export { LoaderConfigSchema, type LoaderConfig } from './config.js';
export { Loader, type LoaderOptions } from './reconcile/loader.js';
export { ModelRepository, type InstalledManifest } from './repository/model-repository.js';
export { downloadToFile, type DownloadRequest, type DownloadResult } from './download/http-download.js';
export { planSteps, versionsToRemove, type Facts, type Step, type VersionFact, type VersionRef } from './reconcile/plan.js';
export { DEFAULT_STALL_RULE, type StallRule } from './download/stall-rule.js';
export { AccessDeniedError, ChecksumMismatchError, DiskFullError, DownloadStalledError, InvalidDesiredError, InvalidPackageError, LoaderError, NotFoundError, RedirectRefusedError, SizeMismatchError, TransferError, VersionMissingError } from './errors.js';

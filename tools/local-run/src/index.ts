export { LocalSystem, type LocalSystemOptions } from './local-system.js';
export { buildModelPackage, type BuiltPackage, type PackageFile } from '@edge-ml/model-cli';
export { formatLogLine } from './log-format.js';

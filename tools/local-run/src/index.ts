export { LocalSystem, type LocalSystemOptions } from './local-system.js';
export { buildModelPackage, type BuiltPackage, type PackageFile } from './model-package.js';
export { formatLogLine } from './log-format.js';

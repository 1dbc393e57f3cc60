export { buildModelPackage, type BuiltPackage, type PackageFile } from './model-package.js';
export { checkModel, type CheckedModel } from './check-model.js';
export { loaderLayeredDeployment, LayeredDeploymentSchema, type LayeredDeployment } from './layered-deployment.js';
export { targetConditionProblem } from './target-condition.js';
export { deltaCommand, DELTA_HELP } from './commands/delta-command.js';

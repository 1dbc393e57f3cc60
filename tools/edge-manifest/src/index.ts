export { DeploymentManifestSchema, type DeploymentManifest } from './deployment-schema.js';
export { parseEnvFile } from './env-file.js';
export { expandTemplate, TemplateError, type ModuleImages } from './expand-template.js';
export { genconfig, readEnv, stringifyCreateOptions, type GenconfigOptions, type GenconfigResult } from './genconfig.js';
export { moduleImage, readModuleImages, readModuleJson } from './module-images.js';
export { SOLUTION_FACTS } from './solution-facts.js';
export { validateDeployment, type ModuleFacts, type ValidationResult } from './validate-deployment.js';

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseEnvFile } from './env-file.js';
import { expandTemplate } from './expand-template.js';
import { readModuleImages } from './module-images.js';
import { validateDeployment, type ModuleFacts, type ValidationResult } from './validate-deployment.js';

/** The Azure tooling splits createOptions into 512-character chunks: createOptions, createOptions01, … */
const CREATE_OPTIONS_CHUNK = 512;

export function stringifyCreateOptions(manifest: Record<string, unknown>): void {
  const agent = (manifest.modulesContent as Record<string, { 'properties.desired': Record<string, unknown> }>).$edgeAgent?.['properties.desired'];
  if (!agent) return;
  const groups = [agent.systemModules, agent.modules] as (Record<string, { settings: Record<string, unknown> }> | undefined)[];
  for (const group of groups) {
    for (const module of Object.values(group ?? {})) {
      const options = module.settings.createOptions;
      if (options === undefined) continue;
      const text = typeof options === 'string' ? options : JSON.stringify(options);
      module.settings.createOptions = text.slice(0, CREATE_OPTIONS_CHUNK);
      for (let index = 1; index * CREATE_OPTIONS_CHUNK < text.length; index += 1) {
        module.settings[`createOptions${String(index).padStart(2, '0')}`] = text.slice(index * CREATE_OPTIONS_CHUNK, (index + 1) * CREATE_OPTIONS_CHUNK);
      }
    }
  }
}

export interface GenconfigOptions {
  root: string;
  templatePath: string;
  platform: string;
  env: Record<string, string | undefined>;
  outputDirectory: string;
  facts: Record<string, ModuleFacts>;
}

export interface GenconfigResult extends ValidationResult {
  outputPath: string;
  manifest: Record<string, unknown>;
}

export async function readEnv(root: string, envPath?: string): Promise<Record<string, string | undefined>> {
  const file = envPath ?? path.join(root, '.env');
  let fromFile: Record<string, string> = {};
  try {
    fromFile = parseEnvFile(await readFile(file, 'utf8'));
  } catch {
    if (envPath) throw new Error(`cannot read ${envPath}`);
  }
  return { ...fromFile, ...process.env };
}

/**
 * Expands a deployment template with module.json and the environment into config/deployment[.debug].<platform>.json,
 * validates it, and writes it only when it is valid.
 */
export async function genconfig(options: GenconfigOptions): Promise<GenconfigResult> {
  const template = await readFile(options.templatePath, 'utf8');
  const modules = [...template.matchAll(/\$\{MODULES\.([A-Za-z0-9_-]+)/g)].map((match) => match[1] ?? '');
  const images = await readModuleImages(path.join(options.root, 'modules'), [...new Set(modules)], options.platform, options.env);
  const manifest = JSON.parse(expandTemplate(template, options.env, images)) as Record<string, unknown>;
  delete manifest['$schema-template'];
  const result = validateDeployment(manifest, options.facts);
  stringifyCreateOptions(manifest);
  const debug = path.basename(options.templatePath).includes('.debug.');
  const outputPath = path.join(options.outputDirectory, `deployment${debug ? '.debug' : ''}.${options.platform}.json`);
  if (result.errors.length === 0) {
    await mkdir(options.outputDirectory, { recursive: true });
    await writeFile(outputPath, `${JSON.stringify(manifest, null, 2)}\n`);
  }
  return { ...result, outputPath, manifest };
}

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { ModuleImages } from './expand-template.js';

const ModuleJsonSchema = z.object({
  image: z.object({
    repository: z.string().min(1),
    tag: z.object({ version: z.string().min(1), platforms: z.record(z.string(), z.string()) }),
    contextPath: z.string().default('./'),
  }),
});
export type ModuleJson = z.infer<typeof ModuleJsonSchema>;

export async function readModuleJson(moduleDirectory: string): Promise<ModuleJson> {
  return ModuleJsonSchema.parse(JSON.parse(await readFile(path.join(moduleDirectory, 'module.json'), 'utf8')));
}

/** Image names as iotedgedev builds them: <repository>:<version>-<platform>, the repository's ${VARS} expanded. */
export function moduleImage(moduleJson: ModuleJson, platform: string, env: Record<string, string | undefined>): { image: string; debugImage: string } {
  const repository = moduleJson.image.repository.replace(/\$\{([A-Z][A-Z0-9_]*)\}/g, (match, name: string) => env[name] ?? match);
  for (const wanted of [platform, `${platform}.debug`]) {
    if (!moduleJson.image.tag.platforms[wanted]) throw new Error(`module.json has no Dockerfile for platform ${wanted}`);
  }
  const tag = (suffix: string) => `${repository}:${moduleJson.image.tag.version}-${suffix}`;
  return { image: tag(platform), debugImage: tag(`${platform}.debug`) };
}

export async function readModuleImages(modulesDirectory: string, modules: string[], platform: string, env: Record<string, string | undefined>): Promise<ModuleImages> {
  const images: ModuleImages = {};
  for (const module of modules) images[module] = moduleImage(await readModuleJson(path.join(modulesDirectory, module)), platform, env);
  return images;
}

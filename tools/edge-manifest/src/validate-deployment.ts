import type { z } from 'zod';
import { parseLoaderDesiredStrictly, parseRoute, type Route } from '@edge-ml/contracts';
import { DeploymentManifestSchema, type DeploymentManifest } from './deployment-schema.js';

/** What the validator knows about a module from its code: see each module's manifest-facts.ts. */
export interface ModuleFacts {
  EDGE_INTERFACE: {
    module: string;
    inputs: readonly string[];
    outputs: readonly string[];
    containerPort: number | undefined;
    storageMount: string;
    storageWritable: boolean;
  };
  CONFIG_SCHEMA: z.ZodType;
}

export interface ValidationResult {
  errors: string[];
  warnings: string[];
}

type UserModule = DeploymentManifest['modulesContent']['$edgeAgent']['properties.desired']['modules'][string];

function createOptionsOf(module: UserModule): Record<string, unknown> {
  const options = module.settings.createOptions;
  if (options === undefined) return {};
  if (typeof options !== 'string') return options;
  const chunks = Object.keys(module.settings)
    .filter((key) => /^createOptions\d{2}$/.test(key))
    .sort()
    .map((key) => module.settings[key] as string);
  return JSON.parse([options, ...chunks].join('')) as Record<string, unknown>;
}

/**
 * Checks a deployment manifest (a template, or a generated one) against IoT Hub's schema and against the code:
 * every route's outputs and inputs exist in the modules, shared storage is bound where each module reads it,
 * ports agree with the modules' configuration, and every environment value parses with the module's schema.
 */
export function validateDeployment(manifest: unknown, facts: Record<string, ModuleFacts>): ValidationResult {
  const errors: string[] = [];
  const warnings: string[] = [];
  const parsed = DeploymentManifestSchema.safeParse(manifest);
  if (!parsed.success) {
    return { errors: parsed.error.issues.map((issue) => `schema: ${issue.path.join('.')}: ${issue.message}`), warnings };
  }
  const content = parsed.data.modulesContent;
  const modules = content.$edgeAgent['properties.desired'].modules;

  for (const name of Object.keys(modules)) if (!facts[name]) warnings.push(`module ${name} is not part of this solution: its routes, binds and settings are not checked`);

  const routes: Route[] = [];
  for (const [name, value] of Object.entries(content.$edgeHub['properties.desired'].routes)) {
    try {
      routes.push(parseRoute(name, typeof value === 'string' ? value : value.route));
    } catch (error) {
      errors.push(`route ${name}: ${(error as Error).message}`);
    }
  }
  for (const route of routes) {
    if (route.fromModule !== '*') {
      const source = facts[route.fromModule];
      if (!modules[route.fromModule]) warnings.push(`route ${route.name} comes from module ${route.fromModule}, which this deployment does not run (another layer may)`);
      else if (source && route.fromOutput !== '*' && !source.EDGE_INTERFACE.outputs.includes(route.fromOutput)) {
        errors.push(`route ${route.name}: module ${route.fromModule} has no output "${route.fromOutput}" (it has: ${source.EDGE_INTERFACE.outputs.join(', ') || 'none'})`);
      }
    }
    if (route.to.kind === 'module') {
      const target = facts[route.to.module];
      if (!modules[route.to.module]) errors.push(`route ${route.name}: module ${route.to.module} is not in the deployment, so nothing handles input "${route.to.input}"`);
      else if (target && !target.EDGE_INTERFACE.inputs.includes(route.to.input)) {
        errors.push(`route ${route.name}: no module handles input "${route.to.input}" (module ${route.to.module} handles: ${target.EDGE_INTERFACE.inputs.join(', ') || 'none'})`);
      }
    }
  }

  for (const [name, module] of Object.entries(modules)) {
    const known = facts[name];
    if (!known) continue;
    const face = known.EDGE_INTERFACE;
    let options: Record<string, unknown>;
    try {
      options = createOptionsOf(module);
    } catch {
      errors.push(`module ${name}: createOptions is not valid JSON`);
      continue;
    }
    const hostConfig = (options.HostConfig ?? {}) as { Binds?: string[]; PortBindings?: Record<string, unknown>; DeviceRequests?: unknown[] };
    const env = Object.fromEntries(Object.entries(module.env ?? {}).map(([key, value]) => [key, String(value.value)]));

    const storageRoot = env.STORAGE_ROOT ?? face.storageMount;
    const bind = (hostConfig.Binds ?? []).find((entry) => entry.split(':')[1] === storageRoot);
    if (!bind) errors.push(`module ${name}: no bind mounts shared storage at ${storageRoot} (HostConfig.Binds)`);
    else if (face.storageWritable && bind.split(':').slice(2).some((flag) => flag.split(',').includes('ro'))) errors.push(`module ${name}: shared storage is bound read-only, but the module writes it`);

    const ports = Object.keys(hostConfig.PortBindings ?? {});
    const listening = env.INFERENCE_PORT ? Number(env.INFERENCE_PORT) : face.containerPort;
    for (const port of ports) {
      const number = Number(port.split('/')[0]);
      if (number !== listening && number !== 9229) errors.push(`module ${name}: publishes container port ${port}, but the module listens on ${listening ?? 'no port'}`);
    }
    if (listening !== undefined && !ports.includes(`${listening}/tcp`)) warnings.push(`module ${name}: its API port ${listening}/tcp is not published on the host (other modules still reach it by name)`);

    const config = known.CONFIG_SCHEMA.safeParse(Object.fromEntries(Object.entries(env).filter(([, value]) => value.trim() !== '')));
    if (!config.success) for (const issue of config.error.issues) errors.push(`module ${name}: env ${issue.path.join('.')}: ${issue.message}`);
  }

  const loaderDesired = content.loader?.['properties.desired'];
  if (loaderDesired) {
    try {
      parseLoaderDesiredStrictly(loaderDesired);
    } catch (error) {
      errors.push(`loader desired properties: ${(error as Error).message}`);
    }
  }
  return { errors, warnings };
}

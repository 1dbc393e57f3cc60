export class TemplateError extends Error {
  readonly code = 'MANIFEST_TEMPLATE_UNRESOLVED';
}

export interface ModuleImages {
  [module: string]: { image: string; debugImage: string };
}

/**
 * Expands a deployment template as iotedgedev does: ${MODULES.name} and ${MODULES.name.debug} become image names,
 * ${VAR} and $VAR (upper-case names) come from the environment. Anything left unresolved is an error naming it.
 */
export function expandTemplate(template: string, env: Record<string, string | undefined>, images: ModuleImages): string {
  const missing = new Set<string>();
  const expanded = template
    .replace(/\$\{MODULES\.([A-Za-z0-9_-]+)(\.debug)?\}/g, (_match, module: string, debug: string | undefined) => {
      const entry = images[module];
      if (!entry) {
        missing.add(`MODULES.${module}`);
        return '';
      }
      return debug ? entry.debugImage : entry.image;
    })
    .replace(/\$\{([A-Z][A-Z0-9_]*)\}|\$([A-Z][A-Z0-9_]*)/g, (match, braced: string | undefined, bare: string | undefined) => {
      const name = braced ?? bare ?? '';
      const value = env[name];
      if (value === undefined) {
        missing.add(name);
        return match;
      }
      return JSON.stringify(value).slice(1, -1);
    });
  if (missing.size > 0) throw new TemplateError(`the template uses ${[...missing].sort().join(', ')}, which ${missing.size === 1 ? 'is' : 'are'} not set (add to .env, or a module.json)`);
  return expanded;
}

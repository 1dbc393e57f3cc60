/** One edgeHub route: messages from a module's output (or any output) to a module input or upstream. */
export interface Route {
  name: string;
  fromModule: string | '*';
  fromOutput: string | '*';
  to: { kind: 'module'; module: string; input: string } | { kind: 'upstream' };
}

const ROUTE = /^\s*FROM\s+\/messages\/(?:modules\/([^/\s]+)\/outputs\/([^/\s]+)|\*)\s+(?:WHERE\s+.+?\s+)?INTO\s+(.+?)\s*$/i;
const BROKERED = /^BrokeredEndpoint\(\s*"\/modules\/([^/"]+)\/inputs\/([^/"]+)"\s*\)$/i;

/** Parses edgeHub route strings; routes with WHERE clauses are accepted without evaluating the condition. */
export function parseRoute(name: string, text: string): Route {
  const match = ROUTE.exec(text);
  if (!match) throw new Error(`route "${name}" is not of the form FROM /messages/modules/<m>/outputs/<o> INTO <endpoint>: ${text}`);
  const [, fromModule, fromOutput, into = ''] = match;
  const target = into.trim();
  if (target === '$upstream') return { name, fromModule: fromModule ?? '*', fromOutput: fromOutput ?? '*', to: { kind: 'upstream' } };
  const brokered = BROKERED.exec(target);
  if (!brokered?.[1] || !brokered[2]) throw new Error(`route "${name}" has an unsupported endpoint: ${target}`);
  return { name, fromModule: fromModule ?? '*', fromOutput: fromOutput ?? '*', to: { kind: 'module', module: brokered[1], input: brokered[2] } };
}

/** The routes of a deployment manifest (template or generated): modulesContent.$edgeHub.properties.desired.routes. */
export function routesFromDeployment(deployment: unknown): Route[] {
  const routes = (deployment as { modulesContent?: { $edgeHub?: { 'properties.desired'?: { routes?: Record<string, string | { route: string }> } } } })
    .modulesContent?.$edgeHub?.['properties.desired']?.routes;
  if (!routes) throw new Error('the deployment has no $edgeHub routes');
  return Object.entries(routes).map(([name, value]) => parseRoute(name, typeof value === 'string' ? value : value.route));
}

/** The module desired properties a deployment sets: modulesContent.<module>.properties.desired. */
export function initialDesiredFromDeployment(deployment: unknown): Record<string, Record<string, unknown>> {
  const content = (deployment as { modulesContent?: Record<string, { 'properties.desired'?: Record<string, unknown> }> }).modulesContent ?? {};
  return Object.fromEntries(
    Object.entries(content)
      .filter(([module]) => !module.startsWith('$'))
      .map(([module, value]) => [module, value['properties.desired'] ?? {}]),
  );
}

export function matchRoutes(routes: Route[], module: string, output: string): Route[] {
  return routes.filter((route) => (route.fromModule === '*' || route.fromModule === module) && (route.fromOutput === '*' || route.fromOutput === output));
}

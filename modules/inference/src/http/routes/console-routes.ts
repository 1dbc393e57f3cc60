import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** The console's static files: beside src/ and dist/ (both are two folders below the package), copied into the image with the package. */
export const CONSOLE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../console');

/** Only the module itself: no CDN, no inline script, no frame embedding; images the page makes are blob: URLs. */
const CONTENT_SECURITY_POLICY = "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** The web console at `/`: plain files, one route per file found at start-up, so unknown paths still reach the API's 404. */
export async function consoleRoutes(app: FastifyInstance): Promise<void> {
  await app.register(fastifyStatic, {
    root: CONSOLE_ROOT,
    prefix: '/',
    wildcard: false,
    index: ['index.html'],
    cacheControl: false,
    // Page files, not API: kept out of /openapi.json (docs/inference-api.md lists the console apart from the API's routes).
    schemaHide: true,
    setHeaders(response) {
      response.setHeader('cache-control', 'no-cache');
      response.setHeader('content-security-policy', CONTENT_SECURITY_POLICY);
      response.setHeader('x-content-type-options', 'nosniff');
    },
  });
}

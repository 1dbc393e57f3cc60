/** The model and version that answered a request, set by the detect routes for the request metrics. */
export interface ServedModel {
  model: string;
  version: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    servedModel?: ServedModel;
  }
}

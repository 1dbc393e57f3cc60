import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { InferenceMetrics } from '../metrics.js';
import { lingerAfterAnswer } from './connection-limits.js';
import { UnsupportedMediaTypeError } from './read-image.js';

const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_EMPTY_BODY: 'EMPTY_BODY',
  FST_ERR_VALIDATION: 'INVALID_REQUEST',
  FST_REQ_FILE_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_FILES_LIMIT: 'INVALID_REQUEST',
};

/** What the handler reads of an error: Fastify's own, a plugin's, or one of ours (EdgeError with a code and a status). */
export type HandledError = Pick<FastifyError, 'message'> & { code?: string; statusCode?: number; validation?: unknown; retryAfterSeconds?: number; closeConnection?: boolean };

export interface ErrorHandlerOptions {
  metrics: InferenceMetrics;
  /** Rewrites a message before it leaves the device (absolute storage paths become relative). */
  outsideMessage: (text: string) => string;
}

/** What an error handler answers: the status, the stable code and the message a client may read (a 5xx says nothing of its cause). */
export interface ClassifiedError {
  statusCode: number;
  code: string;
  message: string;
}

/**
 * Classifies an error and applies what every answer to it shares: the error metric, Retry-After, Connection: close and,
 * for a 5xx other than 503, the log line. The caller only shapes the body.
 */
export function classifyError(raised: HandledError, request: FastifyRequest, reply: FastifyReply, { metrics, outsideMessage }: ErrorHandlerOptions): ClassifiedError {
  // Fastify's own 415 does not say what is accepted.
  const error: HandledError = raised.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? new UnsupportedMediaTypeError(request.headers['content-type']) : raised;
  const statusCode = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
  const code = (error.code && FASTIFY_CODES[error.code]) ?? (error.validation ? 'INVALID_REQUEST' : error.code) ?? 'INTERNAL';
  metrics.errors.inc({ code: statusCode >= 500 && statusCode !== 503 ? 'INTERNAL' : code });
  if (typeof error.retryAfterSeconds === 'number') void reply.header('retry-after', String(error.retryAfterSeconds));
  if (error.closeConnection) {
    void reply.header('connection', 'close');
    if (!request.raw.complete && request.raw.socket) lingerAfterAnswer(request.raw.socket);
  }
  if (statusCode >= 500 && statusCode !== 503) {
    request.log.error({ err: error }, 'http.request.failed');
    return { statusCode: 500, code: 'INTERNAL', message: 'Internal Server Error' };
  }
  return { statusCode, code, message: outsideMessage(error.message) };
}

/** One error handler: a client's mistake gets its status and message, anything else a 500 that says nothing and is logged. */
export function installErrorHandler(app: FastifyInstance, options: ErrorHandlerOptions): void {
  app.setErrorHandler((raised: HandledError, request, reply) => {
    const { statusCode, code, message } = classifyError(raised, request, reply, options);
    return reply.status(statusCode).send({ error: code, message, statusCode });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error: 'NOT_FOUND', message: `no route ${request.method} ${request.url}`, statusCode: 404 }),
  );
}

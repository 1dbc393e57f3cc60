import { modelNameOfTwinKey, ModelMessageSchema, toModelAnnouncement, type ApiError, type DetectionResult } from '@edge-ml/contracts';
import type { EdgeClient, EdgeMessage, Logger } from '@edge-ml/edge-kit';
import type { ModelRegistry } from '../serving/model-registry.js';
import { toStatusMessage } from '../serving/activation-controller.js';
import type { MessageVerdict } from '../serving/serving-plan.js';
import type { ServingState } from '../serving/serving-state.js';
import { serializeError } from '../worker/protocol.js';

import { INFERENCE_EDGE_INTERFACE } from '../edge-interface.js';
import { StatusOutbox } from './status-outbox.js';

export const [MODEL_INPUT, IMAGE_INPUT] = INFERENCE_EDGE_INTERFACE.inputs;
export const [DETECTIONS_OUTPUT, MODEL_STATUS_OUTPUT] = INFERENCE_EDGE_INTERFACE.outputs;

/** The message property of an image message that names the model to use; without it the default model answers. */
export const MODEL_PROPERTY = 'model';

export interface InferenceEdgeOptions {
  client: EdgeClient;
  models: ModelRegistry;
  state: ServingState;
  logger: Logger;
  /** Whether a DLModelInput message naming this model is served (ServingReconciler.verdictForMessage); all are without it. */
  judgeMessage?: (name: string) => Promise<MessageVerdict>;
}

/** The code of the status that refuses a DLModelInput message naming a model the serving index does not list. */
export const MODEL_NOT_IN_INDEX = 'MODEL_NOT_IN_INDEX';

/** Parses a DLModelOutput body (seed or rich form); the reason is returned, not thrown, since a bad message must not crash anything. */
export function parseModelMessage(body: Buffer): { ok: true; announcement: ReturnType<typeof toModelAnnouncement> } | { ok: false; reason: string } {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, reason: 'the message body is not JSON' };
  }
  const parsed = ModelMessageSchema.safeParse(json);
  if (!parsed.success) return { ok: false, reason: parsed.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; ') };
  try {
    return { ok: true, announcement: toModelAnnouncement(parsed.data) };
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  }
}

/** The detections message for an image that arrived as an edge message; correlation properties are carried over. */
export function detectionsMessage(result: DetectionResult, source: EdgeMessage): EdgeMessage {
  const correlationId = source.correlationId ?? source.messageId;
  return {
    body: Buffer.from(JSON.stringify(result)),
    properties: { ...source.properties, model: `${result.model.name}@${result.model.version}` },
    contentType: 'application/json',
    contentEncoding: 'utf-8',
    ...(correlationId ? { correlationId } : {}),
  };
}

/**
 * The message sent on `detections` instead, for an image that got no detections: the API's error body, with the
 * input's properties, an `error` property holding the code (for routes to filter on), and its correlation.
 */
export function imageErrorMessage(error: unknown, source: EdgeMessage): EdgeMessage {
  const { code, message } = serializeError(error);
  const status = error instanceof Error ? (error as Error & { statusCode?: unknown }).statusCode : undefined;
  const statusCode = typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
  // As the HTTP API answers: a fault of the module (not a 503) says nothing of its cause, which is logged.
  const internal = statusCode >= 500 && statusCode !== 503;
  const body: ApiError = internal ? { error: 'INTERNAL', message: 'Internal Server Error', statusCode: 500 } : { error: code, message, statusCode };
  const correlationId = source.correlationId ?? source.messageId;
  return {
    body: Buffer.from(JSON.stringify(body)),
    properties: { ...source.properties, error: body.error },
    contentType: 'application/json',
    contentEncoding: 'utf-8',
    ...(correlationId ? { correlationId } : {}),
  };
}

/**
 * Wires the module to edgeHub: DLModelInput asks the entry it names for a version, each activation attempt of every
 * entry is answered on DLModelStatus, each image in gets one message out (detections by the model its `model`
 * property names, or the default model; or an error), and serving state goes to reported properties.
 */
export function wireInferenceEdge({ client, models, state, logger, judgeMessage }: InferenceEdgeOptions): void {
  const log = logger.child({ component: 'inference.edge' });
  const outbox = new StatusOutbox(client, MODEL_STATUS_OUTPUT, log);
  models.forEachEntry(({ controller }) =>
    controller.on('attempted', (_report, status) => {
      if (status) void outbox.send(status);
    }),
  );
  client.onInput(MODEL_INPUT, async (message) => {
    const parsed = parseModelMessage(message.body);
    if (!parsed.ok) {
      log.warn({ reason: parsed.reason }, 'model.message.rejected');
      await client.patchReported({ lastSwapError: { code: 'MODEL_MESSAGE_INVALID', message: parsed.reason, name: '', version: '', at: new Date().toISOString() } }).catch(() => undefined);
      return;
    }
    const { announcement } = parsed;
    log.info({ model: announcement.name, version: announcement.version }, 'model.message.received');
    const verdict = judgeMessage ? await judgeMessage(announcement.name) : 'serve';
    if (verdict === 'defer') {
      log.warn({ model: announcement.name, version: announcement.version }, 'model.message.deferred');
      return;
    }
    if (verdict === 'reject') {
      log.warn({ model: announcement.name, version: announcement.version }, 'model.message.notInIndex');
      const message = `no model named "${announcement.name}" is in the serving index; only the loader's entries are served`;
      const status = toStatusMessage({ name: announcement.name, version: announcement.version, sha256: announcement.sha256 ?? null, trigger: 'message', at: new Date().toISOString(), outcome: 'rejected', error: { code: MODEL_NOT_IN_INDEX, message } });
      if (status) await outbox.send(status);
      return;
    }
    await models.request(announcement, 'message');
  });
  client.onInput(IMAGE_INPUT, async (message) => {
    const named = message.properties[MODEL_PROPERTY];
    let out: EdgeMessage;
    try {
      out = detectionsMessage(await models.detect(named === undefined || named === '' ? undefined : named, message.body), message);
    } catch (error) {
      log.warn({ err: error, model: named }, 'image.message.failed');
      out = imageErrorMessage(error, message);
    }
    await client.sendOutput(DETECTIONS_OUTPUT, out).catch((error: unknown) => log.warn({ err: error }, 'image.message.unsent'));
  });
  const report = (reported: ReturnType<ServingState['reported']>) =>
    client.patchReported(reported).catch((error: unknown) => log.debug({ err: error }, 'reported.update.deferred'));
  state.onReportedChange((reported) => void report(reported));
  // The full desired document arrives after every (re)connect: the moment to send the whole reported state again, and
  // the statuses that could not be sent while disconnected.
  client.onDesired((desired) => {
    if (desired.full) {
      // What a previous run reported stays in the hub's map until nulled: null every name this process does not serve.
      const reportedModels = desired.reported?.models;
      if (reportedModels && typeof reportedModels === 'object') {
        // Keys are twin keys of names (ssd.v1 is ssd%2Ev1); one that stands for no name cannot be one of ours.
        state.forgetReported(Object.keys(reportedModels).flatMap((key) => modelNameOfTwinKey(key) ?? []));
      }
      void report(state.reported());
      void outbox.flush();
    }
  });
}

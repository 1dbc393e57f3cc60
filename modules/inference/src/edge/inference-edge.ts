import { ModelMessageSchema, toModelAnnouncement, type DetectionResult } from '@edge-ml/contracts';
import type { EdgeClient, EdgeMessage, Logger } from '@edge-ml/edge-kit';
import type { ActivationController } from '../serving/activation-controller.js';
import type { ModelManager } from '../serving/model-manager.js';
import type { ServingState } from '../serving/serving-state.js';

import { INFERENCE_EDGE_INTERFACE } from '../edge-interface.js';
import { StatusOutbox } from './status-outbox.js';

export const [MODEL_INPUT, IMAGE_INPUT] = INFERENCE_EDGE_INTERFACE.inputs;
export const [DETECTIONS_OUTPUT, MODEL_STATUS_OUTPUT] = INFERENCE_EDGE_INTERFACE.outputs;

export interface InferenceEdgeOptions {
  client: EdgeClient;
  manager: ModelManager;
  controller: ActivationController;
  state: ServingState;
  logger: Logger;
}

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
 * Wires the module to edgeHub: DLModelInput asks for a model, each activation attempt is answered on DLModelStatus,
 * images in get detections out, and serving state goes to reported properties.
 */
export function wireInferenceEdge({ client, manager, controller, state, logger }: InferenceEdgeOptions): void {
  const log = logger.child({ component: 'inference.edge' });
  const outbox = new StatusOutbox(client, MODEL_STATUS_OUTPUT, log);
  controller.on('attempted', (_report, status) => {
    if (status) void outbox.send(status);
  });
  client.onInput(MODEL_INPUT, async (message) => {
    const parsed = parseModelMessage(message.body);
    if (!parsed.ok) {
      log.warn({ reason: parsed.reason }, 'model.message.rejected');
      await client.patchReported({ lastSwapError: { code: 'MODEL_MESSAGE_INVALID', message: parsed.reason, name: '', version: '', at: new Date().toISOString() } }).catch(() => undefined);
      return;
    }
    log.info({ model: parsed.announcement.name, version: parsed.announcement.version }, 'model.message.received');
    await controller.request(parsed.announcement, 'message');
  });
  client.onInput(IMAGE_INPUT, async (message) => {
    try {
      const result = await manager.detect(message.body);
      await client.sendOutput(DETECTIONS_OUTPUT, detectionsMessage(result, message));
    } catch (error) {
      log.warn({ err: error }, 'image.message.failed');
    }
  });
  const report = (reported: ReturnType<ServingState['reported']>) =>
    client.patchReported(reported).catch((error: unknown) => log.debug({ err: error }, 'reported.update.deferred'));
  state.onReportedChange((reported) => void report(reported));
  // The full desired document arrives after every (re)connect: the moment to send the whole reported state again, and
  // the statuses that could not be sent while disconnected.
  client.onDesired((desired) => {
    if (desired.full) {
      void report(state.reported());
      void outbox.flush();
    }
  });
}

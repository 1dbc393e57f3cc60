import { MODEL_STATUS_INPUT, ModelStatusMessageSchema, type ModelStatusMessage } from '@edge-ml/contracts';
import type { EdgeClient, Logger } from '@edge-ml/edge-kit';

/** Parses a DLModelStatus body; the reason is returned, not thrown, since a bad message must not crash anything. */
export function parseStatusMessage(body: Buffer): { status: ModelStatusMessage } | { reason: string } {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return { reason: 'the body is not JSON' };
  }
  const parsed = ModelStatusMessageSchema.safeParse(json);
  if (!parsed.success) return { reason: parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ') };
  return { status: parsed.data };
}

/** Routes the inference module's DLModelStatus messages (input DLModelStatusInput) to the loader. */
export function registerStatusInput(edge: EdgeClient, logger: Logger, receive: (status: ModelStatusMessage) => void): void {
  edge.onInput(MODEL_STATUS_INPUT, (message) => {
    const parsed = parseStatusMessage(message.body);
    if ('reason' in parsed) {
      logger.warn({ input: MODEL_STATUS_INPUT, reason: parsed.reason }, 'model.status.invalid');
      return;
    }
    receive(parsed.status);
  });
}

import type { FastifyReply } from 'fastify';
import type { DetectionResult } from '@edge-ml/contracts';
import type { InferenceMetrics } from '../metrics.js';
import type { RenderOptions } from '../render/render-detections.js';
import { RENDER_CONTENT_TYPES, type RenderFormat } from '../render/render-format.js';
import type { RenderSlots } from '../render/render-slots.js';

export interface SendRenderedOptions extends RenderOptions {
  slots: RenderSlots;
  metrics: InferenceMetrics;
}

/** A name as a header value: printable ASCII as it is, anything else percent-encoded (Node refuses other bytes in headers). */
export function headerSafe(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

/** Answers with the image and its detections drawn on it; the headers name the model that drew them. */
export async function sendRendered(reply: FastifyReply, image: Buffer, result: DetectionResult, format: RenderFormat, options: SendRenderedOptions): Promise<Buffer> {
  const rendered = await options.slots.run(async () => {
    const started = performance.now();
    // Loaded on the first ?render=: sharp (libvips) then initialises in the main thread only if drawing is asked for.
    const { renderDetections } = await import('../render/render-detections.js');
    const bytes = await renderDetections(image, result, format, options);
    options.metrics.stageSeconds.observe({ stage: 'render', model: result.model.name, version: result.model.version }, (performance.now() - started) / 1000);
    return bytes;
  });
  void reply
    .header('content-type', RENDER_CONTENT_TYPES[format])
    .header('x-model-name', headerSafe(result.model.name))
    .header('x-model-version', headerSafe(result.model.version))
    .header('x-model-family', result.model.family)
    .header('x-detection-count', String(result.detections.length));
  return rendered;
}

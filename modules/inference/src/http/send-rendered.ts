import type { FastifyReply } from 'fastify';
import type { DetectionResult } from '@edge-ml/contracts';
import { renderDetections, type RenderOptions } from '../render/render-detections.js';
import { RENDER_CONTENT_TYPES, type RenderFormat } from '../render/render-format.js';

/** Answers with the image and its detections drawn on it; the headers name the model that drew them. */
export async function sendRendered(reply: FastifyReply, image: Buffer, result: DetectionResult, format: RenderFormat, options: RenderOptions): Promise<Buffer> {
  const rendered = await renderDetections(image, result, format, options);
  void reply
    .header('content-type', RENDER_CONTENT_TYPES[format])
    .header('x-model-name', result.model.name)
    .header('x-model-version', result.model.version)
    .header('x-model-family', result.model.family)
    .header('x-detection-count', String(result.detections.length));
  return rendered;
}

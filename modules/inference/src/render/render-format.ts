import { RenderFormatSchema, type RenderFormat } from '@edge-ml/contracts';

export type { RenderFormat };
/** The image formats `POST /v1/detect` can answer with, detections drawn on the image (the contract's). */
export const RENDER_FORMATS = RenderFormatSchema.options;

export const RENDER_CONTENT_TYPES: Record<RenderFormat, string> = { jpeg: 'image/jpeg', png: 'image/png' };

interface AcceptEntry {
  type: string;
  quality: number;
  order: number;
}

function parseAccept(header: string): AcceptEntry[] {
  return header.split(',').flatMap((part, order) => {
    const [type = '', ...parameters] = part.split(';').map((piece) => piece.trim().toLowerCase());
    if (!type) return [];
    const q = parameters.find((parameter) => parameter.startsWith('q='));
    const quality = q === undefined ? 1 : Number(q.slice(2));
    return Number.isFinite(quality) && quality > 0 ? [{ type, quality, order }] : [];
  });
}

/** What an Accept entry is worth for one media type: exact beats `image/*` beats `*\/*`; 0 when it does not match. */
function specificity(entry: AcceptEntry, mediaType: string): number {
  if (entry.type === mediaType) return 3;
  if (entry.type === `${mediaType.split('/')[0]}/*`) return 2;
  return entry.type === '*/*' ? 1 : 0;
}

function qualityOf(entries: AcceptEntry[], mediaType: string): { quality: number; specificity: number; order: number } {
  let best = { quality: 0, specificity: 0, order: Number.POSITIVE_INFINITY };
  for (const entry of entries) {
    const matched = specificity(entry, mediaType);
    if (matched > best.specificity || (matched === best.specificity && matched > 0 && entry.order < best.order)) {
      best = { quality: entry.quality, specificity: matched, order: entry.order };
    }
  }
  return best;
}

/**
 * Whether a detect request wants the picture instead of JSON: `?render=` decides when given; otherwise an Accept
 * header that rates image/jpeg or image/png above JSON (a wildcard alone, as curl and browsers send, keeps JSON).
 */
export function chooseRenderFormat(render: RenderFormat | undefined, accept: string | undefined): RenderFormat | undefined {
  if (render) return render;
  if (!accept || !accept.includes('image/')) return undefined;
  const entries = parseAccept(accept);
  const json = qualityOf(entries, 'application/json');
  let chosen: { format: RenderFormat; quality: number; order: number } | undefined;
  for (const format of RENDER_FORMATS) {
    const rated = qualityOf(entries, RENDER_CONTENT_TYPES[format]);
    // Only an entry naming images counts: `*/*` must not turn JSON clients into image clients.
    if (rated.specificity < 2 || rated.quality <= 0) continue;
    const jsonWins = json.specificity > rated.specificity || (json.specificity === rated.specificity && json.order < rated.order);
    if (rated.quality < json.quality || (rated.quality === json.quality && jsonWins)) continue;
    if (!chosen || rated.quality > chosen.quality || (rated.quality === chosen.quality && rated.order < chosen.order)) chosen = { format, quality: rated.quality, order: rated.order };
  }
  return chosen?.format;
}

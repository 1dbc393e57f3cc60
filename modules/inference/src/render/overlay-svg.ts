import type { Classification, Detection } from '@edge-ml/contracts';

export interface OverlayInput {
  image: { width: number; height: number };
  detections: Pick<Detection, 'label' | 'classId' | 'score' | 'boxPixels'>[];
  classifications: Pick<Classification, 'label' | 'score'>[];
}

export interface OverlayScale {
  lineWidth: number;
  fontSize: number;
  /** Height of a label's background strip. */
  labelHeight: number;
}

/** One colour per class id, distinct side by side and legible with white or black text. */
const PALETTE = ['#ff3b30', '#34c759', '#0a84ff', '#ff9f0a', '#bf5af2', '#00c7be', '#ff375f', '#ffd60a', '#64d2ff', '#ac8e68', '#30d158', '#5e5ce6'];
/** System fonts only: librsvg never fetches a font, and a family missing on the device falls back to the next. */
const FONT_FAMILY = 'DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif';
/** DejaVu Sans' widest lowercase run is ~0.62 em per glyph; label strips are sized from it, since SVG cannot measure text. */
const CHAR_WIDTH_EM = 0.62;
const MAX_CLASSIFICATIONS = 3;

/** Line width and font size that read the same on a 320-pixel thumbnail and a 12-megapixel photo: scaled to the longer side. */
export function overlayScale(width: number, height: number): OverlayScale {
  const unit = Math.max(width, height) / 640;
  const lineWidth = Math.max(2, Math.round(3 * unit));
  const fontSize = Math.max(11, Math.round(16 * unit));
  return { lineWidth, fontSize, labelHeight: Math.round(fontSize * 1.4) };
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[char] ?? char);
}

export function classColour(classId: number): string {
  return PALETTE[((classId % PALETTE.length) + PALETTE.length) % PALETTE.length] ?? '#ff3b30';
}

/** Black or white, whichever reads better on the colour (WCAG relative luminance). */
function textColourOn(hex: string): string {
  const [r, g, b] = [1, 3, 5].map((offset) => {
    const channel = parseInt(hex.slice(offset, offset + 2), 16) / 255;
    return channel <= 0.03928 ? channel / 12.92 : ((channel + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.4 ? '#000' : '#fff';
}

const round = (value: number) => Math.round(value * 10) / 10;

function labelElement(text: string, x: number, y: number, colour: string, scale: OverlayScale, imageWidth: number): string {
  const padding = Math.round(scale.fontSize * 0.35);
  const width = Math.ceil(text.length * scale.fontSize * CHAR_WIDTH_EM) + 2 * padding;
  const left = Math.max(0, Math.min(x, imageWidth - width));
  const baseline = y + scale.labelHeight - Math.round((scale.labelHeight - scale.fontSize) / 2) - Math.round(scale.fontSize * 0.18);
  return (
    `<rect x="${round(left)}" y="${round(y)}" width="${width}" height="${scale.labelHeight}" fill="${colour}"/>` +
    `<text x="${round(left + padding)}" y="${round(baseline)}" fill="${textColourOn(colour)}">${escapeXml(text)}</text>`
  );
}

/**
 * The detections as an SVG the size of the image: a box per detection with its label and score above it (inside
 * when the box touches the top edge), and the top classifications in the corner. Transparent everywhere else.
 */
export function buildOverlaySvg(input: OverlayInput): string {
  const { width, height } = input.image;
  const scale = overlayScale(width, height);
  const parts: string[] = [];
  for (const detection of input.detections) {
    const { xmin, ymin, xmax, ymax } = detection.boxPixels;
    const colour = classColour(detection.classId);
    parts.push(
      `<rect x="${round(xmin)}" y="${round(ymin)}" width="${round(Math.max(0, xmax - xmin))}" height="${round(Math.max(0, ymax - ymin))}" fill="none" stroke="${colour}" stroke-width="${scale.lineWidth}"/>`,
    );
    const above = ymin - scale.lineWidth / 2 - scale.labelHeight;
    const top = above >= 0 ? above : Math.min(ymin + scale.lineWidth / 2, height - scale.labelHeight);
    parts.push(labelElement(`${detection.label} ${detection.score.toFixed(2)}`, xmin - scale.lineWidth / 2, top, colour, scale, width));
  }
  input.classifications.slice(0, MAX_CLASSIFICATIONS).forEach((entry, index) => {
    parts.push(labelElement(`${entry.label} ${entry.score.toFixed(2)}`, 0, index * scale.labelHeight, '#000000', scale, width));
  });
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    `<g font-family="${FONT_FAMILY}" font-size="${scale.fontSize}" font-weight="bold">${parts.join('')}</g></svg>`
  );
}

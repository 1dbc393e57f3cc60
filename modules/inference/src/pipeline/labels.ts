import type { LabelFormat } from '@edge-ml/contracts';

export interface Labels {
  format: LabelFormat;
  lines: string[];
}

/**
 * Parses a label file. Without an explicit format: a first line of `???` marks a TensorFlow labelmap
 * (index = class + 1), `n/a` placeholders mark Coral's coco_labels.txt (index = class), anything else is one name per class.
 * Coral-style `id name` lines are accepted too.
 */
export function parseLabels(text: string, format?: LabelFormat): Labels {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  while (lines.length > 0 && lines[lines.length - 1]?.trim() === '') lines.pop();
  const numbered = lines.length > 0 && lines.every((line) => /^\d+\s+\S/.test(line.trim()));
  const names = numbered ? numberedLines(lines) : lines.map((line) => line.trim());
  const detected: LabelFormat = names[0] === '???' ? 'labelmap' : names.includes('n/a') ? 'coco-labels' : 'plain';
  return { format: format ?? detected, lines: names };
}

function numberedLines(lines: string[]): string[] {
  const names: string[] = [];
  for (const line of lines) {
    const match = /^(\d+)\s+(.+)$/.exec(line.trim());
    if (match?.[1] !== undefined && match[2] !== undefined) names[Number(match[1])] = match[2].trim();
  }
  return Array.from(names, (name) => name ?? 'n/a');
}

/** The name of a model class id, or `class_<id>` when the file has none for it. */
export function labelFor(labels: Labels, classId: number): string {
  const index = labels.format === 'labelmap' ? classId + 1 : classId;
  const name = labels.lines[index];
  return name === undefined || name === '' ? `class_${classId}` : name;
}

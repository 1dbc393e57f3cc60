import type { AcceptanceSample, Classification, Detection } from '@edge-ml/contracts';

/** What a model saw in one sample image: the detections or classes the worker returned. */
export interface SampleFindings {
  detections: Pick<Detection, 'label' | 'score'>[];
  classifications: Pick<Classification, 'label' | 'score'>[];
}

/** The sample's labels the model did not find (with at least `minScore` when the sample sets one); empty when it passes. */
export function missingLabels(sample: Pick<AcceptanceSample, 'labels' | 'minScore'>, findings: SampleFindings): string[] {
  const minScore = sample.minScore ?? 0;
  const found = [...findings.detections, ...findings.classifications].filter((finding) => finding.score >= minScore);
  return sample.labels.filter((label) => !found.some((finding) => finding.label === label));
}

/** One line for an error message: what the model found instead, best first. */
export function describeFindings(findings: SampleFindings, limit = 5): string {
  const all = [...findings.detections, ...findings.classifications].sort((a, b) => b.score - a.score);
  if (all.length === 0) return 'it found nothing';
  const shown = all.slice(0, limit).map((finding) => `${finding.label} ${finding.score.toFixed(2)}`);
  return `it found ${shown.join(', ')}${all.length > limit ? `, and ${all.length - limit} more` : ''}`;
}

/** fp32 weights and the same weights nudged by about 1 %, as a fine-tune leaves them. */
export function nudgedWeights(count: number): { before: Uint8Array; after: Uint8Array } {
  const values = Float32Array.from({ length: count }, (_, index) => Math.sin(index) * 0.1);
  const nudged = values.map((value, index) => value * (1 + 0.01 * Math.cos(index * 7.3)));
  return { before: new Uint8Array(values.buffer), after: new Uint8Array(nudged.buffer) };
}

/** RFC 7396 JSON merge patch, as IoT Hub applies twin patches: null deletes, objects merge, anything else replaces. */
export function applyMergePatch(document: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const result: Record<string, unknown> = { ...document };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else if (typeof value === 'object' && !Array.isArray(value)) {
      const base = result[key];
      result[key] = applyMergePatch(typeof base === 'object' && base !== null && !Array.isArray(base) ? (base as Record<string, unknown>) : {}, value as Record<string, unknown>);
    } else result[key] = value;
  }
  return result;
}

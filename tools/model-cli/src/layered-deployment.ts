import { z } from 'zod';
import { parseLoaderDesiredStrictly } from '@edge-ml/contracts';
import { targetConditionProblem } from './target-condition.js';

// A segment is a twin key: `%` appears in the twin key of a model name that holds a dot (ssd%2Ev1).
const DesiredPath = z.string().regex(/^properties\.desired(\.[A-Za-z0-9_%-]+){1,9}$/, 'must be properties.desired.<name>[.<name>…], at most 10 levels');

/** An IoT Hub layered deployment (az iot edge deployment create --layered): content, target condition, priority. */
export const LayeredDeploymentSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9-:+%_#*?!(),=@;$']{1,128}$/, 'lower-case letters, digits and -:+%_#*?!(),=@;$\' only, at most 128'),
  content: z.strictObject({
    modulesContent: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/), z.record(DesiredPath, z.unknown())),
  }),
  targetCondition: z.string().superRefine((value, context) => {
    const problem = targetConditionProblem(value);
    if (problem) context.addIssue({ code: 'custom', message: problem });
  }),
  priority: z.number().int().min(0).max(2147483647),
  labels: z.record(z.string(), z.string()).optional(),
});
export type LayeredDeployment = z.infer<typeof LayeredDeploymentSchema>;

/**
 * The loader's desired properties as a layered deployment for every device that matches the condition. Each entry of
 * the `models` map gets its own path (properties.desired.models.<twin key>, `ssd%2Ev1` for ssd.v1: a `.` in the path
 * would be read as one more level), so that deployments of different entries
 * combine on a device instead of each replacing the whole map.
 */
export function loaderLayeredDeployment(options: { id: string; targetCondition: string; priority: number; desired: Record<string, unknown> }): LayeredDeployment {
  parseLoaderDesiredStrictly(options.desired);
  const content: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options.desired)) {
    if (key === 'models' && typeof value === 'object' && value !== null) {
      for (const [name, entry] of Object.entries(value)) content[`properties.desired.models.${name}`] = entry;
    } else content[`properties.desired.${key}`] = value;
  }
  return LayeredDeploymentSchema.parse({
    id: options.id,
    content: { modulesContent: { loader: content } },
    targetCondition: options.targetCondition,
    priority: options.priority,
    labels: { solution: 'edge-model-serving' },
  });
}

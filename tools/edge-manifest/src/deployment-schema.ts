import { z } from 'zod';

const CreateOptions = z.union([z.string(), z.record(z.string(), z.unknown())]);
const Env = z.record(z.string(), z.object({ value: z.union([z.string(), z.number(), z.boolean()]) }));

const ModuleSettings = z.object({ image: z.string().min(1), createOptions: CreateOptions.optional() }).catchall(z.string());

const UserModule = z.object({
  version: z.string().optional(),
  type: z.literal('docker'),
  status: z.enum(['running', 'stopped']),
  restartPolicy: z.enum(['never', 'on-failure', 'on-unhealthy', 'always']),
  startupOrder: z.number().int().nonnegative().optional(),
  settings: ModuleSettings,
  env: Env.optional(),
  imagePullPolicy: z.enum(['on-create', 'never']).optional(),
});

const SystemModule = z.object({
  type: z.literal('docker'),
  status: z.enum(['running', 'stopped']).optional(),
  restartPolicy: z.enum(['never', 'on-failure', 'on-unhealthy', 'always']).optional(),
  settings: ModuleSettings,
  env: Env.optional(),
});

const Route = z.union([z.string(), z.object({ route: z.string(), priority: z.number().int().min(0).max(9).optional(), timeToLiveSecs: z.number().int().positive().optional() })]);

/**
 * The deployment manifest as IoT Hub accepts it (schemaVersion 1.1): edgeAgent's runtime, system and user modules,
 * edgeHub's routes and store-and-forward, and module twins' desired properties.
 */
export const DeploymentManifestSchema = z.object({
  modulesContent: z
    .object({
      $edgeAgent: z.object({
        'properties.desired': z.object({
          schemaVersion: z.enum(['1.0', '1.1']),
          runtime: z.object({
            type: z.literal('docker'),
            settings: z.object({
              minDockerVersion: z.string().optional(),
              loggingOptions: z.string().optional(),
              registryCredentials: z.record(z.string(), z.object({ username: z.string(), password: z.string(), address: z.string() })).optional(),
            }),
          }),
          systemModules: z.object({ edgeAgent: SystemModule, edgeHub: SystemModule }),
          modules: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/), UserModule),
        }),
      }),
      $edgeHub: z.object({
        'properties.desired': z.object({
          schemaVersion: z.enum(['1.0', '1.1', '1.2']),
          routes: z.record(z.string(), Route),
          storeAndForwardConfiguration: z.object({ timeToLiveSecs: z.number().int().positive() }),
        }),
      }),
    })
    .catchall(z.object({ 'properties.desired': z.record(z.string(), z.unknown()) })),
});
export type DeploymentManifest = z.infer<typeof DeploymentManifestSchema>;

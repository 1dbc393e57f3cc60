import { MODEL_STATUS_OUTPUT } from '@edge-ml/contracts';

/** What the inference module offers edgeHub and the host: the manifest generator validates routes, binds and ports against this. */
export const INFERENCE_EDGE_INTERFACE = {
  module: 'inference',
  inputs: ['DLModelInput', 'images'],
  /** `detections` answers image messages; `DLModelStatus` answers each activation attempt (routed to the loader). */
  outputs: ['detections', MODEL_STATUS_OUTPUT],
  methods: [],
  /** The API's container port (INFERENCE_PORT's default). */
  containerPort: 8080,
  /** Where shared model storage is mounted (STORAGE_ROOT's default); read-only is enough. */
  storageMount: '/iotedge/storage',
  storageWritable: false,
} as const;

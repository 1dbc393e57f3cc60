/** What the inference module offers edgeHub and the host: the manifest generator validates routes, binds and ports against this. */
export const INFERENCE_EDGE_INTERFACE = {
  module: 'inference',
  inputs: ['DLModelInput', 'images'],
  outputs: ['detections'],
  methods: [],
  /** The API's container port (INFERENCE_PORT's default). */
  containerPort: 8080,
  /** Where shared model storage is mounted (STORAGE_ROOT's default); read-only is enough. */
  storageMount: '/iotedge/storage',
  storageWritable: false,
} as const;

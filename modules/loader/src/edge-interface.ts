/** What the loader module offers edgeHub and the host: the manifest generator validates routes and binds against this. */
export const LOADER_EDGE_INTERFACE = {
  module: 'loader',
  /** DLModelStatusInput: the inference module's activation outcomes (MODEL_STATUS_INPUT in @edge-ml/contracts). */
  inputs: ['DLModelStatusInput'],
  outputs: ['DLModelOutput'],
  methods: ['updateModel', 'rollback', 'listModels'],
  containerPort: undefined,
  /** Where shared model storage is mounted (STORAGE_ROOT's default); the loader writes it. */
  storageMount: '/iotedge/storage',
  storageWritable: true,
} as const;

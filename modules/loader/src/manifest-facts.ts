/** What deployment tooling may know about this module without loading its runtime: its edgeHub interface and configuration schema. */
export { LOADER_EDGE_INTERFACE as EDGE_INTERFACE } from './edge-interface.js';
export { LoaderConfigSchema as CONFIG_SCHEMA } from './config.js';

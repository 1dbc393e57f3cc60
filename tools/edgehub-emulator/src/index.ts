export { EdgeHubEmulator, type EmulatorOptions, type UpstreamMessage } from './edgehub-emulator.js';
export { WorkloadApi } from './workload-api.js';
export { ControlApi } from './control-api.js';
export { runEmulator, STATE_FILE, type EmulatorState, type RunEmulatorOptions, type RunningEmulator } from './run-emulator.js';
export { HUB_ARGUMENT_INVALID, TwinKeyRefusedError, TwinStore, type TwinDocument } from './twin-store.js';

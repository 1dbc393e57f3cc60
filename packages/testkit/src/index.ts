export { FaultServer, type Fault } from './fault-server.js';
export { DroppingProxy } from './dropping-proxy.js';
export { startAzurite, type Azurite } from './azurite.js';
export { freePort } from './free-port.js';
export { buildStage, replayBuildStage } from './docker-replay.js';
export { mountTmpfs, tmpfsUnavailableReason, unmountTmpfs } from './tmpfs.js';

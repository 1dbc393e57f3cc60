import { describe, expect, it } from 'vitest';
import { isProbeRequest, planShedding, type ConnectionState } from './connection-shedding.js';

/** Connections named by their state and position (`silent1`), in the order they were accepted. */
const table = (...states: ConnectionState[]) => states.map((state, index) => ({ connection: `${state}${index}`, state }));
const shed = (states: ConnectionState[], max: number) => planShedding(table(...states), max).map(({ connection, reason }) => `${connection}:${reason}`);

describe('planShedding: which connections close when there are too many', () => {
  it('closes none within the cap', () => {
    expect(shed(['silent', 'idle', 'request'], 3)).toEqual([]);
  });
  it('evicts idle keep-alive connections first, then stalled headers, then silent ones, oldest first within each', () => {
    expect(shed(['silent', 'partial', 'idle', 'partial', 'idle', 'silent'], 2)).toEqual(['idle2:evicted', 'idle4:evicted', 'partial1:evicted', 'partial3:evicted']);
    expect(shed(['silent', 'partial', 'silent', 'request'], 1)).toEqual(['partial1:evicted', 'silent0:evicted', 'silent2:evicted']);
  });
  it('never closes a probe in progress, nor a new connection not read yet (it may be a probe): older silent ones go instead', () => {
    // The 1,000-connection burst: probes accepted among connections that have not sent anything yet.
    expect(shed(['silent', 'probe', 'silent', 'new', 'new'], 3)).toEqual(['silent0:evicted', 'silent2:evicted']);
  });
  it('lets new connections wait over the cap, and refuses the newest requests in progress beyond them (never a probe)', () => {
    expect(shed(['request', 'probe', 'request', 'request', 'probe'], 3)).toEqual(['request3:refused', 'request2:refused']);
    expect(shed(['request', 'request', 'new', 'request', 'probe'], 2)).toEqual(['request3:refused', 'request1:refused']);
    expect(shed(['probe', 'new', 'probe', 'new'], 2)).toEqual([]);
  });
});

describe('isProbeRequest', () => {
  it('knows the liveness and readiness paths of the module and of the Open Inference Protocol', () => {
    for (const url of ['/health/live', '/health/ready?verbose=1', '/v2/health/live', '/v2/health/ready', '/v2/models/yolox/ready', '/v2/models/yolox/versions/3/ready']) {
      expect(isProbeRequest('GET', url)).toBe(true);
    }
    expect(isProbeRequest('HEAD', '/health/live')).toBe(true);
  });
  it('is false for anything else', () => {
    expect(isProbeRequest('POST', '/health/live')).toBe(false);
    for (const url of ['/metrics', '/v1/models', '/health/lively', '/v2/models/yolox/infer', '/v2/models/a/b/ready']) expect(isProbeRequest('GET', url)).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { httpLimits, InferenceConfigSchema } from './config.js';

describe('the HTTP limits in the inference configuration', () => {
  it('default to bounded values', () => {
    expect(httpLimits(InferenceConfigSchema.parse({}))).toEqual({
      requestTimeoutMs: 60_000,
      headersTimeoutMs: 10_000,
      keepAliveTimeoutMs: 5_000,
      maxConnections: 256,
      maxImageRequests: 64,
      bodyBudgetBytes: 128 * 1024 * 1024,
      minBodyBytesPerSecond: 240,
      bodyGraceMs: 5_000,
    });
  });

  it('refuse a headers timeout longer than the request timeout', () => {
    const result = InferenceConfigSchema.safeParse({ INFERENCE_REQUEST_TIMEOUT_MS: '5000', INFERENCE_HEADERS_TIMEOUT_MS: '6000' });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]).toMatchObject({ path: ['INFERENCE_HEADERS_TIMEOUT_MS'] });
  });

  it('refuse as many image requests as connections, which would leave health no room', () => {
    const result = InferenceConfigSchema.safeParse({ INFERENCE_MAX_CONNECTIONS: '64', INFERENCE_MAX_IMAGE_REQUESTS: '64' });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]).toMatchObject({ path: ['INFERENCE_MAX_IMAGE_REQUESTS'] });
  });

  it('refuse zero, which would switch a timeout off', () => {
    expect(InferenceConfigSchema.safeParse({ INFERENCE_REQUEST_TIMEOUT_MS: '0' }).success).toBe(false);
  });
});

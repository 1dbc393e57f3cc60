import { describe, expect, it } from 'vitest';
import { loadConfig } from '@edge-ml/edge-kit';
import { LoaderConfigSchema, stallRuleOf } from './config.js';

describe('the stall rule in the loader configuration', () => {
  it('defaults to 64 B/s over 5 minutes', () => {
    expect(stallRuleOf(loadConfig(LoaderConfigSchema, {}))).toEqual({ minBytesPerSecond: 64, windowMs: 300_000 });
  });

  it('is set by LOADER_MIN_BYTES_PER_SEC and LOADER_STALL_WINDOW_MS; a minimum of 0 turns it off, an empty value is unset', () => {
    expect(stallRuleOf(loadConfig(LoaderConfigSchema, { LOADER_MIN_BYTES_PER_SEC: '0', LOADER_STALL_WINDOW_MS: '60000' }))).toEqual({ minBytesPerSecond: 0, windowMs: 60_000 });
    expect(stallRuleOf(loadConfig(LoaderConfigSchema, { LOADER_MIN_BYTES_PER_SEC: '' }))).toEqual({ minBytesPerSecond: 64, windowMs: 300_000 });
  });

  it('refuses a negative minimum and a window of 0', () => {
    expect(LoaderConfigSchema.safeParse({ LOADER_MIN_BYTES_PER_SEC: '-1' }).success).toBe(false);
    expect(LoaderConfigSchema.safeParse({ LOADER_STALL_WINDOW_MS: '0' }).success).toBe(false);
  });
});

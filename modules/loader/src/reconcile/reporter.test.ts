import { describe, expect, it } from 'vitest';
import { createLogger } from '@edge-ml/edge-kit';
import { RecordingEdgeClient } from '../../test/recording-edge-client.js';
import { Reporter, type EntryDescription } from './reporter.js';

const description: EntryDescription = { activeVersion: null, installedVersions: ['1'], top: { activeModel: null, installedVersions: ['ssd@1'] } };

describe('Reporter', () => {
  it('sends patches in the order of their updates, even when an earlier one waits longer for its description', async () => {
    const edge = new RecordingEdgeClient();
    const delays = [50, 0];
    const reporter = new Reporter(edge, createLogger({ name: 'reporter-test', level: 'silent' }), 0, {
      name: 'ssd',
      isDefault: () => true,
      describe: () => new Promise((resolve) => setTimeout(() => resolve(description), delays.shift() ?? 0)),
    });
    // A state change (it awaits the entry's description), then the failure that follows it at once.
    const first = reporter.update({ state: 'downloading', name: 'ssd', version: '2' });
    const second = reporter.update({ state: 'downloading', name: 'ssd', version: '2', error: { code: 'LOADER_DOWNLOAD_INTERRUPTED', message: 'HTTP 503' } });
    await Promise.all([first, second]);
    expect(edge.reported.map((patch) => (patch.modelUpdate as { error: { code: string } | null }).error?.code ?? null)).toEqual([null, 'LOADER_DOWNLOAD_INTERRUPTED']);
    expect(edge.reportedState.modelUpdate).toMatchObject({ error: { code: 'LOADER_DOWNLOAD_INTERRUPTED' } });
  });
});

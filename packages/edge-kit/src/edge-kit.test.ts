import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { backoffDelayMs, ConfigError, createLogger, loadConfig, redactSecrets, sha256OfFile, withTimeout, writeJsonAtomic, TimeoutError } from './index.js';

describe('redactSecrets', () => {
  it('removes SAS values but keeps the blob path readable', () => {
    const url = 'https://acct.blob.core.windows.net/models/ssd.zip?sv=2024-08-04&se=2026-12-01T00%3A00%3A00Z&sr=b&sp=r&sig=abc%2Bdef%3D';
    const redacted = redactSecrets(url);
    expect(redacted).toContain('https://acct.blob.core.windows.net/models/ssd.zip');
    expect(redacted).not.toContain('abc%2Bdef');
    expect(redacted).toContain('sig=REDACTED');
  });
  it('removes keys from connection strings', () => {
    expect(redactSecrets('HostName=h;DeviceId=d;SharedAccessKey=c2VjcmV0')).toBe('HostName=h;DeviceId=d;SharedAccessKey=REDACTED');
    expect(redactSecrets('DefaultEndpointsProtocol=http;AccountName=a;AccountKey=Zm9v;BlobEndpoint=x')).not.toContain('Zm9v');
  });
  it('is applied to every log line, nested objects and messages alike', () => {
    const lines: string[] = [];
    const destination = new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(chunk.toString()), done()) });
    const logger = createLogger({ name: 'test', destination });
    logger.info({ request: { url: 'https://x/y.zip?sig=SECRET1' } }, 'fetching https://x/y.zip?sig=SECRET2');
    expect(lines.join('')).not.toMatch(/SECRET/);
    expect(lines.join('')).toContain('sig=REDACTED');
  });
  it('logs objects with cycles (such as sockets) without throwing', () => {
    const lines: string[] = [];
    const destination = new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(chunk.toString()), done()) });
    const cyclic: Record<string, unknown> = { name: 'socket' };
    cyclic.self = cyclic;
    expect(() => createLogger({ name: 'test', destination }).info({ cyclic }, 'ok')).not.toThrow();
  });
});

describe('loadConfig', () => {
  const schema = z.object({ PORT: z.coerce.number().int().default(8080), NAME: z.string() });
  it('treats empty variables as unset', () => {
    expect(loadConfig(schema, { PORT: '', NAME: 'x' })).toEqual({ PORT: 8080, NAME: 'x' });
  });
  it('lists every problem by variable name', () => {
    expect(() => loadConfig(schema, { PORT: 'abc' })).toThrow(ConfigError);
    try {
      loadConfig(schema, { PORT: 'abc' });
    } catch (error) {
      expect((error as ConfigError).issues.map((issue) => issue.split(':')[0])).toEqual(['PORT', 'NAME']);
    }
  });
});

describe('backoffDelayMs', () => {
  it('grows exponentially, stays within the cap and jitters', () => {
    const options = { initialDelayMs: 100, maxDelayMs: 1_000 };
    expect(backoffDelayMs(0, options, () => 1)).toBe(100);
    expect(backoffDelayMs(3, options, () => 1)).toBe(800);
    expect(backoffDelayMs(10, options, () => 1)).toBe(1_000);
    expect(backoffDelayMs(10, options, () => 0)).toBe(500);
  });
});

describe('withTimeout', () => {
  it('rejects with a typed error when the promise hangs', async () => {
    await expect(withTimeout(new Promise(() => undefined), 20, 'twin get')).rejects.toBeInstanceOf(TimeoutError);
    await expect(withTimeout(Promise.resolve(3), 20, 'x')).resolves.toBe(3);
  });
});

describe('writeJsonAtomic', () => {
  it('replaces the file whole and leaves no temporary files', async () => {
    const directory = await mkdtemp(path.join(tmpdir(), 'atomic-'));
    const file = path.join(directory, 'pointer.json');
    await writeFile(file, 'old');
    await writeJsonAtomic(file, { version: 2 });
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ version: 2 });
    expect(await readdir(directory)).toEqual(['pointer.json']);
  });
});

describe('sha256OfFile', () => {
  it('hashes an empty file, one shorter than a read step and one of several steps with a partial last one', async () => {
    const directory = await mkdtemp(path.join(tmpdir(), 'hash-'));
    const sizes = [0, 1000, 3 * 65_536 + 123];
    for (const size of sizes) {
      const bytes = Buffer.from(Array.from({ length: size }, (_, index) => (index * 31 + (index >> 8)) & 0xff));
      const file = path.join(directory, `${size}.bin`);
      await writeFile(file, bytes);
      expect(await sha256OfFile(file), `${size} bytes`).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
  });

  it('rejects a file that is not there with the system error', async () => {
    await expect(sha256OfFile(path.join(tmpdir(), 'no-such-model.onnx'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

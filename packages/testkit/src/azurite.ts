import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './free-port.js';
import {
  BlobSASPermissions,
  BlobServiceClient,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
  type ContainerClient,
} from '@azure/storage-blob';

/** Azurite's well-known development account. */
const ACCOUNT = 'devstoreaccount1';
const KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';


export interface Azurite {
  container: ContainerClient;
  blobEndpoint: string;
  connectionString: string;
  /** A read-only SAS URL for a blob, valid from `startsOn` to `expiresOn`. */
  sasUrl(blobName: string, options?: { expiresOn?: Date; startsOn?: Date }): string;
  stop(): Promise<void>;
}

/** Starts Azurite's blob service (the pinned npm package) on a free loopback port, with a container ready. */
export async function startAzurite(containerName = 'models', options: { port?: number; onExit?: (code: number | null) => void } = {}): Promise<Azurite> {
  const require = createRequire(import.meta.url);
  const main = path.join(path.dirname(require.resolve('azurite/package.json')), 'dist/src/blob/main.js');
  const location = await mkdtemp(path.join(tmpdir(), 'azurite-'));
  const port = options.port ?? (await freePort());
  const child: ChildProcess = spawn(process.execPath, [main, '--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', location, '--skipApiVersionCheck', '--disableTelemetry', '--silent', '--loose'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('Azurite did not start within 20 s')), 20_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('successfully listens')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`Azurite exited with code ${code}`)));
  });
  child.once('exit', (code) => options.onExit?.(code));
  const endpoint = `http://127.0.0.1:${port}/${ACCOUNT}`;
  const credential = new StorageSharedKeyCredential(ACCOUNT, KEY);
  const service = new BlobServiceClient(endpoint, credential);
  const container = service.getContainerClient(containerName);
  await container.createIfNotExists();
  return {
    container,
    blobEndpoint: endpoint,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${KEY};BlobEndpoint=${endpoint};`,
    sasUrl(blobName, options = {}) {
      const expiresOn = options.expiresOn ?? new Date(Date.now() + 24 * 3600_000);
      const startsOn = options.startsOn ?? new Date(Date.now() - 5 * 60_000);
      const sas = generateBlobSASQueryParameters({ containerName, blobName, permissions: BlobSASPermissions.parse('r'), startsOn, expiresOn }, credential).toString();
      return `${container.getBlockBlobClient(blobName).url}?${sas}`;
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      await rm(location, { recursive: true, force: true });
    },
  };
}

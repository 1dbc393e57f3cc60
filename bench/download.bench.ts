/**
 * Download resilience: the loader fetches a 32 MiB model package while the link drops 20 times at random offsets.
 * Prints the bytes on the wire against the package size, whether any attempt restarted from byte 0, and what the seed's
 * design (a whole new GET after every drop) would have sent. Two kinds of drop: an abrupt close after the bytes were
 * sent, and a TCP RST, which also loses the bytes in flight. Usage: pnpm bench:download
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yazl from 'yazl';
import { createLogger } from '@edge-ml/edge-kit';
import { Loader } from '@edge-ml/loader';
import { DroppingProxy, FaultServer } from '@edge-ml/testkit';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DROPS = 20;
const PADDING_BYTES = 28 * 1024 * 1024;
/** 64 Mbit/s: generous for a remote site, and slow enough that the client drains its socket as bytes arrive. */
const LINK_BYTES_PER_SECOND = 8 * 1024 * 1024;

async function buildPackage(): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  zip.addBuffer(await readFile(path.join(root, 'testdata/models/yolox_nano.onnx')), 'yolox_nano.onnx', { compress: false });
  zip.addBuffer(await readFile(path.join(root, 'testdata/models/coco_classes.txt')), 'coco_classes.txt');
  // Incompressible padding stands in for a larger model's weights.
  zip.addBuffer(randomBytes(PADDING_BYTES), 'weights.bin', { compress: false });
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function run(pkg: Buffer, mode: 'close' | 'rst') {
  const server = new FaultServer(pkg);
  const upstreamPort = Number(new URL(await server.listen()).port);
  // The drops happen in a TCP proxy that counts the bytes that really crossed to the client.
  const proxy = new DroppingProxy(upstreamPort);
  proxy.bytesPerSecond = LINK_BYTES_PER_SECOND;
  const baseUrl = `http://127.0.0.1:${await proxy.listen()}`;
  // 20 cut points spread at random over the package: each attempt gets a random share before the link drops.
  const shares = Array.from({ length: DROPS }, () => 0.2 + Math.random());
  const scale = (pkg.length * 0.9) / shares.reduce((a, b) => a + b, 0);
  for (const share of shares) proxy.cuts.push({ bytes: Math.max(1, Math.round(share * scale)), mode });
  const storage = await mkdtemp(path.join(tmpdir(), 'bench-download-'));
  const loader = new Loader({ storageRoot: storage, logger: createLogger({ name: 'bench', level: 'silent' }), backoff: { initialDelayMs: 5, maxDelayMs: 20 } });
  await loader.initialise();
  const started = performance.now();
  loader.applyDesired({ version: 1, full: true, properties: { model: { name: 'big', version: '1', url: `${baseUrl}/big.zip?sig=x`, sha256: createHash('sha256').update(pkg).digest('hex') }, policy: { confirmTimeoutSeconds: 0 } } });
  // No inference module answers here: the announcement is the confirmation (confirmTimeoutSeconds 0).
  await loader.whenIdle();
  const elapsedMs = performance.now() - started;
  const announced = await loader.repository.readAnnounced();
  await loader.close();
  await server.close();
  await proxy.close();
  const offsets = server.requests.map((request) => Number(/bytes=(\d+)-/.exec(request.range ?? '')?.[1] ?? 0));
  const restartsFromZero = offsets.slice(1).filter((offset) => offset === 0).length;
  const cutBytes = shares.map((share) => Math.round(share * scale));
  return {
    requests: server.requests.length,
    bytesOnWire: proxy.totalForwarded,
    extraPercent: ((proxy.totalForwarded - pkg.length) / pkg.length) * 100,
    restartsFromZero,
    seedDesignBytes: cutBytes.reduce((a, b) => a + b, 0) + pkg.length,
    elapsedMs,
    installed: announced?.version === '1',
  };
}

const pkg = await buildPackage();
console.log(`# download benchmark: ${(pkg.length / 1024 / 1024).toFixed(1)} MiB package, ${DROPS} drops at random offsets, loader end to end through a ${(LINK_BYTES_PER_SECOND * 8) / 1e6} Mbit/s link (a counting TCP proxy) on loopback`);
const verdicts: string[] = [];
for (const mode of ['close', 'rst'] as const) {
  const result = await run(pkg, mode);
  const label = mode === 'close' ? 'abrupt close' : 'TCP RST';
  console.log(
    `${label.padEnd(13)} requests ${result.requests} | on the wire ${(result.bytesOnWire / 1024 / 1024).toFixed(2)} MiB (+${result.extraPercent.toFixed(2)}%) | ` +
      `restarts from byte 0: ${result.restartsFromZero} | seed design would send ${(result.seedDesignBytes / 1024 / 1024).toFixed(1)} MiB (+${(((result.seedDesignBytes - pkg.length) / pkg.length) * 100).toFixed(0)}%) | ${result.elapsedMs.toFixed(0)} ms | installed: ${result.installed}`,
  );
  verdicts.push(`${result.extraPercent <= 5 && result.restartsFromZero === 0 && result.installed ? 'PASS' : 'FAIL'}  ${label}: ${DROPS} drops cost ${result.extraPercent.toFixed(2)}% extra bytes (target <= 5%), ${result.restartsFromZero} restarts from 0`);
}
console.log(`\n${verdicts.join('\n')}`);

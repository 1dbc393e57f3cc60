import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EdgeHubEmulator } from './edgehub-emulator.js';
import { readJson, sendJson } from './http-util.js';

/**
 * The part of IoT Edge's workload API the SDK uses (api-version 2018-06-28): the trust bundle, and HMAC signing with
 * the module's key, so module keys never leave the emulator. Listens on a unix socket or a loopback port.
 */
export class WorkloadApi {
  private readonly server = http.createServer((request, response) => void this.handle(request, response));

  constructor(private readonly emulator: EdgeHubEmulator) {}

  /** Returns the IOTEDGE_WORKLOADURI for modules: unix:///path or http://127.0.0.1:port/. */
  async listen(socketPath?: string): Promise<string> {
    if (socketPath) this.server.listen(socketPath);
    else this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return socketPath ? `unix://${socketPath}` : `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://workload');
    if (request.method === 'GET' && url.pathname === '/trust-bundle') return sendJson(response, 200, { certificate: this.emulator.tls.caCertificatePem });
    const sign = /^\/modules\/([^/]+)\/genid\/([^/]+)\/sign$/.exec(url.pathname);
    if (request.method === 'POST' && sign?.[1]) {
      try {
        const body = (await readJson(request)) as { keyId?: string; algo?: string; data?: string };
        if (body.algo !== 'HMACSHA256' || typeof body.data !== 'string') return sendJson(response, 400, { message: 'expected { keyId, algo: "HMACSHA256", data: base64 }' });
        const data = Buffer.from(body.data, 'base64').toString('utf8');
        return sendJson(response, 200, { digest: this.emulator.sign(decodeURIComponent(sign[1]), data) });
      } catch (error) {
        return sendJson(response, 400, { message: error instanceof Error ? error.message : String(error) });
      }
    }
    sendJson(response, 404, { message: `no route ${request.method} ${url.pathname}` });
  }
}

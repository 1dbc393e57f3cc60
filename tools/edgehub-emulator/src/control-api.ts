import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EdgeHubEmulator } from './edgehub-emulator.js';
import { readBody, readJson, sendJson } from './http-util.js';
import { TwinKeyRefusedError } from './twin-store.js';

/**
 * The emulator's control API on loopback, for the CLI, tools and tests:
 *   GET  /twins/:module                      the module twin
 *   PATCH /twins/:module/desired             merge-patch the desired properties (400 { errorCode: 400004 } for a key the hub refuses)
 *   GET  /upstream                           messages routed to $upstream
 *   POST /methods/:module/:method            invoke a direct method: { payload, timeoutMs? }
 *   POST /inputs/:module/:input              put the raw body into a module input, as a route would
 *   POST /faults                             { dropTwinResponses: n }
 *   POST /restart                            { keepSessions: boolean, outageMs?: number }
 *   GET  /status                             ports and connected modules
 */
export class ControlApi {
  private readonly server = http.createServer((request, response) => void this.handle(request, response));

  constructor(private readonly emulator: EdgeHubEmulator) {}

  async listen(port = 0): Promise<number> {
    this.server.listen(port, '127.0.0.1');
    await once(this.server, 'listening');
    return (this.server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://control');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    try {
      if (request.method === 'GET' && parts[0] === 'twins' && parts[1]) return sendJson(response, 200, this.emulator.twins.get(parts[1]));
      if (request.method === 'PATCH' && parts[0] === 'twins' && parts[1] && parts[2] === 'desired') {
        const patch = await readJson(request);
        if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return sendJson(response, 400, { message: 'the body must be a JSON object' });
        const version = this.emulator.setDesired(parts[1], patch as Record<string, unknown>);
        return sendJson(response, 200, { $version: version });
      }
      if (request.method === 'GET' && parts[0] === 'upstream') return sendJson(response, 200, this.emulator.upstream);
      if (request.method === 'POST' && parts[0] === 'methods' && parts[1] && parts[2]) {
        const body = ((await readJson(request)) ?? {}) as { payload?: unknown; timeoutMs?: number };
        return sendJson(response, 200, await this.emulator.invokeMethod(parts[1], parts[2], body.payload, body.timeoutMs));
      }
      if (request.method === 'POST' && parts[0] === 'inputs' && parts[1] && parts[2]) {
        const contentType = request.headers['content-type'];
        this.emulator.sendToInput(parts[1], parts[2], await readBody(request), contentType ? { '$.ct': contentType } : {});
        return sendJson(response, 202, { queued: true, module: parts[1], input: parts[2] });
      }
      if (request.method === 'POST' && parts[0] === 'faults') {
        const body = ((await readJson(request)) ?? {}) as { dropTwinResponses?: number };
        this.emulator.faults.dropTwinResponses = Math.max(0, Number(body.dropTwinResponses ?? 0));
        return sendJson(response, 200, this.emulator.faults);
      }
      if (request.method === 'POST' && parts[0] === 'restart') {
        const body = ((await readJson(request)) ?? {}) as { keepSessions?: boolean; outageMs?: number };
        await this.emulator.restart({ keepSessions: body.keepSessions !== false, ...(body.outageMs ? { outageMs: body.outageMs } : {}) });
        return sendJson(response, 200, { restarted: true });
      }
      if (request.method === 'GET' && parts[0] === 'status') {
        return sendJson(response, 200, { deviceId: this.emulator.deviceId, mqttPort: this.emulator.mqttPort, connected: this.emulator.connectedModules() });
      }
      sendJson(response, 404, { message: `no route ${request.method} ${url.pathname}` });
    } catch (error) {
      if (error instanceof TwinKeyRefusedError) return sendJson(response, 400, { errorCode: error.hubErrorCode, message: error.message });
      sendJson(response, 400, { message: error instanceof Error ? error.message : String(error) });
    }
  }
}

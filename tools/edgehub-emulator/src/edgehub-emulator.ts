import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import type { Logger } from '@edge-ml/edge-kit';
import { createTlsMaterial, type TlsMaterial } from './certificates.js';
import { matchRoutes, type Route } from '@edge-ml/contracts';
import { sasTokenProblem, signWithKey } from './sas-token.js';
import { formatPropertyBag, parsePropertyBag, parseQuery } from './topic-properties.js';
import { HUB_ARGUMENT_INVALID, TwinKeyRefusedError, TwinStore } from './twin-store.js';

export interface EmulatorOptions {
  deviceId?: string;
  hubHostName?: string;
  /** 0 picks a free port. */
  mqttPort?: number;
  routes: Route[];
  initialDesired?: Record<string, Record<string, unknown>>;
  logger: Logger;
  /** How long routed messages wait for a module that is not connected (store and forward). */
  messageTtlMs?: number;
}

export interface UpstreamMessage {
  module: string;
  output: string;
  body: string;
  properties: Record<string, string>;
  correlationId?: string;
  contentType?: string;
  receivedAt: string;
}

interface QueuedMessage {
  topic: string;
  payload: Buffer;
  expiresAt: number;
}

interface PendingMethod {
  resolve: (result: { status: number; payload: unknown }) => void;
  timer: NodeJS.Timeout;
}

const SYSTEM_PROPERTIES = new Set(['$.on', '$.mid', '$.cid', '$.ct', '$.ce', '$.uid', '$.to', '$.exp', '$.ifid']);

/**
 * A local stand-in for IoT Edge's edgeHub: an MQTT broker (aedes) over TLS that speaks the IoT Hub MQTT dialect the
 * azure-iot-device SDK uses. Modules authenticate with SAS tokens signed by per-module keys (through the workload
 * API); twins, desired-property patches, routes between module outputs and inputs (with $.cdid/$.cmid added and
 * store-and-forward), $upstream, and direct methods behave as on a device. Faults can be injected for tests.
 */
export class EdgeHubEmulator {
  readonly deviceId: string;
  readonly hubHostName: string;
  readonly twins = new TwinStore();
  readonly upstream: UpstreamMessage[] = [];
  readonly tls: TlsMaterial;
  private readonly keys = new Map<string, string>();
  private readonly clients = new Map<string, Client>();
  private connections = 0;
  private readonly queues = new Map<string, QueuedMessage[]>();
  private readonly pendingMethods = new Map<string, PendingMethod>();
  private broker: Aedes | undefined;
  private server: tls.Server | undefined;
  private port = 0;
  /** How many of the next twin GET requests (from any module) to ignore, as a hub that lost them would. */
  readonly faults = { dropTwinResponses: 0 };

  constructor(private readonly options: EmulatorOptions) {
    this.deviceId = options.deviceId ?? 'edge-device';
    this.hubHostName = options.hubHostName ?? 'emulated-hub.azure-devices.net';
    this.tls = createTlsMaterial(['localhost']);
    for (const [module, desired] of Object.entries(options.initialDesired ?? {})) this.twins.patchDesired(module, desired);
  }

  get mqttPort(): number {
    return this.port;
  }

  /** The key a module's tokens are signed with, created on first use. */
  moduleKey(module: string): string {
    let key = this.keys.get(module);
    if (!key) {
      key = randomBytes(32).toString('base64');
      this.keys.set(module, key);
    }
    return key;
  }

  sign(module: string, data: string): string {
    return signWithKey(this.moduleKey(module), data);
  }

  async start(): Promise<number> {
    await this.createBroker();
    await this.listen(this.options.mqttPort ?? 0);
    return this.port;
  }

  private async createBroker(): Promise<void> {
    this.broker = await Aedes.createBroker({
      authenticate: (client, username, password, done) => this.authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => {
        if (client) this.onPublish(client, packet.topic, Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload));
        done(null);
      },
      authorizeSubscribe: (client, subscription, done) => {
        const module = this.moduleOf(client);
        const ownInputs = `devices/${this.deviceId}/modules/${module}/inputs/`;
        const allowed = subscription.topic.startsWith('$iothub/') || subscription.topic.startsWith(ownInputs);
        if (!allowed) this.options.logger.warn({ module, topic: subscription.topic }, 'emulator.subscribe.denied');
        done(allowed ? null : new Error('subscription not allowed'), allowed ? subscription : null);
        if (allowed && subscription.topic.startsWith(ownInputs)) setImmediate(() => this.flushQueue(module));
      },
    });
    this.broker.on('clientDisconnect', (client) => {
      const module = this.moduleOf(client);
      if (this.clients.get(module) === client) this.clients.delete(module);
      this.options.logger.info({ module }, 'emulator.module.disconnected');
    });
  }

  private async listen(port: number): Promise<void> {
    const broker = this.broker;
    if (!broker) throw new Error('broker not started');
    this.server = tls.createServer({ key: this.tls.serverKeyPem, cert: this.tls.serverCertificatePem }, (socket) => broker.handle(socket));
    this.server.listen(port, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
  }

  /**
   * Stops answering for `outageMs`, then comes back on the same port. With `keepSessions: false` the broker is new,
   * as after an edgeHub restart that lost its state: clients must subscribe again.
   */
  async restart(options: { keepSessions: boolean; outageMs?: number }): Promise<void> {
    await this.closeServer();
    if (!options.keepSessions) {
      await new Promise<void>((resolve) => this.broker?.close(() => resolve()));
      this.clients.clear();
    }
    if (options.outageMs) await new Promise((resolve) => setTimeout(resolve, options.outageMs));
    // A new broker has no sessions; either way it comes back on the port modules know.
    if (!options.keepSessions) await this.createBroker();
    await this.listen(this.port);
    this.options.logger.info({ keepSessions: options.keepSessions }, 'emulator.restarted');
  }

  /** Ends every connection and stops listening; with `restart` it comes back. */
  private async closeServer(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const client of this.clients.values()) client.close();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async stop(): Promise<void> {
    for (const pending of this.pendingMethods.values()) clearTimeout(pending.timer);
    await this.closeServer();
    await new Promise<void>((resolve) => (this.broker ? this.broker.close(() => resolve()) : resolve()));
  }

  /** Patches a module's desired properties and pushes the patch to it if it is connected; TwinKeyRefusedError (nothing changed) for a key the hub refuses. */
  setDesired(module: string, patch: Record<string, unknown>): number {
    const version = this.twins.patchDesired(module, patch);
    const client = this.clients.get(module);
    if (client) this.deliver(client, `$iothub/twin/PATCH/properties/desired/?$version=${version}`, Buffer.from(JSON.stringify({ ...patch, $version: version })));
    this.options.logger.info({ module, version }, 'emulator.desired.patched');
    return version;
  }

  isConnected(module: string): boolean {
    return this.clients.has(module);
  }

  /** How many connections modules have opened since start: a client made anew opens another. */
  get connectionCount(): number {
    return this.connections;
  }

  connectedModules(): string[] {
    return [...this.clients.keys()].sort();
  }

  /** Calls a module's direct method and waits for its answer. */
  invokeMethod(module: string, method: string, payload: unknown, timeoutMs = 30_000): Promise<{ status: number; payload: unknown }> {
    const client = this.clients.get(module);
    if (!client) return Promise.resolve({ status: 404, payload: { error: `module ${module} is not connected` } });
    const requestId = randomUUID();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pendingMethods.delete(requestId);
        resolve({ status: 504, payload: { error: `module ${module} did not answer ${method} within ${timeoutMs} ms` } });
      }, timeoutMs);
      this.pendingMethods.set(requestId, { resolve, timer });
      this.deliver(client, `$iothub/methods/POST/${method}/?$rid=${requestId}`, Buffer.from(JSON.stringify(payload ?? null)));
    });
  }

  private moduleOf(client: Client): string {
    return client.id.split('/')[1] ?? client.id;
  }

  private authenticate(client: Client, _username: string | undefined, password: Buffer | undefined, done: (error: AuthenticateError | null, success: boolean | null) => void): void {
    const [deviceId, module] = client.id.split('/');
    const refuse = (reason: string) => {
      this.options.logger.warn({ clientId: client.id, reason }, 'emulator.auth.refused');
      const error = new Error(reason) as AuthenticateError;
      error.returnCode = 5;
      done(error, false);
    };
    if (deviceId !== this.deviceId || !module) return refuse(`client id ${client.id} is not <${this.deviceId}>/<module>`);
    const problem = sasTokenProblem(password?.toString() ?? '', this.moduleKey(module), `${this.hubHostName}/devices/${deviceId}/modules/${module}`);
    if (problem) return refuse(problem);
    const previous = this.clients.get(module);
    this.clients.set(module, client);
    this.connections += 1;
    if (previous && previous !== client) previous.close();
    this.options.logger.info({ module }, 'emulator.module.connected');
    done(null, true);
  }

  private deliver(client: Client, topic: string, payload: Buffer): void {
    client.publish({ cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false }, (error) => {
      if (error) this.options.logger.warn({ err: error, topic }, 'emulator.deliver.failed');
    });
  }

  private onPublish(client: Client, topic: string, payload: Buffer): void {
    const module = this.moduleOf(client);
    if (topic.startsWith('$iothub/twin/GET/')) {
      if (this.faults.dropTwinResponses > 0) {
        this.faults.dropTwinResponses -= 1;
        this.options.logger.info({ module }, 'emulator.fault.twin-response-dropped');
        return;
      }
      const { $rid } = parseQuery(topic);
      const twin = this.twins.get(module);
      this.deliver(client, `$iothub/twin/res/200/?$rid=${$rid}`, Buffer.from(JSON.stringify({ desired: twin.desired, reported: twin.reported })));
      return;
    }
    if (topic.startsWith('$iothub/twin/PATCH/properties/reported/')) {
      const { $rid } = parseQuery(topic);
      // A refusal carries a body with errorCode: the SDK ignores the status and fails the update only on that.
      const refuse = (message: string) => this.deliver(client, `$iothub/twin/res/400/?$rid=${$rid}`, Buffer.from(JSON.stringify({ errorCode: HUB_ARGUMENT_INVALID, message })));
      let patch: unknown;
      try {
        patch = JSON.parse(payload.toString('utf8'));
      } catch {
        refuse('the reported properties patch is not JSON');
        return;
      }
      if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
        refuse('the reported properties patch must be a JSON object');
        return;
      }
      let version: number;
      try {
        version = this.twins.patchReported(module, patch as Record<string, unknown>);
      } catch (error) {
        if (!(error instanceof TwinKeyRefusedError)) throw error;
        this.options.logger.warn({ module, reason: error.message }, 'emulator.reported.refused');
        refuse(error.message);
        return;
      }
      this.deliver(client, `$iothub/twin/res/204/?$rid=${$rid}&$version=${version}`, Buffer.alloc(0));
      return;
    }
    if (topic.startsWith('$iothub/methods/res/')) {
      const status = Number(topic.split('/')[3]);
      const { $rid } = parseQuery(topic);
      const pending = $rid ? this.pendingMethods.get($rid) : undefined;
      if (!pending || !$rid) return;
      clearTimeout(pending.timer);
      this.pendingMethods.delete($rid);
      let body: unknown = payload.toString('utf8');
      try {
        body = JSON.parse(String(body));
      } catch {
        // not JSON: keep the text
      }
      pending.resolve({ status, payload: body });
      return;
    }
    this.options.logger.debug({ module, topic }, 'emulator.publish');
    const eventsPrefix = `devices/${this.deviceId}/modules/${module}/messages/events/`;
    // The SDK ends the property bag with a slash.
    if (topic.startsWith(eventsPrefix)) this.route(module, parsePropertyBag(topic.slice(eventsPrefix.length).replace(/\/$/, '')), payload);
  }

  private route(module: string, properties: Record<string, string>, payload: Buffer): void {
    const output = properties['$.on'] ?? '';
    const routes = matchRoutes(this.options.routes, module, output);
    if (routes.length === 0) this.options.logger.warn({ module, output }, 'emulator.message.unrouted');
    const forwarded: Record<string, string> = { ...properties, '$.cdid': this.deviceId, '$.cmid': module };
    delete forwarded['$.on'];
    for (const route of routes) {
      if (route.to.kind === 'upstream') {
        const user = Object.fromEntries(Object.entries(properties).filter(([key]) => !SYSTEM_PROPERTIES.has(key)));
        this.upstream.push({
          module,
          output,
          body: payload.toString('utf8'),
          properties: user,
          ...(properties['$.cid'] ? { correlationId: properties['$.cid'] } : {}),
          ...(properties['$.ct'] ? { contentType: properties['$.ct'] } : {}),
          receivedAt: new Date().toISOString(),
        });
        continue;
      }
      this.enqueue(route.to.module, route.to.input, forwarded, payload);
    }
  }

  /**
   * Puts a message into a module's input as a route would, from outside any module (the CLI's `send`): delivered now
   * if the module is connected, else kept for the store-and-forward time.
   */
  sendToInput(module: string, input: string, payload: Buffer, properties: Record<string, string> = {}): void {
    this.options.logger.info({ module, input, sizeBytes: payload.length }, 'emulator.message.injected');
    this.enqueue(module, input, { ...properties, '$.cdid': this.deviceId }, payload);
  }

  private enqueue(module: string, input: string, properties: Record<string, string>, payload: Buffer): void {
    const topic = `devices/${this.deviceId}/modules/${module}/inputs/${input}/${formatPropertyBag(properties)}`;
    const queue = this.queues.get(module) ?? [];
    queue.push({ topic, payload, expiresAt: Date.now() + (this.options.messageTtlMs ?? 7_200_000) });
    this.queues.set(module, queue);
    this.flushQueue(module);
  }

  /** Delivers a module's queued messages once it is connected and subscribed to its inputs. */
  private flushQueue(module: string): void {
    const client = this.clients.get(module);
    const queue = this.queues.get(module);
    if (!client || !queue || queue.length === 0) return;
    const subscribed = (client as unknown as { subscriptions?: Record<string, unknown> }).subscriptions ?? {};
    if (!Object.keys(subscribed).some((topic) => topic.startsWith(`devices/${this.deviceId}/modules/${module}/inputs/`))) return;
    const now = Date.now();
    for (const message of queue.splice(0)) {
      if (message.expiresAt >= now) this.deliver(client, message.topic, message.payload);
    }
  }

  /** The environment a module process needs to start through the IoT Edge path of ModuleClient.fromEnvironment. */
  moduleEnvironment(module: string, workloadUri: string): Record<string, string> {
    return {
      IOTEDGE_WORKLOADURI: workloadUri,
      IOTEDGE_DEVICEID: this.deviceId,
      IOTEDGE_MODULEID: module,
      IOTEDGE_IOTHUBHOSTNAME: this.hubHostName,
      IOTEDGE_AUTHSCHEME: 'sasToken',
      IOTEDGE_MODULEGENERATIONID: 'gen-1',
      IOTEDGE_GATEWAYHOSTNAME: `localhost:${this.port}`,
    };
  }
}

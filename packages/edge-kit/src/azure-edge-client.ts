import { EventEmitter } from 'node:events';
import type AzureIotDevice from 'azure-iot-device';
import type { Twin } from 'azure-iot-device';
import type { Logger } from 'pino';
import { backoffDelayMs } from './backoff.js';
import type { DesiredDocument, DesiredListener, EdgeClient, EdgeMessage, InputHandler, MethodHandler } from './edge-client.js';
import { MAX_EDGE_MESSAGE_BYTES } from './edge-client.js';
import { MessageTooLargeError, TimeoutError } from './errors.js';
import { sleep, withTimeout } from './timeout.js';

// azure-iot-device is CommonJS without named ESM exports.
/**
 * The Azure IoT SDK is loaded when a client is first created, not when this package is imported: a process that
 * never connects (EDGE_MODE=off, tools, the inference workers) does not carry it (~15 MiB of RSS).
 */
type Sdk = typeof AzureIotDevice;
type Message = InstanceType<Sdk['Message']>;
type ModuleClient = InstanceType<Sdk['ModuleClient']>;
let sdk: Sdk | undefined;
async function loadSdk(): Promise<Sdk> {
  sdk ??= (await import('azure-iot-device')).default;
  return sdk;
}

export type EdgeTransport = 'mqtt' | 'amqp' | 'mqtt-ws' | 'amqp-ws';

export interface AzureEdgeClientOptions {
  transport: EdgeTransport;
  logger: Logger;
  /** Twin requests get no timeout from the SDK; this adds one. */
  twinTimeoutMs?: number;
  openRetry?: { initialDelayMs: number; maxDelayMs: number };
  /**
   * How often to fetch the full twin as a liveness check. The SDK can stop retrying after a refused reconnect without
   * telling anyone; a fetch that times out re-creates the client, one that succeeds re-delivers the desired state.
   */
  livenessIntervalMs?: number;
  /** Builds the SDK client; tests and tools can pass their own. Defaults to ModuleClient.fromEnvironment. */
  createClient?: (transport: EdgeTransport) => Promise<ModuleClient>;
}

async function loadTransport(transport: EdgeTransport): Promise<unknown> {
  switch (transport) {
    case 'mqtt':
      return (await import('azure-iot-device-mqtt')).Mqtt;
    case 'mqtt-ws':
      return (await import('azure-iot-device-mqtt')).MqttWs;
    case 'amqp':
      return (await import('azure-iot-device-amqp')).Amqp;
    case 'amqp-ws':
      return (await import('azure-iot-device-amqp')).AmqpWs;
  }
}

async function createModuleClientFromEnvironment(transport: EdgeTransport): Promise<ModuleClient> {
  return (await loadSdk()).ModuleClient.fromEnvironment(await loadTransport(transport));
}

function toEdgeMessage(message: Message): EdgeMessage {
  const properties: Record<string, string> = {};
  for (let index = 0; index < message.properties.count(); index += 1) {
    const item = message.properties.getItem(index);
    if (item) properties[item.key] = String(item.value);
  }
  const data = message.getData() as Buffer | string;
  return {
    body: Buffer.isBuffer(data) ? data : Buffer.from(String(data)),
    properties,
    ...(message.contentType ? { contentType: message.contentType } : {}),
    ...(message.contentEncoding ? { contentEncoding: message.contentEncoding } : {}),
    ...(message.messageId ? { messageId: String(message.messageId) } : {}),
    ...(message.correlationId ? { correlationId: String(message.correlationId) } : {}),
  };
}

function toSdkMessage(message: EdgeMessage): Message {
  if (!sdk) throw new Error('the Azure IoT SDK is not loaded: no client was created');
  const sdkMessage = new sdk.Message(message.body);
  for (const [key, value] of Object.entries(message.properties)) sdkMessage.properties.add(key, value);
  if (message.contentType) sdkMessage.contentType = message.contentType as Message['contentType'];
  if (message.contentEncoding) sdkMessage.contentEncoding = message.contentEncoding as Message['contentEncoding'];
  if (message.messageId) sdkMessage.messageId = message.messageId;
  if (message.correlationId) sdkMessage.correlationId = message.correlationId;
  return sdkMessage;
}

const withoutMetadata = (properties: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(properties).filter(([key, value]) => !key.startsWith('$') && typeof value !== 'function'));

function desiredOf(properties: Record<string, unknown>, full: boolean, reported?: Record<string, unknown>): DesiredDocument {
  const version = typeof properties.$version === 'number' ? properties.$version : 0;
  // The SDK's reported object carries its own update() method: a function is no property.
  return { version, properties: withoutMetadata(properties), full, ...(reported ? { reported: structuredClone(withoutMetadata(reported)) } : {}) };
}

/**
 * EdgeClient over the azure-iot-device ModuleClient, hardened for what the SDK leaves to its user:
 * twin requests time out; the full twin is fetched after the SDK reconnects on its own, because desired changes made
 * while the hub was unreachable are not replayed; a twin timeout recreates the client, because a hub that lost the
 * session leaves the SDK's topics (twin, inputs) unsubscribed; a periodic twin fetch catches an SDK that stopped retrying silently; and the first open is retried,
 * since the SDK reports a refused connection once and gives up.
 */
export class AzureEdgeClient implements EdgeClient {
  private client: ModuleClient | undefined;
  private twin: Twin | undefined;
  private readonly desiredListeners: DesiredListener[] = [];
  private readonly inputHandlers = new Map<string, InputHandler>();
  private readonly methodHandlers = new Map<string, MethodHandler>();
  private readonly events = new EventEmitter();
  private readonly twinTimeoutMs: number;
  private readonly openRetry: { initialDelayMs: number; maxDelayMs: number };
  private readonly createClient: (transport: EdgeTransport) => Promise<ModuleClient>;
  private closed = false;
  private reconnecting: Promise<void> | undefined;
  private lifetime = new AbortController();
  private livenessTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: AzureEdgeClientOptions) {
    this.twinTimeoutMs = options.twinTimeoutMs ?? 30_000;
    this.openRetry = options.openRetry ?? { initialDelayMs: 1_000, maxDelayMs: 60_000 };
    this.createClient = options.createClient ?? createModuleClientFromEnvironment;
  }

  onDesired(listener: DesiredListener): void {
    this.desiredListeners.push(listener);
  }

  onInput(inputName: string, handler: InputHandler): void {
    this.inputHandlers.set(inputName, handler);
  }

  onMethod(methodName: string, handler: MethodHandler): void {
    this.methodHandlers.set(methodName, handler);
    if (this.client) this.registerMethod(this.client, methodName);
  }

  async start(signal?: AbortSignal): Promise<void> {
    if (signal) signal.addEventListener('abort', () => this.lifetime.abort(signal.reason), { once: true });
    await this.connect(this.lifetime.signal);
    const intervalMs = this.options.livenessIntervalMs ?? 5 * 60_000;
    this.livenessTimer = setInterval(() => {
      if (this.twin && !this.reconnecting) void this.refetchDesired(this.twin);
      else if (!this.client && !this.reconnecting) this.scheduleReconnect('liveness check found no client');
    }, intervalMs);
    this.livenessTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.livenessTimer);
    this.lifetime.abort(new Error('client closed'));
    const client = this.client;
    this.client = undefined;
    this.twin = undefined;
    if (client) await client.close().catch((error: unknown) => this.options.logger.warn({ err: error }, 'edge.close.failed'));
  }

  async patchReported(patch: Record<string, unknown>): Promise<void> {
    // The SDK merges reported properties into an object that carries its own update() method.
    if ('update' in patch) throw new TypeError('a reported property named "update" would overwrite the SDK\'s properties.reported.update(); choose another name');
    const twin = await this.currentTwin();
    await this.guardTwin(
      new Promise<void>((resolve, reject) => twin.properties.reported.update(patch, (error?: Error) => (error ? reject(error) : resolve()))),
      'reported properties update',
    );
  }

  async sendOutput(outputName: string, message: EdgeMessage): Promise<void> {
    if (message.body.length > MAX_EDGE_MESSAGE_BYTES) throw new MessageTooLargeError(outputName, message.body.length, MAX_EDGE_MESSAGE_BYTES);
    const client = await this.currentClient();
    await withTimeout(client.sendOutputEvent(outputName, toSdkMessage(message)), this.twinTimeoutMs, `send to output ${outputName}`);
  }

  private async currentClient(): Promise<ModuleClient> {
    if (this.reconnecting) await this.reconnecting;
    if (!this.client) throw new Error('edge client is not connected');
    return this.client;
  }

  private async currentTwin(): Promise<Twin> {
    await this.currentClient();
    if (!this.twin) throw new Error('edge client has no twin yet');
    return this.twin;
  }

  /** A twin request that times out means the hub lost our subscriptions: recreate the client in the background. */
  private async guardTwin<T>(promise: Promise<T>, operation: string): Promise<T> {
    try {
      return await withTimeout(promise, this.twinTimeoutMs, operation);
    } catch (error) {
      if (error instanceof TimeoutError) this.scheduleReconnect(operation);
      throw error;
    }
  }

  private scheduleReconnect(reason: string): void {
    if (this.closed || this.reconnecting) return;
    this.options.logger.warn({ reason }, 'edge.reconnect');
    this.reconnecting = (async () => {
      const old = this.client;
      this.client = undefined;
      this.twin = undefined;
      await old?.close().catch(() => undefined);
      old?.removeAllListeners();
      await this.connect(this.lifetime.signal);
    })()
      .catch((error: unknown) => this.options.logger.error({ err: error }, 'edge.reconnect.failed'))
      .finally(() => {
        this.reconnecting = undefined;
      });
  }

  private async connect(signal: AbortSignal): Promise<void> {
    for (let attempt = 0; ; attempt += 1) {
      signal.throwIfAborted();
      let client: ModuleClient | undefined;
      try {
        await loadSdk();
        client = await this.createClient(this.options.transport);
        this.attach(client);
        await withTimeout(client.open(), this.twinTimeoutMs, 'open');
        const twin = await withTimeout(client.getTwin(), this.twinTimeoutMs, 'get twin');
        this.client = client;
        this.twin = twin;
        twin.on('properties.desired', (patch: Record<string, unknown>) => this.deliverDesired(desiredOf(patch, false)));
        this.options.logger.info({ attempt }, 'edge.connected');
        await this.deliverDesired(desiredOf(twin.properties.desired as Record<string, unknown>, true, twin.properties.reported as unknown as Record<string, unknown>));
        return;
      } catch (error) {
        client?.removeAllListeners();
        await client?.close().catch(() => undefined);
        const delayMs = backoffDelayMs(attempt, this.openRetry);
        this.options.logger.warn({ err: error, attempt, delayMs }, 'edge.connect.failed');
        await sleep(delayMs, signal);
      }
    }
  }

  private attach(client: ModuleClient): void {
    client.on('error', (error: Error) => this.options.logger.error({ err: error }, 'edge.client.error'));
    // The SDK reconnects by itself but replays nothing: fetch the whole twin after every reconnect. If the hub lost
    // the session, the SDK's subscriptions are stale, the fetch times out, and the client is made anew (guardTwin).
    // Re-creating on every reconnect instead would close clients in the middle of the SDK's own retries, which go on
    // after close() and take the connection back from the new client.
    client.on('connect', () => {
      if (this.client === client && this.twin) void this.refetchDesired(this.twin);
    });
    client.on('disconnect', () => {
      this.options.logger.warn('edge.disconnected');
      if (this.client === client) this.scheduleReconnect('disconnect');
    });
    client.on('inputMessage', (inputName: string, message: Message) => void this.deliverInput(client, inputName, message));
    for (const methodName of this.methodHandlers.keys()) this.registerMethod(client, methodName);
  }

  private async refetchDesired(twin: Twin): Promise<void> {
    try {
      const fresh = await this.guardTwin(twin.get(), 'twin refresh after reconnect');
      this.options.logger.info('edge.twin.refreshed');
      await this.deliverDesired(desiredOf(fresh.properties.desired as Record<string, unknown>, true, fresh.properties.reported as unknown as Record<string, unknown>));
    } catch (error) {
      this.options.logger.warn({ err: error }, 'edge.twin.refresh.failed');
    }
  }

  private async deliverDesired(desired: DesiredDocument): Promise<void> {
    for (const listener of this.desiredListeners) {
      try {
        await listener(desired);
      } catch (error) {
        this.options.logger.error({ err: error, version: desired.version }, 'edge.desired.handler.failed');
      }
    }
    this.events.emit('desired', desired);
  }

  private async deliverInput(client: ModuleClient, inputName: string, message: Message): Promise<void> {
    const handler = this.inputHandlers.get(inputName);
    try {
      if (!handler) this.options.logger.warn({ inputName }, 'edge.input.unhandled');
      else await handler(toEdgeMessage(message));
    } catch (error) {
      this.options.logger.error({ err: error, inputName }, 'edge.input.handler.failed');
    } finally {
      await client.complete(message).catch(() => undefined);
    }
  }

  private registerMethod(client: ModuleClient, methodName: string): void {
    client.onMethod(methodName, (request, response) => {
      if (request && response) void this.answerMethod(methodName, request.payload, response);
    });
  }

  private async answerMethod(
    methodName: string,
    payload: unknown,
    response: { send: (status: number, payload: unknown) => Promise<void> },
  ): Promise<void> {
    const handler = this.methodHandlers.get(methodName);
    let status = 501;
    let body: unknown = { error: `method ${methodName} is not implemented` };
    try {
      if (handler) ({ status, payload: body } = await handler(payload));
    } catch (error) {
      status = 500;
      body = { error: error instanceof Error ? error.message : String(error) };
      this.options.logger.error({ err: error, methodName }, 'edge.method.failed');
    }
    await response.send(status, body).catch((error: unknown) => this.options.logger.warn({ err: error, methodName }, 'edge.method.response.failed'));
  }
}

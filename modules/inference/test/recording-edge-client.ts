import { describeTwinKeyViolation, findTwinKeyViolation } from '@edge-ml/contracts';
import { applyMergePatch, type DesiredListener, type EdgeClient, type EdgeMessage, type InputHandler, type MethodHandler } from '@edge-ml/edge-kit';

/**
 * An EdgeClient that records what the module sends and delivers input messages on demand. Like the Azure adapter, it
 * refuses to send while disconnected, and delivers the full desired document when it (re)connects; reported patches
 * are merged as the hub merges them (RFC 7396), so stale keys stay visible, and one with a key the hub refuses (`.`,
 * `$`, space, control characters, over 1 KB) is refused whole, as the SDK surfaces the hub's 400 (kept in `refused`).
 */
export class RecordingEdgeClient implements EdgeClient {
  readonly outputs: { outputName: string; body: unknown; properties: Record<string, string>; correlationId?: string }[] = [];
  reportedState: Record<string, unknown> = {};
  /** Reported patches the hub would have refused, with its reason. */
  readonly refused: { patch: Record<string, unknown>; reason: string }[] = [];
  connected = false;
  private readonly desiredListeners: DesiredListener[] = [];
  private readonly inputs = new Map<string, InputHandler>();

  async start(): Promise<void> {
    await this.connect();
  }
  async close(): Promise<void> {
    this.connected = false;
  }
  onDesired(listener: DesiredListener): void {
    this.desiredListeners.push(listener);
  }
  onInput(inputName: string, handler: InputHandler): void {
    this.inputs.set(inputName, handler);
  }
  onMethod(_methodName: string, _handler: MethodHandler): void {}
  async patchReported(patch: Record<string, unknown>): Promise<void> {
    if (!this.connected) throw new Error('edge client is not connected');
    const violation = findTwinKeyViolation(patch);
    if (violation) {
      const reason = describeTwinKeyViolation(violation);
      this.refused.push({ patch: structuredClone(patch), reason });
      throw new Error(`the hub refused the reported properties: ${reason}`);
    }
    this.reportedState = applyMergePatch(this.reportedState, structuredClone(patch));
  }
  async sendOutput(outputName: string, message: EdgeMessage): Promise<void> {
    if (!this.connected) throw new Error('edge client is not connected');
    this.outputs.push({ outputName, body: JSON.parse(message.body.toString('utf8')), properties: message.properties, ...(message.correlationId ? { correlationId: message.correlationId } : {}) });
  }

  /** Connects (again) and delivers the full desired document, as the adapter does after every (re)connect. */
  async connect(): Promise<void> {
    this.connected = true;
    for (const listener of this.desiredListeners) await listener({ version: 1, properties: {}, full: true, reported: structuredClone(this.reportedState) });
  }

  /** Delivers a message on an input and waits for its handler, as edgeHub delivers DLModelInput: a Buffer as it is, anything else as JSON. */
  async deliver(inputName: string, body: unknown, properties: Record<string, string> = {}, messageId?: string): Promise<void> {
    const handler = this.inputs.get(inputName);
    if (!handler) throw new Error(`no handler for input ${inputName}`);
    await handler({ body: Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body)), properties, ...(messageId ? { messageId } : {}) });
  }

  /** The bodies sent on one output, oldest first. */
  sent<T = unknown>(outputName: string): T[] {
    return this.outputs.filter((output) => output.outputName === outputName).map((output) => output.body as T);
  }
}

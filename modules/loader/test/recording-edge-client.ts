import { describeTwinKeyViolation, findTwinKeyViolation, MODEL_STATUS_INPUT, type ModelStatusMessage, type RichModelMessage } from '@edge-ml/contracts';
import { applyMergePatch, type DesiredListener, type EdgeClient, type EdgeMessage, type InputHandler, type MethodHandler } from '@edge-ml/edge-kit';

/** How the stand-in inference module answers an announcement: accept it, reject it with a code, or stay silent. */
export type Verdict = { outcome: 'accepted' } | { outcome: 'rejected'; code: string; message?: string } | 'silent';

/**
 * An EdgeClient that records what a module sends, for tests of module logic. Reported properties are applied as the
 * hub applies them: JSON merge patches, nested, so a key the loader stops sending stays until it sends null; a patch
 * with a key the hub refuses (`.`, `$`, space, control characters, over 1 KB) is refused whole, as the SDK surfaces
 * the hub's 400, and kept in `refused`.
 * `answer` plays the inference module: it answers each DLModelOutput on DLModelStatusInput, asynchronously, as a
 * routed message arrives.
 */
export class RecordingEdgeClient implements EdgeClient {
  readonly outputs: { outputName: string; body: unknown }[] = [];
  readonly reported: Record<string, unknown>[] = [];
  /** Patches the hub would have refused, with its reason. */
  readonly refused: { patch: Record<string, unknown>; reason: string }[] = [];
  readonly methods = new Map<string, MethodHandler>();
  readonly inputs = new Map<string, InputHandler>();
  reportedState: Record<string, unknown> = {};
  /** The stand-in inference module's answer to an announcement; accepting everything by default. */
  answer: (announcement: RichModelMessage) => Verdict = () => ({ outcome: 'accepted' });

  async start(): Promise<void> {}
  async close(): Promise<void> {}
  onDesired(_listener: DesiredListener): void {}
  onInput(inputName: string, handler: InputHandler): void {
    this.inputs.set(inputName, handler);
  }
  onMethod(methodName: string, handler: MethodHandler): void {
    this.methods.set(methodName, handler);
  }
  async patchReported(patch: Record<string, unknown>): Promise<void> {
    const violation = findTwinKeyViolation(patch);
    if (violation) {
      const reason = describeTwinKeyViolation(violation);
      this.refused.push({ patch: structuredClone(patch), reason });
      throw new Error(`the hub refused the reported properties: ${reason}`);
    }
    this.reported.push(structuredClone(patch));
    this.reportedState = applyMergePatch(this.reportedState, structuredClone(patch));
  }
  async sendOutput(outputName: string, message: EdgeMessage): Promise<void> {
    const body = JSON.parse(message.body.toString('utf8')) as RichModelMessage;
    this.outputs.push({ outputName, body });
    if (outputName !== 'DLModelOutput') return;
    const verdict = this.answer(body);
    if (verdict === 'silent') return;
    setImmediate(() => void this.deliver(MODEL_STATUS_INPUT, statusFor(body, verdict)));
  }
  /** Delivers a message to an input as edgeHub would (the body as JSON). */
  async deliver(inputName: string, body: unknown): Promise<void> {
    await this.inputs.get(inputName)?.({ body: Buffer.from(JSON.stringify(body)), properties: {} });
  }
  states(): string[] {
    return this.reported.map((patch) => (patch.modelUpdate as { state: string } | undefined)?.state).filter((state): state is string => state !== undefined);
  }
  announcements(): string[] {
    return this.outputs.filter((output) => output.outputName === 'DLModelOutput').map((output) => (output.body as RichModelMessage).version);
  }
}

export function statusFor(announcement: RichModelMessage, verdict: Exclude<Verdict, 'silent'>, trigger: ModelStatusMessage['trigger'] = 'message'): ModelStatusMessage {
  const base = { schemaVersion: 1 as const, name: announcement.name, version: announcement.version, sha256: announcement.sha256, trigger, at: new Date().toISOString() };
  return verdict.outcome === 'accepted' ? { ...base, outcome: 'accepted', loadMs: 12, warmupMs: 3 } : { ...base, outcome: 'rejected', error: { code: verdict.code, message: verdict.message ?? `${verdict.code} (test)` } };
}

import type { DesiredListener, EdgeClient, EdgeMessage, InputHandler, MethodHandler } from '@edge-ml/edge-kit';

/** An EdgeClient that records what a module sends: for tests of module logic until the edgeHub emulator runs them for real. */
export class RecordingEdgeClient implements EdgeClient {
  readonly outputs: { outputName: string; body: unknown }[] = [];
  readonly reported: Record<string, unknown>[] = [];
  readonly methods = new Map<string, MethodHandler>();
  reportedState: Record<string, unknown> = {};

  async start(): Promise<void> {}
  async close(): Promise<void> {}
  onDesired(_listener: DesiredListener): void {}
  onInput(_inputName: string, _handler: InputHandler): void {}
  onMethod(methodName: string, handler: MethodHandler): void {
    this.methods.set(methodName, handler);
  }
  async patchReported(patch: Record<string, unknown>): Promise<void> {
    this.reported.push(structuredClone(patch));
    this.reportedState = { ...this.reportedState, ...patch };
  }
  async sendOutput(outputName: string, message: EdgeMessage): Promise<void> {
    this.outputs.push({ outputName, body: JSON.parse(message.body.toString('utf8')) });
  }
  states(): string[] {
    return this.reported.map((patch) => (patch.modelUpdate as { state: string } | undefined)?.state).filter((state): state is string => state !== undefined);
  }
}

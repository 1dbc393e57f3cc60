import type { IncomingMessage, ServerResponse } from 'node:http';

/** edgeHub's limit on one message (IoT Hub's 256 KB); a bigger body is refused as edgeHub would refuse the message. */
export const MAX_MESSAGE_BYTES = 256 * 1024;

export async function readBody(request: IncomingMessage, limitBytes = MAX_MESSAGE_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) throw new Error(`request body over ${limitBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export async function readJson(request: IncomingMessage, limitBytes = 1024 * 1024): Promise<unknown> {
  const text = (await readBody(request, limitBytes)).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

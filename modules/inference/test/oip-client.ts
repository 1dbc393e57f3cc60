import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';

const SPEC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/oip/spec');
const OIP_ID = 'https://github.com/kserve/open-inference-protocol/specification/protocol/open_inference_rest.yaml';
const BINARY_ID = 'https://github.com/triton-inference-server/server/docs/protocol/extension_binary_data.md';

/** Validators for the protocol's published REST objects (src/oip/spec/, with their source), by component name. */
export function oipSchemaValidator(): { oip: (name: string) => ValidateFunction; binary: (name: string) => ValidateFunction } {
  // strict: false because the OpenAPI components carry keywords JSON Schema does not know (x-examples).
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addSchema(JSON.parse(readFileSync(path.join(SPEC, 'open-inference-rest.schema.json'), 'utf8')) as object);
  ajv.addSchema(JSON.parse(readFileSync(path.join(SPEC, 'binary-tensor-data.schema.json'), 'utf8')) as object);
  const compiled = new Map<string, ValidateFunction>();
  const get = (id: string, name: string) => {
    const ref = `${id}#/components/schemas/${name}`;
    let validate = compiled.get(ref);
    if (!validate) {
      if (!ajv.getSchema(ref)) throw new Error(`no schema ${ref}`);
      validate = ajv.compile({ $ref: ref });
      compiled.set(ref, validate);
    }
    return validate;
  };
  return { oip: (name) => get(OIP_ID, name), binary: (name) => get(BINARY_ID, name) };
}

/** A binary-extension body: the JSON object, then the tensors' bytes, with the header that splits them. */
export function binaryBody(json: unknown, tensors: readonly Uint8Array[]): { body: Buffer; headers: Record<string, string> } {
  const head = Buffer.from(JSON.stringify(json));
  return {
    body: Buffer.concat([head, ...tensors.map((tensor) => Buffer.from(tensor.buffer, tensor.byteOffset, tensor.byteLength))]),
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(head.length) },
  };
}

/** A response of the binary extension split into its JSON object and the bytes after it. */
export async function splitBinaryResponse(response: Response): Promise<{ json: unknown; binary: Buffer }> {
  const body = Buffer.from(await response.arrayBuffer());
  const header = response.headers.get('inference-header-content-length');
  if (header === null) return { json: JSON.parse(body.toString('utf8')), binary: Buffer.alloc(0) };
  const length = Number(header);
  return { json: JSON.parse(body.subarray(0, length).toString('utf8')), binary: body.subarray(length) };
}

/** One BYTES element in binary form: its 4-byte little-endian length, then its bytes. */
export function bytesElement(bytes: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32LE(bytes.length);
  return Buffer.concat([length, bytes]);
}

import { createHmac, timingSafeEqual } from 'node:crypto';

/** HMAC-SHA256 of `data` with a base64 key, base64-encoded: what the workload API's sign endpoint returns. */
export function signWithKey(keyBase64: string, data: string): string {
  return createHmac('sha256', Buffer.from(keyBase64, 'base64')).update(data).digest('base64');
}

export interface ParsedSasToken {
  resource: string;
  signature: string;
  expiry: number;
}

export function parseSasToken(token: string): ParsedSasToken | undefined {
  if (!token.startsWith('SharedAccessSignature ')) return undefined;
  // Raw fields: the signature covers the resource exactly as encoded in the token.
  const fields = new Map(
    token
      .slice('SharedAccessSignature '.length)
      .split('&')
      .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)] as const),
  );
  const resource = fields.get('sr');
  const signature = fields.get('sig') ? decodeURIComponent(fields.get('sig') ?? '') : undefined;
  const expiry = Number(fields.get('se'));
  if (!resource || !signature || !Number.isFinite(expiry)) return undefined;
  return { resource, signature, expiry };
}

/** Why a module's SAS token is not valid for it, or undefined when it is. `sr` is signed as it appears, URL-encoded. */
export function sasTokenProblem(token: string, keyBase64: string, expectedResource: string, nowSeconds = Date.now() / 1000): string | undefined {
  const parsed = parseSasToken(token);
  if (!parsed) return 'not a SharedAccessSignature token';
  if (decodeURIComponent(parsed.resource).toLowerCase() !== expectedResource.toLowerCase()) return `token is for ${decodeURIComponent(parsed.resource)}`;
  if (parsed.expiry < nowSeconds) return 'token expired';
  const expected = Buffer.from(signWithKey(keyBase64, `${parsed.resource}\n${parsed.expiry}`));
  const actual = Buffer.from(parsed.signature);
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return 'signature does not match the module key';
  return undefined;
}

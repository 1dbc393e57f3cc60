import { z } from 'zod';

/** A lowercase hex SHA-256 digest. */
export const Sha256Schema = z
  .string()
  .regex(/^[0-9a-fA-F]{64}$/, 'must be a 64-character hex SHA-256 digest')
  .transform((value) => value.toLowerCase());

const MD5_HEX = /^[0-9a-fA-F]{32}$/;
const MD5_BASE64 = /^[A-Za-z0-9+/]{22}==$/;

/** An MD5 digest as hex or as base64 (the way Azure's Content-MD5 header carries it), normalised to lowercase hex. */
export const Md5Schema = z
  .string()
  .trim()
  .refine((value) => MD5_HEX.test(value) || MD5_BASE64.test(value), 'must be an MD5 digest in hex (32 chars) or base64 (24 chars)')
  .transform((value) => (MD5_HEX.test(value) ? value.toLowerCase() : Buffer.from(value, 'base64').toString('hex')));

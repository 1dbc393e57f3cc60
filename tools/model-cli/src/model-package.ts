import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import yazl from 'yazl';

export interface PackageFile {
  path: string;
  /** Name inside the package; the file's base name by default. */
  name?: string;
}

export interface BuiltPackage {
  bytes: Buffer;
  sha256: string;
  md5: string;
}

/** Zips model files into a package as a publisher would (the model CLI does this for users). */
export async function buildModelPackage(files: PackageFile[], descriptor?: object): Promise<BuiltPackage> {
  const zip = new yazl.ZipFile();
  for (const file of files) zip.addBuffer(await readFile(file.path), file.name ?? path.basename(file.path), { mtime: new Date(0) });
  if (descriptor) zip.addBuffer(Buffer.from(JSON.stringify(descriptor, null, 2)), 'model.json', { mtime: new Date(0) });
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  const bytes = Buffer.concat(chunks);
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex'), md5: createHash('md5').update(bytes).digest('hex') };
}

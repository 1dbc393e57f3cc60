import yazl from 'yazl';

export interface ZipEntry {
  name: string;
  data: Buffer;
  /** Unix mode bits of the entry (tests use it for hostile packages). */
  mode?: number;
  /** Deflate the entry; stored by default, as model weights barely compress. */
  compress?: boolean;
}

/** Zips buffers in memory, with a fixed timestamp so that the same entries give the same bytes. */
export function buildZip(entries: ZipEntry[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const entry of entries) zip.addBuffer(entry.data, entry.name, { compress: entry.compress ?? false, mtime: new Date(0), ...(entry.mode ? { mode: entry.mode } : {}) });
  return finishZip(zip);
}

/** Ends a yazl zip and collects its bytes in memory. */
export function finishZip(zip: yazl.ZipFile): Promise<Buffer> {
  zip.end();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    zip.outputStream.on('data', (chunk: Buffer) => chunks.push(chunk));
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    zip.outputStream.on('error', reject);
  });
}

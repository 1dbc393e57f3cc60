/** Reads the scalar entries of a FlexBuffers map, the encoding of TFLite custom-op options. */
export function readFlexbufferMap(bytes: Uint8Array): Map<string, number | boolean> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entries = new Map<string, number | boolean>();
  if (bytes.length < 3) return entries;
  const rootWidth = bytes[bytes.length - 1] ?? 1;
  const rootPacked = bytes[bytes.length - 2] ?? 0;
  const rootPosition = bytes.length - 2 - rootWidth;
  const MAP = 9;
  if (rootPacked >> 2 !== MAP) return entries;

  const readUInt = (position: number, width: number): number => {
    switch (width) {
      case 1: return view.getUint8(position);
      case 2: return view.getUint16(position, true);
      case 4: return view.getUint32(position, true);
      default: return Number(view.getBigUint64(position, true));
    }
  };
  const readInt = (position: number, width: number): number => {
    switch (width) {
      case 1: return view.getInt8(position);
      case 2: return view.getInt16(position, true);
      case 4: return view.getInt32(position, true);
      default: return Number(view.getBigInt64(position, true));
    }
  };
  const readFloat = (position: number, width: number): number => (width === 4 ? view.getFloat32(position, true) : view.getFloat64(position, true));
  const readCString = (position: number): string => {
    let end = position;
    while (end < bytes.length && bytes[end] !== 0) end += 1;
    return Buffer.from(bytes.subarray(position, end)).toString('utf8');
  };

  const mapData = rootPosition - readUInt(rootPosition, rootWidth);
  const width = 1 << (rootPacked & 3);
  const size = readUInt(mapData - width, width);
  const keysVectorField = mapData - 3 * width;
  const keysData = keysVectorField - readUInt(keysVectorField, width);
  const keysWidth = readUInt(mapData - 2 * width, width);
  for (let index = 0; index < size; index += 1) {
    const keyField = keysData + index * keysWidth;
    const key = readCString(keyField - readUInt(keyField, keysWidth));
    const valuePosition = mapData + index * width;
    const packedType = bytes[mapData + size * width + index] ?? 0;
    switch (packedType >> 2) {
      case 1: entries.set(key, readInt(valuePosition, width)); break;
      case 2: entries.set(key, readUInt(valuePosition, width)); break;
      case 3: entries.set(key, readFloat(valuePosition, width)); break;
      case 26: entries.set(key, readUInt(valuePosition, width) !== 0); break;
      default: break;
    }
  }
  return entries;
}

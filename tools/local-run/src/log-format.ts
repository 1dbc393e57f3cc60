const SKIP = new Set(['level', 'time', 'name', 'module', 'msg', 'pid', 'hostname']);
const LEVELS: Record<number, string> = { 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };

/** Turns a pino JSON line into "event key=value …" for people; anything else passes as it is. */
export function formatLogLine(line: string): string {
  if (!line.startsWith('{')) return line;
  try {
    const entry = JSON.parse(line) as Record<string, unknown>;
    const level = LEVELS[Number(entry.level)] ?? '';
    const fields = Object.entries(entry)
      .filter(([key, value]) => !SKIP.has(key) && value !== undefined && value !== null)
      .map(([key, value]) => `${key}=${typeof value === 'object' ? JSON.stringify(value) : String(value)}`)
      .join(' ');
    return `${level ? `${level} ` : ''}${String(entry.msg ?? '')}${fields ? ` ${fields}` : ''}`;
  } catch {
    return line;
  }
}

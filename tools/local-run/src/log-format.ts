const SKIP = new Set(['level', 'time', 'name', 'msg', 'pid', 'hostname']);
const LEVELS: Record<number, string> = { 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };

/**
 * Turns a pino JSON line into "event key=value …" for people; anything else passes as it is. `module` is left out
 * when it only repeats the process's own name or label; the emulator's lines keep it, since they name other modules.
 */
export function formatLogLine(line: string, label?: string): string {
  if (!line.startsWith('{')) return line;
  try {
    const entry = JSON.parse(line) as Record<string, unknown>;
    const level = LEVELS[Number(entry.level)] ?? '';
    const fields = Object.entries(entry)
      .filter(([key, value]) => !SKIP.has(key) && !(key === 'module' && (value === label || value === entry.name)) && value !== undefined && value !== null)
      .map(([key, value]) => `${key}=${typeof value === 'object' ? JSON.stringify(value) : String(value)}`)
      .join(' ');
    return `${level ? `${level} ` : ''}${String(entry.msg ?? '')}${fields ? ` ${fields}` : ''}`;
  } catch {
    return line;
  }
}

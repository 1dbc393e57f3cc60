/** Network errors that say no server was reached at all: the device's link (or DNS) is down, not the blob's server. */
const UNREACHED_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EHOSTDOWN']);
/** Got's timeouts before a connection exists (its TimeoutError names the phase in `event`). */
const UNREACHED_TIMEOUTS = new Set(['lookup', 'connect', 'secureConnect']);

/**
 * Whether a failed transfer never reached a server: a refused or unroutable connection, a name that did not resolve, a
 * connect that timed out, anywhere in the error's causes. Any other failure (a 5xx, a body that stalled, went silent or
 * was cut off) happened after a server answered, and says something about that server.
 */
export function neverReachedServer(error: unknown): boolean {
  for (let cause: unknown = error, depth = 0; cause instanceof Error && depth < 8; cause = cause.cause, depth += 1) {
    const { code, event } = cause as { code?: unknown; event?: unknown };
    if (typeof code === 'string' && UNREACHED_CODES.has(code)) return true;
    if (cause.name === 'TimeoutError' && typeof event === 'string' && UNREACHED_TIMEOUTS.has(event)) return true;
  }
  return false;
}

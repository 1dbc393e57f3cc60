import got, { type Progress, type Request, type Response } from 'got';
import { DownloadStalledError, RedirectRefusedError } from '../errors.js';
import { judgeRedirect, MAX_REDIRECTS } from './redirect-policy.js';
import { DEFAULT_STALL_RULE, stallCheckIntervalMs, TransferRateWindow, type StallRule } from './stall-rule.js';

/** What guards every transfer the loader makes: cancellation, the idle timeout and the stall rule. */
export interface TransferGuards {
  signal?: AbortSignal;
  /** No byte for this long fails the attempt (a silent link), so that it resumes instead of hanging. */
  idleTimeoutMs?: number;
  /** A body slower than this on average fails the attempt (a trickle, which the idle timeout never ends). */
  stallRule?: StallRule;
}

export interface GuardedGetRequest extends TransferGuards {
  headers?: Record<string, string>;
  decompress?: boolean;
}

export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

/** The statuses got follows when they carry a Location. */
const REDIRECT_STATUSES = new Set([300, 301, 302, 303, 304, 307, 308]);

/** Ends `stream` once its body averages under the rule over a window; returns the DownloadStalledError, once there is one. */
function watchForStall(stream: Request, rule: StallRule): () => DownloadStalledError | undefined {
  let stalled: DownloadStalledError | undefined;
  const window = new TransferRateWindow(rule, Date.now());
  let counted = 0;
  const onProgress = (progress: Progress) => {
    window.received(Date.now(), progress.transferred - counted);
    counted = progress.transferred;
  };
  const timer = setInterval(() => {
    const verdict = window.judge(Date.now());
    if (!verdict.stalled) return;
    stalled = new DownloadStalledError(verdict.windowBytes, rule.windowMs, rule.minBytesPerSecond);
    // Got wraps an error it is destroyed with in its own RequestError: the body rethrows `stalled` instead.
    stream.destroy(stalled);
  }, stallCheckIntervalMs(rule));
  timer.unref();
  const stop = () => {
    clearInterval(timer);
    stream.off('downloadProgress', onProgress);
  };
  stream.on('downloadProgress', onProgress);
  stream.once('end', stop);
  stream.once('close', stop);
  return () => stalled;
}

/** The body of `stream`, failing with the stall's own error rather than got's wrapping of it. */
async function* bodyOf(stream: Request, stalled: () => DownloadStalledError | undefined): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of stream) yield chunk as Buffer;
  } catch (error) {
    throw stalled() ?? error;
  }
}

/**
 * Opens a GET as a got stream under the loader's guards: connect and response timeouts, the idle timeout, the redirect
 * policy (redirect-policy.ts) and, once the response arrives, the stall rule (stall-rule.ts), which fails `body` with
 * DownloadStalledError. Resolves at the response, whatever its status: the caller reads `body` or destroys `stream`.
 * Rejects with RedirectRefusedError for a redirect it does not follow, and with got's error when the request fails.
 */
export async function openGuardedGet(url: string, request: GuardedGetRequest): Promise<{ stream: Request; response: Response; body: AsyncIterable<Buffer> }> {
  let refusal: string | undefined;
  const stream = got.stream(url, {
    headers: request.headers ?? {},
    retry: { limit: 0 },
    throwHttpErrors: false,
    decompress: request.decompress ?? true,
    timeout: { connect: 30_000, response: 60_000, socket: request.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS },
    // Got asks this of every response (to tell whether it is "ok"), and outside its error handling: it never throws.
    followRedirect: (response) => {
      if (response.headers.location === undefined || !REDIRECT_STATUSES.has(response.statusCode)) return false;
      const verdict = judgeRedirect([response.requestUrl.href, ...response.redirectUrls.map((visited) => visited.href)], response.headers.location);
      if (verdict.action === 'refuse') refusal = verdict.reason;
      return verdict.action === 'follow';
    },
    maxRedirects: MAX_REDIRECTS + 1,
    ...(request.signal ? { signal: request.signal } : {}),
  });
  const response = await new Promise<Response>((resolve, reject) => {
    stream.once('response', resolve);
    stream.once('error', reject);
  });
  if (refusal !== undefined) {
    stream.destroy();
    throw new RedirectRefusedError(refusal);
  }
  const rule = request.stallRule ?? DEFAULT_STALL_RULE;
  const stalled = rule.minBytesPerSecond > 0 ? watchForStall(stream, rule) : () => undefined;
  return { stream, response, body: bodyOf(stream, stalled) };
}

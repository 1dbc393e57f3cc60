/** The most redirects one request follows: Blob Storage answers without any; a CDN or a short link adds one or two. */
export const MAX_REDIRECTS = 5;

export type RedirectVerdict = { action: 'follow'; url: URL } | { action: 'refuse'; reason: string };

/** Scheme, host and path of a URL: what a message may name of it (never the query, which holds the SAS token). */
export const describeUrl = (url: URL) => `${url.protocol}//${url.host}${url.pathname}`;

/**
 * Whether to follow a redirect. Pure. `visited`: the URLs requested so far, in order (the last one answered with the
 * redirect); `location`: its Location header. Followed: http(s) to any host, since the content is verified by its
 * size and hashes and no credential travels in a header (the SAS is in the URL, which the redirect replaces).
 * Refused: another scheme (file:, ftp:, data:, unix:), a UNIX socket in got's `http://unix:` form, https down to
 * plain http, a URL already visited (a loop), more than MAX_REDIRECTS, or a Location that is no URL.
 */
export function judgeRedirect(visited: readonly string[], location: string | undefined): RedirectVerdict {
  const from = visited.at(-1);
  if (from === undefined || location === undefined) return { action: 'refuse', reason: 'it has no Location' };
  let url: URL;
  try {
    url = new URL(location, from);
  } catch {
    return { action: 'refuse', reason: 'its Location is not a URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { action: 'refuse', reason: `it points to a ${url.protocol} URL (only http and https are fetched)` };
  if (url.hostname === 'unix') return { action: 'refuse', reason: 'it points to a UNIX socket' };
  if (new URL(from).protocol === 'https:' && url.protocol === 'http:') return { action: 'refuse', reason: `it leaves https for plain http (${describeUrl(url)})` };
  const withoutFragment = (href: string) => href.split('#')[0];
  if (visited.some((earlier) => withoutFragment(earlier) === withoutFragment(url.href))) return { action: 'refuse', reason: `it loops back to ${describeUrl(url)}` };
  if (visited.length > MAX_REDIRECTS) return { action: 'refuse', reason: `it is one more than the ${MAX_REDIRECTS} redirects in a row that are followed` };
  return { action: 'follow', url };
}

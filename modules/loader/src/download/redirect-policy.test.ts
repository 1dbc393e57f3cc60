import { describe, expect, it } from 'vitest';
import { judgeRedirect, MAX_REDIRECTS } from './redirect-policy.js';

const BLOB = 'https://acct.blob.core.windows.net/models/ssd.zip?sv=2024&sig=SECRET';
const refusal = (visited: string[], location: string | undefined) => {
  const verdict = judgeRedirect(visited, location);
  return verdict.action === 'refuse' ? verdict.reason : undefined;
};

describe('judgeRedirect', () => {
  it('follows http(s) to another host, resolving a relative Location against the URL that answered', () => {
    expect(judgeRedirect([BLOB], 'https://cdn.example.net/ssd.zip?token=1')).toMatchObject({ action: 'follow', url: new URL('https://cdn.example.net/ssd.zip?token=1') });
    expect(judgeRedirect([BLOB], '/models/ssd-moved.zip')).toMatchObject({ action: 'follow', url: new URL('https://acct.blob.core.windows.net/models/ssd-moved.zip') });
    expect(judgeRedirect(['http://127.0.0.1:8080/a'], 'https://127.0.0.1:8443/a')).toMatchObject({ action: 'follow' });
  });

  it('refuses every scheme but http and https, naming the scheme only', () => {
    expect(refusal([BLOB], 'file:///etc/passwd')).toBe('it points to a file: URL (only http and https are fetched)');
    expect(refusal([BLOB], 'ftp://mirror.example.net/ssd.zip')).toBe('it points to a ftp: URL (only http and https are fetched)');
    for (const location of ['data:application/zip;base64,UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==', 'unix:/var/run/docker.sock', 'javascript:alert(1)', 'gopher://x/']) expect(refusal([BLOB], location)).toMatch(/^it points to a [a-z]+: URL/);
  });

  it("refuses got's UNIX-socket form of an http URL", () => {
    expect(refusal([BLOB], 'http://unix:/var/run/docker.sock:/containers/json')).toBe('it points to a UNIX socket');
  });

  it('refuses https down to plain http, but not http up to https or http to http', () => {
    expect(refusal([BLOB], 'http://cdn.example.net/ssd.zip?sig=X')).toBe('it leaves https for plain http (http://cdn.example.net/ssd.zip)');
    expect(refusal(['http://a/x'], 'https://a/x')).toBeUndefined();
    expect(refusal(['http://a/x'], 'http://b/y')).toBeUndefined();
  });

  it('refuses a loop back to any URL already visited, without naming its query', () => {
    expect(refusal([BLOB], BLOB)).toBe('it loops back to https://acct.blob.core.windows.net/models/ssd.zip');
    expect(refusal([BLOB, 'https://cdn.example.net/a'], `${BLOB}#part`)).toBe('it loops back to https://acct.blob.core.windows.net/models/ssd.zip');
    // The same path with another query is another URL (a renewed token): followed.
    expect(refusal([BLOB], 'https://acct.blob.core.windows.net/models/ssd.zip?sv=2024&sig=OTHER')).toBeUndefined();
  });

  it(`follows ${MAX_REDIRECTS} redirects in a row and refuses the next`, () => {
    const hops = (count: number) => Array.from({ length: count }, (_, index) => `https://hop${index}.example.net/`);
    expect(refusal(hops(MAX_REDIRECTS), 'https://last.example.net/')).toBeUndefined();
    expect(refusal(hops(MAX_REDIRECTS + 1), 'https://last.example.net/')).toBe(`it is one more than the ${MAX_REDIRECTS} redirects in a row that are followed`);
  });

  it('refuses a redirect without a usable Location', () => {
    expect(refusal([BLOB], undefined)).toBe('it has no Location');
    expect(refusal([BLOB], 'http://[::1')).toBe('its Location is not a URL');
    // Nor one with no URL that answered it.
    expect(refusal([], 'https://cdn.example.net/ssd.zip')).toBe('it has no Location');
  });
});

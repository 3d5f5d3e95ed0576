// Request targets from the network, parsed without anything that can throw.
// `new URL(target, base)` throws on targets such as `//` or `//x:99999`
// (read as a host), and decodeURIComponent throws on a malformed `%` escape;
// inside a listener either ended the process. Every listener reads the target
// through parseTarget and decodes path parts through decodePathPart.

/** The parts of an origin-form target (`/path?query`) the listeners use. */
export interface RequestTarget {
  /** The path as sent (still percent-encoded), always starting with `/`. */
  pathname: string;
  /** `?query` as sent, or '' (for passing a request on unchanged). */
  search: string;
  searchParams: URLSearchParams;
}

/** Longest target accepted; Node's header limit (16 KiB) bounds it anyway. */
export const MAX_TARGET_LENGTH = 8192;
/** Visible ASCII only: no controls, NUL, spaces or raw non-ASCII bytes. */
const TARGET_CHARS = /^[\x21-\x7e]+$/;

/**
 * The target of a request, or null when it is not origin-form (`*`,
 * absolute-form `http://host/...`, `//authority...`), too long, or carries
 * characters a target may not hold. Callers answer null with 400.
 */
export function parseTarget(raw: string | undefined): RequestTarget | null {
  const target = raw ?? '/';
  if (target.length === 0 || target.length > MAX_TARGET_LENGTH || !TARGET_CHARS.test(target)) return null;
  if (target[0] !== '/' || target[1] === '/' || target[1] === '\\') return null;
  const hash = target.indexOf('#');
  const withoutFragment = hash < 0 ? target : target.slice(0, hash);
  const q = withoutFragment.indexOf('?');
  const pathname = q < 0 ? withoutFragment : withoutFragment.slice(0, q);
  const search = q < 0 ? '' : withoutFragment.slice(q);
  return { pathname, search: search === '?' ? '' : search, searchParams: new URLSearchParams(search) };
}

/**
 * A percent-decoded path segment, or null when its escapes are malformed.
 * What it may hold (NUL, surrogates) is the text rule's business
 * (requestParams.ts), which names the parameter.
 */
export function decodePathPart(part: string): string | null {
  try {
    return decodeURIComponent(part);
  } catch {
    return null;
  }
}

/** The JSON error body every listener answers a bad target with. */
export const BAD_TARGET_BODY = JSON.stringify({ error: { code: 'invalid_payload', message: 'malformed request target' } });

/**
 * The session cookie: reading it from a `Cookie` header and writing its
 * `Set-Cookie` line. Hand-written (a dozen lines) so the SDK needs no cookie
 * library. The value holds the device token and its CSRF token, joined by `~`:
 * both change together at sign-in and rotation, and neither is readable by
 * page scripts (HttpOnly).
 */

export interface CookieAttributes {
  readonly secure: boolean;
  readonly sameSite: 'lax' | 'strict';
  /** Lifetime in seconds; 0 deletes the cookie; undefined makes a session cookie (it ends with the browser). */
  readonly maxAgeSeconds: number | undefined;
}

export interface CookieCredentials {
  readonly token: string;
  readonly csrfToken: string | undefined;
}

/** The value of cookie `name` in a `Cookie` header, or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0 || pair.slice(0, eq).trim() !== name) continue;
    const raw = pair.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    try {
      return decodeURIComponent(raw);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

export function decodeCredentials(value: string | undefined): CookieCredentials | undefined {
  if (value === undefined || value === '') return undefined;
  const [token, csrfToken] = value.split('~', 2);
  if (!token) return undefined;
  return { token, csrfToken: csrfToken || undefined };
}

export function encodeCredentials(credentials: CookieCredentials): string {
  return credentials.csrfToken ? `${credentials.token}~${credentials.csrfToken}` : credentials.token;
}

/** A `Set-Cookie` value. Path=/ and no Domain, as the `__Host-` prefix requires. */
export function serializeCookie(name: string, value: string, attributes: CookieAttributes): string {
  const parts = [`${name}=${encodeURIComponent(value)}`, 'Path=/'];
  if (attributes.maxAgeSeconds !== undefined) parts.push(`Max-Age=${Math.max(0, Math.floor(attributes.maxAgeSeconds))}`);
  if (attributes.maxAgeSeconds !== undefined && attributes.maxAgeSeconds <= 0) parts.push('Expires=Thu, 01 Jan 1970 00:00:00 GMT');
  parts.push('HttpOnly');
  if (attributes.secure) parts.push('Secure');
  parts.push(`SameSite=${attributes.sameSite === 'strict' ? 'Strict' : 'Lax'}`);
  return parts.join('; ');
}

/** `Set-Cookie` values with any earlier one for `name` dropped, then `line` added. */
export function replaceSetCookie(existing: unknown, name: string, line: string): string[] {
  const list = existing === undefined ? [] : Array.isArray(existing) ? existing.map(String) : [String(existing)];
  return [...list.filter((cookie) => !cookie.startsWith(`${name}=`)), line];
}

/**
 * Cross-site request checks for unsafe methods, before any session work.
 *
 * Browsers tell us where a request comes from: `Sec-Fetch-Site` (all current
 * browsers) and `Origin` (every cross-origin POST). A request that either
 * marks as foreign is refused; one that carries neither (curl, server-to-server,
 * very old browsers) is left to the CSRF token check, which the middleware
 * makes whenever there is a session to forge against.
 */

export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

export interface OriginPolicy {
  /** Origins besides the request's own that may send unsafe requests (e.g. `https://m.shop.example`). */
  readonly trustedOrigins: readonly string[];
  /** Accept `Sec-Fetch-Site: same-site` (sibling subdomains). @default false */
  readonly allowSameSite: boolean;
}

export interface RequestOrigin {
  readonly method: string;
  /** `protocol://host[:port]` of the request as this app sees it. */
  readonly selfOrigin: string;
  readonly origin: string | undefined;
  readonly secFetchSite: string | undefined;
}

/** Why the request is refused as cross-site, or null when it is not. */
export function crossSiteReason(request: RequestOrigin, policy: OriginPolicy): string | null {
  if (SAFE_METHODS.has(request.method.toUpperCase())) return null;
  const site = request.secFetchSite?.toLowerCase();
  if (site === 'cross-site') return 'the browser marked the request cross-site (Sec-Fetch-Site)';
  if (site === 'same-site' && !policy.allowSameSite && !isTrusted(request, policy)) {
    return 'the request comes from another origin of the same site (Sec-Fetch-Site: same-site)';
  }
  if (request.origin !== undefined && request.origin !== '') {
    if (request.origin === 'null') return 'the request has an opaque Origin';
    if (!isTrusted(request, policy)) {
      return `Origin ${request.origin} is neither ${request.selfOrigin} nor in trustedOrigins`;
    }
  }
  return null;
}

function isTrusted(request: RequestOrigin, policy: OriginPolicy): boolean {
  if (request.origin === undefined) return false;
  const origin = request.origin.toLowerCase();
  return origin === request.selfOrigin.toLowerCase() || policy.trustedOrigins.some((o) => o.toLowerCase() === origin);
}

/** Refusal of an unsafe request: rendered as 403 by the framework's error handling. */
export class CsrfRefusedError extends Error {
  readonly status = 403;
  readonly statusCode = 403;
  readonly code = 'csrf-mismatch';
  readonly type = '/problems/csrf-mismatch';
  /** Express's default handler shows the message only for errors marked exposable. */
  readonly expose = true;

  constructor(
    /** `cross-site`: origin checks; `token`: the CSRF token was absent or wrong. */
    readonly reason: 'cross-site' | 'token',
    detail: string,
  ) {
    super(detail);
    this.name = 'CsrfRefusedError';
  }
}

/**
 * A small history checker for token checks against revocations: every
 * validation is recorded with when it started and ended and what it got;
 * every revocation with when its call returned. The rule it judges by: no
 * validation of a token that *started after* the revocation of that token
 * returned may be accepted, in any region. (A validation that overlaps the
 * revocation may go either way: it is concurrent with it.)
 */
export type Outcome = 'accepted' | 'refused' | 'unavailable' | 'error';

export interface Validation {
  readonly token: string;
  readonly region: string;
  readonly start: number;
  readonly end: number;
  readonly outcome: Outcome;
  /** The HTTP status (0: no answer). */
  readonly status: number;
}

export interface Revocation {
  readonly token: string;
  readonly region: string;
  readonly start: number;
  /** When the revoking call returned (its acknowledgement). */
  readonly end: number;
}

export class History {
  readonly validations: Validation[] = [];
  readonly revocations: Revocation[] = [];
  /** Revocation attempts answered 503 and retried. */
  retries = 0;

  /** Runs a token check and records it; `check` resolves to the HTTP status it got (0: no answer). */
  async validate(token: string, region: string, check: () => Promise<number>): Promise<Outcome> {
    const start = performance.now();
    const status = await check();
    const end = performance.now();
    const outcome: Outcome = status === 200 ? 'accepted' : status === 401 ? 'refused' : status === 503 ? 'unavailable' : 'error';
    this.validations.push({ token, region, start, end, outcome, status });
    return outcome;
  }

  /** Runs a revocation and records it once it returned successfully. */
  /**
   * Runs a revocation and records when it was acknowledged. A 503, or no
   * answer, is retried (changes are retry-safe) until `forMs` has passed; once retried, a 401 is
   * an acknowledgement too: an earlier attempt took effect and the token is
   * gone. Resolves to `ok` when acknowledged, else the last status.
   */
  async revoke(token: string, region: string, call: () => Promise<number>, ok = 204, forMs = 30_000): Promise<number> {
    const start = performance.now();
    let status = await call();
    let retried = false;
    // 503 and no answer at all (0) are both unknown outcomes: the change may or may not have been made.
    while ((status === 503 || status === 0) && performance.now() - start < forMs) {
      this.retries += 1;
      retried = true;
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = await call();
    }
    if (retried && status === 401) status = ok;
    const end = performance.now();
    if (status === ok) this.revocations.push({ token, region, start, end });
    return status;
  }

  /** Validations accepted although they began after their token's revocation had returned. */
  staleAccepts(): Validation[] {
    const revokedAt = new Map(this.revocations.map((r) => [r.token, r.end]));
    return this.validations.filter((v) => v.outcome === 'accepted' && v.start > (revokedAt.get(v.token) ?? Infinity));
  }

  /** How many validations of revoked tokens began after the revocation returned (what the rule was tested on). */
  checkedAfterRevocation(): number {
    const revokedAt = new Map(this.revocations.map((r) => [r.token, r.end]));
    return this.validations.filter((v) => v.start > (revokedAt.get(v.token) ?? Infinity)).length;
  }

  count(outcome: Outcome, region?: string): number {
    return this.validations.filter((v) => v.outcome === outcome && (region === undefined || v.region === region)).length;
  }
}

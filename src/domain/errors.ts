/**
 * The problems Tessera reports, by stable code: the last segment of the
 * problem `type` (`/problems/<code>`) that clients switch on. The domain
 * names them; how each is answered over HTTP (status, title, description)
 * is the HTTP layer's catalog (`http/problems.ts`).
 */
export const PROBLEM_CODES = [
  'validation-failed',
  'invalid-api-key',
  'invalid-token',
  'forbidden',
  'csrf-mismatch',
  'not-found',
  'conflict',
  'version-mismatch',
  'payload-too-large',
  'unsupported-media-type',
  'rate-limited',
  'unavailable',
] as const;

export type ProblemCode = (typeof PROBLEM_CODES)[number];

/** An expected failure with a catalogued code; the HTTP layer renders it as problem+json. */
export class TesseraError extends Error {
  constructor(
    readonly code: ProblemCode,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(detail, options);
    this.name = 'TesseraError';
  }
}

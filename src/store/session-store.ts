/**
 * The storage contract. The service sees sessions only through this interface;
 * each engine (SQLite, Redis, Redis Cluster) implements it and must pass the
 * one conformance suite in `test/store/`.
 *
 * Engines apply every change atomically per session, by joining change records
 * into the stored states (see `domain/parts.ts`), never by overwriting.
 */
import type { ProblemCode } from '../domain/errors.js';
import type { Hlc } from '../domain/hlc.js';
import type { Limits } from '../domain/limits.js';
import type { Operation } from '../domain/operations.js';
import type { ChangeRecord, DataPart, PartStates } from '../domain/parts.js';
import type { DeviceState } from '../domain/devices.js';
import type { TokenMatch } from '../tokens/token-match.js';
import type { SessionMeta } from '../domain/session.js';

export type EngineName = 'sqlite' | 'redis' | 'redis-cluster';

/** What every engine is built with. */
export interface StoreSettings {
  /** Idle timeout: each write moves the idle deadline to now + this. */
  readonly idleTimeoutMs: number;
  readonly limits: Limits;
  /** This writer's name in per-writer CRDT state (the region). */
  readonly origin: string;
  /** Told how many bytes of session data each engine call read (for metrics). */
  readonly onBytesRead?: (bytes: number) => void;
}

/** Versions the caller already holds, per part: an engine may leave such unchanged parts out. */
export type KnownVersions = Readonly<Partial<Record<DataPart, string>>>;

export interface LoadOptions {
  /**
   * A part whose current version equals the known one may be left out of the
   * answer (its version is still in `versions`): the caller's copy is current.
   * This is how the L1 cache revalidates without moving large parts.
   */
  readonly known?: KnownVersions;
  /**
   * A presented token to check: the engine compares its hash with the token
   * family of the device, where the device is stored, and reports the verdict
   * in `LoadedSession.credential` (the rules of `tokens/token-match.ts`).
   * Unless `devices` is among the parts, the engine then need not return any
   * device: validating a token needs none, and a session may have dozens.
   */
  readonly credential?: { readonly deviceId: string; readonly hash: string };
}

export type CachedPart = 'cart' | 'prefs' | 'history';

/** A live session as loaded: metadata and devices always, other parts on request. */
export interface LoadedSession {
  readonly meta: SessionMeta;
  /**
   * Every device — or possibly none when the load checked a credential and
   * `devices` was not among the parts.
   */
  readonly devices: PartStates['devices'];
  /** How the credential of `LoadOptions.credential` relates to its device; set when one was given. */
  readonly credential?: TokenMatch;
  readonly cart?: PartStates['cart'];
  readonly prefs?: PartStates['prefs'];
  readonly history?: PartStates['history'];
  /** Opaque version of every data part. */
  readonly versions: Readonly<Record<DataPart, string>>;
  /**
   * The public JSON of parts (`domain/part-json.ts`) where it is already at
   * hand — L1 keeps parts as text — so that answering needs no state at all.
   * When present for a part, it is exactly that part's JSON.
   */
  readonly rendered?: Readonly<Partial<Record<CachedPart, string>>>;
}

/** Who asks for a change: a device proving itself with its token hash, or an operator. */
export type Caller =
  | { readonly kind: 'device'; readonly deviceId: string; readonly tokenHash: string }
  | { readonly kind: 'admin' };

export interface ApplyOptions {
  readonly now: number;
  readonly hlc: Hlc;
  /** Compare-and-swap: apply only while the part is at this version. */
  readonly ifVersion?: string;
  /**
   * The version of the operation's data part the caller already holds. When
   * the part was at that version just before the change, an engine may leave
   * the part out of the result: the caller's copy joined with the result's
   * records is the new state (how the L1 cache stays current on writes
   * without the part crossing the wire).
   */
  readonly knownVersion?: string;
}

export type ApplyResult =
  /**
   * `session` holds the metadata, every version and the operation's part —
   * unless `knownVersion` let the engine leave it out — and its devices: all
   * of them when the operation is on devices, else at least the caller's.
   */
  | { readonly status: 'applied'; readonly session: LoadedSession; readonly records: readonly ChangeRecord[] }
  /** No live session with that id. */
  | { readonly status: 'not-found' }
  /** The caller's token is not (or no longer) accepted. */
  | { readonly status: 'unauthorized' }
  | { readonly status: 'version-mismatch'; readonly version: string }
  | { readonly status: 'rejected'; readonly code: ProblemCode; readonly detail: string };

export interface NewSession {
  readonly meta: SessionMeta;
  readonly deviceId: string;
  readonly device: DeviceState;
}

export type CreateResult =
  | { readonly status: 'created'; readonly session: LoadedSession }
  /** The user already had a live session: the device joined it. */
  | { readonly status: 'joined'; readonly session: LoadedSession }
  | { readonly status: 'rejected'; readonly code: ProblemCode; readonly detail: string };

export interface SessionStore {
  readonly engine: EngineName;

  /**
   * The live session with its devices and the named parts, or null when it does
   * not exist, has ended or has expired. The hot path: one round trip.
   */
  load(sessionId: string, parts: readonly DataPart[], now: number, options?: LoadOptions): Promise<LoadedSession | null>;

  /**
   * Creates a session with its first device. For a signed-in user who already
   * has a live session, atomically adds the device to that session instead.
   */
  create(session: NewSession, options: { readonly now: number; readonly hlc: Hlc }): Promise<CreateResult>;

  /** Checks the caller and the version, then applies the operation atomically. */
  apply(sessionId: string, caller: Caller, op: Operation, options: ApplyOptions): Promise<ApplyResult>;

  /** Joins change records into stored sessions (guest merge, replication). */
  merge(records: readonly ChangeRecord[], now: number): Promise<void>;

  /** Slides the idle deadline and the device's activity time, without a version change. */
  touch(sessionId: string, deviceId: string, now: number): Promise<void>;

  /** The id of the user's live session, if any. */
  findUserSession(userId: string, now: number): Promise<string | null>;

  /** Removes up to `limit` expired sessions; engines with native expiry return 0. */
  sweep(now: number, limit: number): Promise<number>;

  /** Throws a `StoreUnavailableError` when the engine cannot serve. */
  ping(): Promise<void>;

  close(): Promise<void>;
}

/** The engine cannot be reached or failed; the HTTP layer answers 503. */
export class StoreUnavailableError extends Error {
  constructor(engine: EngineName, options?: { cause?: unknown }) {
    super(`the ${engine} session store is unavailable`, options);
    this.name = 'StoreUnavailableError';
  }
}

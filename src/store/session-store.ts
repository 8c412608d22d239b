/**
 * The storage contract. The service sees sessions only through this interface;
 * each engine (SQLite, Redis, Redis Cluster) implements it and must pass the
 * one conformance suite in `test/store/`.
 *
 * Engines apply every change atomically per session, by joining change records
 * into the stored states (see `domain/parts.ts`), never by overwriting; in the
 * same atomic step they append the change to their feed (`feed.ts`), so that no
 * committed change can be lost to replication or to event delivery.
 */
import type { Tracer } from '@opentelemetry/api';
import type { ProblemCode } from '../domain/errors.js';
import type { Hlc } from '../domain/hlc.js';
import type { Limits } from '../domain/limits.js';
import type { DeviceLimitAction, Operation } from '../domain/operations.js';
import type { ChangeRecord, DataPart, PartStates } from '../domain/parts.js';
import { authOptionsOf, labelOf, type DeviceAuth, type DeviceState, type Seen } from '../domain/devices.js';
import type { TokenMatch } from '../tokens/token-match.js';
import type { SessionMeta } from '../domain/session.js';
import type { ChangeFeed } from './feed.js';

export type EngineName = 'sqlite' | 'redis' | 'redis-cluster';

/** PEM files for TLS to a server: the CA that signed its certificate (else the system's), and a client certificate and its key. */
export interface TlsFiles {
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
}

/** Which engine to open, and where it is. `tls`: the files for a Redis that speaks TLS (`rediss://`, or every node of a cluster). */
export type StoreConfig =
  | { readonly engine: 'sqlite'; readonly path: string }
  | {
      readonly engine: 'redis';
      readonly url: string;
      readonly tls?: TlsFiles;
      readonly historyForm?: RedisHistoryForm;
      readonly userSessionsForm?: RedisUserSessionsForm;
    }
  | {
      readonly engine: 'redis-cluster';
      readonly nodes: readonly string[];
      readonly tls?: TlsFiles;
      readonly credentials?: RedisCredentials;
      readonly historyForm?: RedisHistoryForm;
      readonly userSessionsForm?: RedisUserSessionsForm;
    };

/**
 * How a Redis engine's writes keep a session's history (decision D93): a sorted set, or a hash
 * as releases before D93 did and can read (`TESSERA_REDIS_HISTORY_FORM`). Both are read.
 */
export type RedisHistoryForm = 'zset' | 'hash';

/**
 * How a Redis engine's writes keep the ids of a user's sessions (decision D94): a hash, or a set as
 * releases before D94 did and can read (`TESSERA_REDIS_USER_SESSIONS_FORM`). Both are read.
 */
export type RedisUserSessionsForm = 'hash' | 'set';

/** What every node of a Redis Cluster is signed in with (the default user when `username` is absent). */
export interface RedisCredentials {
  readonly username?: string;
  readonly password: string;
}

/** What every engine is built with. */
export interface StoreSettings {
  /** Idle timeout, per device and so per session: activity moves the idle deadline to now + this. */
  readonly idleTimeoutMs: number;
  /**
   * Activity is recorded — the idle deadline slid, the device's `lastActiveAt`
   * moved, an activity change emitted — only once this much has passed since
   * the last time, on reads and writes alike. @default min(idle / 20, 1 h)
   */
  readonly slideAfterMs: number;
  readonly limits: Limits;
  /** This region: the writer's name in per-writer CRDT state, and the origin of the changes made here. */
  readonly origin: string;
  /**
   * The replication horizon: the longest a change may take to arrive from
   * another region. Ended and expired sessions are kept this long past their
   * (absolute) deadline, and records parked this long, so that a late change
   * never brings a session or a token back. @default 24 h
   */
  readonly horizonMs: number;
  /**
   * Consumers of the change feed (e.g. `replication`, `events`); a change is
   * trimmed once every one of them has acknowledged it. With none, nothing
   * is appended to the feed. @default []
   */
  readonly feedConsumers: readonly string[];
  /** Told how many bytes of session data each engine call read (for metrics). */
  readonly onBytesRead?: (bytes: number) => void;
  /**
   * Told how long each call to a networked engine took, retries included (for
   * metrics): `call` is the script's name or the command. Not called by SQLite,
   * whose calls are in-process.
   */
  readonly onCallTimed?: (call: string, seconds: number) => void;
  /**
   * Told when a networked engine's server refuses this node's client certificate while it runs
   * (its CA rotated first, the certificate expired), with the server's TLS alert: the engine
   * answers unavailable meanwhile, and retries with the certificate files read again.
   */
  readonly onCertificateRefused?: (alert: string) => void;
  /**
   * When tracing is on: the Redis engines give each command or script run
   * within a traced store call a span of its own (with the cluster slot).
   */
  readonly tracer?: Tracer;
}

/** Versions the caller already holds, per part: an engine may leave such unchanged parts out. */
export type KnownVersions = Readonly<Partial<Record<DataPart, string>>>;

/** A presented token, as the store checks it (`tokens/token-match.ts`). */
export interface Credential {
  readonly deviceId: string;
  /** SHA-256 of the token's secret. */
  readonly hash: string;
  /** The token generation the token names, when it names one. */
  readonly gen?: number;
}

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
  readonly credential?: Credential;
}

export type CachedPart = 'cart' | 'prefs' | 'history';

/** A live session as loaded: metadata and devices always, other parts on request. */
export interface LoadedSession {
  /** The session's metadata; `meta.id` is the session that answered (see `alias`). */
  readonly meta: SessionMeta;
  /**
   * Every device — or possibly none when the load checked a credential and
   * `devices` was not among the parts.
   */
  readonly devices: PartStates['devices'];
  /** How the credential of `LoadOptions.credential` relates to its device; set when one was given. */
  readonly credential?: TokenMatch;
  /** When the credential's device was last recorded active; set with `credential` unless the device is unknown. */
  readonly credentialActiveAt?: number;
  /** How the credential's device authenticated (time, level, persistence); set with `credentialActiveAt`. */
  readonly credentialAuth?: DeviceAuth;
  /**
   * Set when the id asked for was merged into another session of its user
   * (`meta.mergedInto`) and the answer is that session's: the id asked for and
   * its CSRF secret, which the CSRF tokens of its devices were derived from.
   */
  readonly alias?: { readonly id: string; readonly csrfSecret: string };
  readonly cart?: PartStates['cart'];
  readonly prefs?: PartStates['prefs'];
  readonly history?: PartStates['history'];
  /** Version of every data part: a digest of its state, the same in every region (`domain/versions.ts`). */
  readonly versions: Readonly<Record<DataPart, string>>;
  /**
   * The public JSON of parts (`domain/part-json.ts`) where it is already at
   * hand — L1 keeps parts as text, and renders each part it stores — so that
   * answering needs no state at all and renders no part twice.
   * When present for a part, it is exactly that part's JSON.
   */
  readonly rendered?: Readonly<Partial<Record<CachedPart, string>>>;
}

/** Everything stored of one session — live, expired, ended or merged away — as replication and export see it. */
export interface SessionSnapshot extends PartStates {
  readonly versions: Readonly<Record<DataPart, string>>;
}

export interface ScannedSession {
  readonly id: string;
  /** `sessionDigest` of its metadata and versions. */
  readonly digest: string;
}

/** Who asks for a change: a device proving itself with its token hash, or an operator. */
export type Caller =
  | { readonly kind: 'device'; readonly deviceId: string; readonly tokenHash: string; readonly gen?: number }
  | { readonly kind: 'admin' };

export interface ApplyOptions {
  readonly now: number;
  /**
   * The change's stamp. When it is not above every stamp the session holds
   * (this node's clock lags), the engine stamps the change with the successor
   * of the session's largest stamp instead, and reports it in the result.
   */
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
  /** Where the request came from: recorded on the acting device with its activity, when activity is due. */
  readonly seen?: Seen;
}

export type ApplyResult =
  /**
   * `session` holds the metadata, every version and the operation's part —
   * unless `knownVersion` let the engine leave it out — and its devices: all
   * of them when the operation is on devices, else at least the caller's.
   * `records` is the change as appended to the feed, stamped `hlc`.
   */
  | { readonly status: 'applied'; readonly session: LoadedSession; readonly records: readonly ChangeRecord[]; readonly hlc: Hlc }
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
  /** When the device joins the user's session and that one is at the device limit. @default 'refuse' */
  readonly atDeviceLimit?: DeviceLimitAction;
}

/** A new session's device as an operation: how it joins the user's live session instead. */
export function deviceAddOf({ deviceId, device, atDeviceLimit }: Pick<NewSession, 'deviceId' | 'device' | 'atDeviceLimit'>): Extract<Operation, { kind: 'device.add' }> {
  return {
    kind: 'device.add',
    deviceId,
    label: labelOf(device),
    hash: device.hash,
    auth: authOptionsOf(device),
    ...(atDeviceLimit !== undefined ? { atLimit: atDeviceLimit } : {}),
  };
}

export type CreateResult =
  /** `records`: the change as appended to the feed (the creation, or the device joining), stamped `hlc`. */
  | { readonly status: 'created'; readonly session: LoadedSession; readonly records: readonly ChangeRecord[]; readonly hlc: Hlc }
  /** The user already had a live session: the device joined it. */
  | { readonly status: 'joined'; readonly session: LoadedSession; readonly records: readonly ChangeRecord[]; readonly hlc: Hlc }
  | { readonly status: 'rejected'; readonly code: ProblemCode; readonly detail: string };

/** What `merge` did with the records of one session. */
export interface MergeReport {
  readonly sessionId: string;
  /**
   * - `merged`: joined into the stored session (`changed` may be empty: nothing new);
   * - `created`: the records held the session's metadata, which it had not yet;
   * - `parked`: no metadata yet: kept aside until it arrives (or the horizon passes);
   * - `redirected`: the session was merged into `into`, and the records joined there;
   * - `ignored`: the session ended (only its metadata is joined), or its metadata is past every deadline.
   */
  readonly outcome: 'merged' | 'created' | 'parked' | 'redirected' | 'ignored';
  /** Data parts whose state (and so version) changed. */
  readonly changed: readonly DataPart[];
  readonly into?: string;
}

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

  /**
   * Joins change records into stored sessions, in any order and any number of
   * times with the same outcome (guest merge, replication). Records whose
   * origin is this store's region are appended to the feed; records from other
   * regions never are (no echo).
   */
  merge(records: readonly ChangeRecord[], now: number): Promise<MergeReport[]>;

  /**
   * Records the device's activity — the idle deadlines slid, an activity
   * change emitted, where it was seen (`seen`, when given) — when
   * `slideAfterMs` has passed since the last time; otherwise does nothing.
   * Moves no version.
   */
  touch(sessionId: string, deviceId: string, now: number, hlc: Hlc, seen?: Seen): Promise<void>;

  /** The id of the user's live session, if any. */
  findUserSession(userId: string, now: number): Promise<string | null>;

  /**
   * Every session stored that names the user — live, expired, ended or merged
   * away — for privacy requests: what `snapshot` then exports, and what
   * `eraseUser` erases.
   */
  userSessions(userId: string): Promise<string[]>;

  /**
   * Erases what the store holds of a user. Each of their sessions still live
   * is first ended for `erased` (a `session.end`, appended to the feed like any
   * other change); then every session of theirs is reduced to a tombstone that
   * names no user and holds no secret, device or part (so that a late change
   * cannot bring it back), their parked records go, and so do the user's index
   * entries. Changes already in the feed stay there until every consumer has
   * acknowledged them. Returns how many sessions were erased.
   */
  eraseUser(userId: string, now: number, hlc: Hlc): Promise<number>;

  /** Everything stored of one session, whatever its state; null when nothing is. */
  snapshot(sessionId: string): Promise<SessionSnapshot | null>;

  /**
   * Every session stored (live, ended, expired, merged away), in an order of
   * the engine's, a page at a time, each with its digest (`sessionDigest`):
   * what regions compare to find the sessions that differ. Start with
   * `cursor` ''; `next` is null after the last page. Sessions written during
   * a scan may or may not be in it.
   */
  scan(cursor: string, limit: number): Promise<{ readonly sessions: readonly ScannedSession[]; readonly next: string | null }>;

  /**
   * The digest (`sessionDigest`) of each session named, in the order named;
   * null where nothing is stored. Reads no part: what the repair between
   * regions asks of the sessions another region listed.
   */
  digests(sessionIds: readonly string[]): Promise<(string | null)[]>;

  /** A small named value kept with the data it describes (replication's applied positions). */
  readMark(name: string): Promise<string | null>;
  writeMark(name: string, value: string): Promise<void>;

  /**
   * Takes or renews the lease `name` for `holder` until `now + ttlMs`; false
   * while another holder's lease runs. What makes one node of a region run
   * its replication at a time.
   */
  lease(name: string, holder: string, ttlMs: number, now: number): Promise<boolean>;
  /** Gives a lease up, if `holder` holds it. */
  release(name: string, holder: string): Promise<void>;

  /** Removes up to `limit` sessions past `forgetAt` and expired parked records; engines with native expiry return 0. */
  sweep(now: number, limit: number): Promise<number>;

  /** The change feed, or null when no consumer is configured. */
  readonly feed: ChangeFeed | null;

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

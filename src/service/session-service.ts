/**
 * The use cases of Tessera — sign in, validate, change a part, rotate, revoke,
 * log out — over a `SessionStore`. Knows nothing of HTTP: failures are
 * `TesseraError`s with catalogued codes, which the edge renders.
 */
import { rebaseCart } from '../domain/cart.js';
import type { DeviceAuthOptions, DeviceLabel, DeviceState, RevokeReason, Seen } from '../domain/devices.js';
import { isLive, newDevice } from '../domain/devices.js';
import { TesseraError } from '../domain/errors.js';
import type { Limits } from '../domain/limits.js';
import { validateOperation } from '../domain/validate.js';
import type { Hlc, HybridLogicalClock } from '../domain/hlc.js';
import { partOf, type DeviceLimitAction, type Operation } from '../domain/operations.js';
import type { Change, ChangeRecord, DataPart, PartName } from '../domain/parts.js';
import type { SessionMeta } from '../domain/session.js';
import { deviceAddOf, type ApplyOptions, type ApplyResult, type Caller, type CreateResult, type Credential, type LoadedSession, type SessionStore } from '../store/session-store.js';
import { checkCsrf, csrfToken, newCsrfSecret, type CsrfCheck } from '../tokens/csrf.js';
import { formatToken, newDeviceId, newSessionId, newTokenSecret, parseToken, type ParsedToken } from '../tokens/session-token.js';
import { isAccepted } from '../tokens/token-match.js';
import { truncateAddress, type AddressPrefixes } from './addresses.js';
import { exportedSession, sessionInfo, type ExportedSession, type SessionInfo, type ViewSettings } from './views.js';

export interface ServiceSettings {
  readonly idleTimeoutMs: number;
  readonly absoluteTimeoutMs: number;
  readonly rotationGraceMs: number;
  /** Reads refresh the idle deadline only once this much time has passed since the last refresh. */
  readonly slideAfterMs: number;
  /** This region: the origin of the change records the service makes itself (a guest's parts at sign-in). */
  readonly region: string;
  /** Input limits every operation is held to (`domain/validate.ts`). */
  readonly limits: Limits;
  /** A transient sign-in's own idle timeout and lifetime (each capped by the session's). */
  readonly transient: { readonly idleTimeoutMs: number; readonly absoluteTimeoutMs: number };
  /** What a sign-in does at the device limit unless it says. */
  readonly deviceLimitAction: DeviceLimitAction;
  /** Addresses are kept truncated to these prefixes. */
  readonly addressPrefixes: AddressPrefixes;
}

/** What the service reports beyond its answers: security events and counters. */
export interface ServiceEvents {
  tokenReuse(event: { sessionId: string; deviceId: string }): void;
  sessionCreated(event: { sessionId: string; joined: boolean; guestMerged: boolean }): void;
}

export interface SignInRequest {
  readonly userId?: string;
  readonly device?: DeviceLabel;
  readonly guestToken?: string;
  /** False: a transient sign-in ("remember me" unticked), with its own shorter limits. @default true */
  readonly persistent?: boolean;
  /** How the user authenticated (`pwd`, `otp`, `webauthn`, …), for step-up checks. */
  readonly authLevel?: string;
  /** At the device limit: refuse (the default setting) or end the least recently active device. */
  readonly atDeviceLimit?: DeviceLimitAction;
}

export interface SignedIn {
  readonly token: string;
  readonly csrfToken: string;
  readonly session: SessionInfo;
  /** Global mode: where the change was stored, for a read elsewhere to wait for (`Tessera-Consistency`). */
  readonly consistency?: string;
}

export interface Authenticated {
  readonly session: LoadedSession;
  readonly deviceId: string;
  readonly csrf: CsrfCheck;
  /** After a write, in the global mode: where its change was stored (`Tessera-Consistency`). */
  readonly consistency?: string;
  /** A read that presented a consistency token this region had not caught up with in time (`Tessera-Stale`). */
  readonly stale?: boolean;
}

/**
 * What the service needs of the global mode (`replication/replicator.ts`):
 * to publish a committed change, and to know whether this region has caught
 * up with a change another region made.
 */
export interface ChangeSink {
  /**
   * Publishes the change; the part decides its durability class. Resolves to
   * a consistency token (or null); rejects when a global-class change could
   * not be made durable across regions in time.
   */
  publish(change: Change, part: PartName): Promise<string | null>;
  caughtUp(token: string): Promise<boolean>;
  /**
   * Makes an auth change (an operation on devices) at the region that owns
   * the session's home: one at a time per session, published before it is
   * applied, returning once every region has it. Rejects when that cannot be
   * done now (retryable).
   */
  order(sessionId: string, caller: Caller, op: Operation, options: ApplyOptions): Promise<{ readonly result: ApplyResult; readonly consistency?: string }>;
  /** Erases a user in every other region; rejects unless all of them did (retryable). */
  eraseElsewhere(userId: string): Promise<void>;
  /** A load for a token check: this region's copy while it can be trusted, else the home's answer. Rejects when neither is possible. */
  loadForAuth(sessionId: string, parts: readonly DataPart[], now: number, credential: Credential): Promise<LoadedSession | null>;
}

/** What a read (a token check) carries besides the token. */
export interface ReadOptions {
  /** A consistency token from the session's last write elsewhere (`Tessera-Consistency`). */
  readonly consistency?: string;
  /** Where the request came from (recorded with the device's activity, when due). */
  readonly seen?: Seen;
}

export interface MutationOptions {
  readonly ifVersion?: string;
  /** The `Tessera-CSRF` header, when the request carried one. */
  readonly csrf?: string;
  /** Where the request came from (recorded with the device's activity, when due). */
  readonly seen?: Seen;
}

/** Everything Tessera holds about a user, for a privacy request. */
export interface UserExport {
  readonly userId: string;
  readonly exportedAt: string;
  readonly sessions: ExportedSession[];
}

const invalidToken = (): TesseraError => new TesseraError('invalid-token', 'the session token is not valid; sign in again');

/** The global mode could not answer for auth now: 503, retryable. */
function unavailable(error: unknown): TesseraError {
  if (error instanceof TesseraError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new TesseraError('unavailable', `auth cannot be confirmed across regions right now (${reason})`, { cause: error });
}

/**
 * The presented CSRF token against the session the token names: a session
 * merged into another (`alias`) keeps the secret its devices' CSRF tokens were
 * derived from.
 */
function csrfOf(session: LoadedSession, parsed: ParsedToken, presented: string | undefined): CsrfCheck {
  const secret = session.alias?.id === parsed.sessionId ? session.alias.csrfSecret : session.meta.csrfSecret;
  const sessionId = session.alias?.id === parsed.sessionId ? parsed.sessionId : session.meta.id;
  return checkCsrf(presented, secret, sessionId, parsed.deviceId);
}

export interface ServiceOptions {
  /** The clock sessions' times come from. @default Date.now */
  readonly now?: () => number;
  /** The global mode; null (the default) runs single-region. */
  readonly replication?: ChangeSink | null;
}

export class SessionService {
  private readonly now: () => number;
  private readonly replication: ChangeSink | null;

  constructor(
    private readonly store: SessionStore,
    private readonly clock: HybridLogicalClock,
    private readonly settings: ServiceSettings,
    private readonly events: ServiceEvents,
    options: ServiceOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.replication = options.replication ?? null;
  }

  /** How answers show stored details (addresses truncated to the configured prefixes). */
  get views(): ViewSettings {
    return { addressPrefixes: this.settings.addressPrefixes };
  }

  async signIn(request: SignInRequest): Promise<SignedIn> {
    const now = this.now();
    const guest = request.userId !== undefined && request.guestToken !== undefined ? await this.#liveGuest(request.guestToken, now) : null;
    // In the global mode a session's home region — where its auth changes are ordered — is the one it starts in.
    const sessionId = newSessionId(this.replication === null ? undefined : this.settings.region);
    const deviceId = newDeviceId();
    const secret = newTokenSecret();
    const meta: SessionMeta = {
      id: sessionId,
      userId: request.userId ?? null,
      createdAt: now,
      lastActiveAt: now,
      idleExpiresAt: Math.min(now + this.settings.idleTimeoutMs, now + this.settings.absoluteTimeoutMs),
      absoluteExpiresAt: now + this.settings.absoluteTimeoutMs,
      csrfSecret: newCsrfSecret(),
    };
    const hlc = this.clock.now();
    const device = newDevice(this.#label(request.device), secret.hash, now, hlc, this.#authOptions(request, now));
    const atDeviceLimit = request.atDeviceLimit ?? this.settings.deviceLimitAction;
    const joined = meta.userId === null ? null : await this.#joinElsewhere(meta.userId, deviceId, device, atDeviceLimit, now);
    const created = joined ?? (await this.store.create({ meta, deviceId, device, atDeviceLimit }, { now, hlc }));
    if (created.status === 'rejected') throw new TesseraError(created.code, created.detail);
    let session = created.session;
    this.clock.observe(session.meta.t);
    // Signing in is an auth change: durable across regions before it answers (a join ordered at home already is).
    let consistency = joined !== null ? (joined.consistency ?? null) : await this.#publish(created.records, created.hlc, 'devices');
    if (guest !== null) {
      const absorbed = await this.#absorbGuest(session, guest, now);
      session = absorbed.session;
      consistency = absorbed.consistency ?? consistency;
    }
    this.events.sessionCreated({ sessionId: session.meta.id, joined: created.status === 'joined', guestMerged: guest !== null });
    return {
      // A device that joined the user's session gets a token naming that session.
      token: formatToken(session.meta.id, deviceId, 0, secret),
      csrfToken: csrfToken(session.meta.csrfSecret, session.meta.id, deviceId),
      session: sessionInfo(session, deviceId),
      ...(consistency === null ? {} : { consistency }),
    };
  }

  /**
   * The session behind a token, with the named parts. Throws `invalid-token`.
   * With a consistency token from a write made in another region, waits a
   * bounded time for this region to have applied it; the answer then says
   * whether it is `stale`. `seen`: where the request came from, recorded with
   * the device's activity when it is due.
   */
  async authenticate(token: string | undefined, parts: readonly DataPart[], csrf?: string, options: ReadOptions = {}): Promise<Authenticated> {
    const { consistency, seen } = options;
    const parsed = parseToken(token);
    if (parsed === null) throw invalidToken();
    const now = this.now();
    const stale = consistency !== undefined && this.replication !== null && !(await this.replication.caughtUp(consistency));
    const session = await this.#load(parsed, parts, now);
    if (session === null) throw invalidToken();
    this.clock.observe(session.meta.t);
    if (!isAccepted(session.credential)) {
      if (session.credential === 'reused') await this.#revokeStolenFamily(parsed);
      throw invalidToken();
    }
    // Activity is recorded once per slideAfterMs per device (the store checks again, atomically).
    if (now - (session.credentialActiveAt ?? session.meta.lastActiveAt) >= this.settings.slideAfterMs) {
      await this.store.touch(session.meta.id, parsed.deviceId, now, this.clock.now(), this.#seen(seen));
    }
    const answer: Authenticated = { session, deviceId: parsed.deviceId, csrf: csrfOf(session, parsed, csrf) };
    return stale ? { ...answer, stale } : answer;
  }

  /** Applies an operation for the token's device: one store round trip (two with a CSRF header). */
  async mutate(token: string | undefined, op: Operation, options: MutationOptions = {}): Promise<Authenticated> {
    const parsed = parseToken(token);
    if (parsed === null) throw invalidToken();
    const invalid = validateOperation(op, this.settings.limits);
    if (invalid !== null) throw new TesseraError(invalid.code, invalid.detail);
    if (options.csrf !== undefined) await this.#requireCsrf(parsed, options.csrf);
    const caller: Caller = { kind: 'device', deviceId: parsed.deviceId, tokenHash: parsed.hash, ...(parsed.gen === undefined ? {} : { gen: parsed.gen }) };
    const { result, consistency } = await this.#apply(parsed.sessionId, caller, op, this.#applyOptions(options.ifVersion, this.#seen(options.seen)));
    const session = await this.#applied(result, parsed);
    const answer: Authenticated = { session, deviceId: parsed.deviceId, csrf: options.csrf === undefined ? 'absent' : 'valid' };
    return consistency === undefined ? answer : { ...answer, consistency };
  }

  /** A new token for the same device; the old one works for the grace window. */
  async rotate(token: string | undefined, csrf?: string, seen?: Seen): Promise<SignedIn> {
    return this.#rotate(token, undefined, { ...(csrf === undefined ? {} : { csrf }), ...(seen === undefined ? {} : { seen }) });
  }

  /**
   * Step-up: the user proved who they are again on this device (the app
   * checked it). The device's authentication time becomes now and its level
   * `authLevel` (none given: none), and — as at any authentication — it gets
   * a new token; the old one works for the grace window.
   */
  async reauthenticate(token: string | undefined, authLevel: string | undefined, options: Pick<MutationOptions, 'csrf' | 'seen'> = {}): Promise<SignedIn> {
    return this.#rotate(token, authLevel === undefined ? {} : { authLevel }, options);
  }

  async #rotate(token: string | undefined, reauth: { authLevel?: string } | undefined, options: Pick<MutationOptions, 'csrf' | 'seen'>): Promise<SignedIn> {
    const parsed = parseToken(token);
    if (parsed === null) throw invalidToken();
    const next = newTokenSecret();
    const { session, consistency } = await this.mutate(
      token,
      { kind: 'device.rotate', deviceId: parsed.deviceId, hash: next.hash, graceMs: this.settings.rotationGraceMs, ...(reauth === undefined ? {} : { reauth }) },
      options,
    );
    const gen = session.devices.devices[parsed.deviceId]?.gen ?? 0;
    return {
      // A session merged into another answers with that one: the new token names it, and so does its CSRF token.
      token: formatToken(session.meta.id, parsed.deviceId, gen, next),
      csrfToken: csrfToken(session.meta.csrfSecret, session.meta.id, parsed.deviceId),
      session: sessionInfo(session, parsed.deviceId),
      ...(consistency === undefined ? {} : { consistency }),
    };
  }

  /** Logs this device out; resolves to where the change went (global mode). */
  async logout(token: string | undefined, csrf?: string): Promise<{ consistency?: string }> {
    const parsed = parseToken(token);
    if (parsed === null) throw invalidToken();
    const { consistency } = await this.mutate(token, { kind: 'device.revoke', deviceId: parsed.deviceId, reason: 'logout' }, csrf === undefined ? {} : { csrf });
    return consistency === undefined ? {} : { consistency };
  }

  /** Revokes one device of the token's session (the token's own: a logout); resolves to where the change went. */
  async revokeDevice(token: string | undefined, deviceId: string, options: MutationOptions = {}): Promise<{ consistency?: string }> {
    const parsed = parseToken(token);
    if (parsed === null) throw invalidToken();
    const reason: RevokeReason = deviceId === parsed.deviceId ? 'logout' : 'revoked';
    const { consistency } = await this.mutate(token, { kind: 'device.revoke', deviceId, reason }, options);
    return consistency === undefined ? {} : { consistency };
  }

  /** Logs every device out: the session ends. */
  async logoutEverywhere(token: string | undefined, options: MutationOptions = {}): Promise<{ consistency?: string }> {
    const { consistency } = await this.mutate(token, { kind: 'session.end', reason: 'ended' }, options);
    return consistency === undefined ? {} : { consistency };
  }

  /**
   * Logs out every device of the token's session but the caller's own (ASVS
   * 7.4.3: "end all other sessions", e.g. after a password change). The
   * session, its data and the caller's token live on. `ifVersion` (of the
   * devices part) and `csrf` are checked before any device is touched. Each
   * device is revoked by its own atomic store step, which checks the caller's
   * token again; a device that signs in meanwhile is a new authentication and
   * stays. Idempotent: with no other device, nothing changes.
   */
  async logoutOtherDevices(token: string | undefined, options: MutationOptions = {}): Promise<void> {
    const { session, deviceId, csrf } = await this.authenticate(token, ['devices'], options.csrf);
    if (options.csrf !== undefined && csrf !== 'valid') {
      throw new TesseraError('csrf-mismatch', 'the Tessera-CSRF header does not belong to this session and device');
    }
    if (options.ifVersion !== undefined && options.ifVersion !== session.versions.devices) {
      throw new TesseraError('version-mismatch', `the part is at version ${session.versions.devices}; read it again and retry`);
    }
    const devices = session.devices.devices;
    const others = Object.keys(devices).filter((id) => id !== deviceId && isLive(devices[id]));
    // The first step also holds the store to If-Match, in case the devices moved since the read.
    let ifVersion = options.ifVersion;
    for (const other of others) {
      try {
        await this.mutate(token, { kind: 'device.revoke', deviceId: other, reason: 'revoked' }, ifVersion === undefined ? {} : { ifVersion });
      } catch (error) {
        // Logged out meanwhile (by itself or another caller): that is the outcome wanted.
        if (!(error instanceof TesseraError && error.code === 'not-found')) throw error;
      }
      ifVersion = undefined;
    }
  }

  /** The sessions's devices as an operator sees them, for a user. */
  async userDevices(userId: string): Promise<LoadedSession> {
    const now = this.now();
    const sessionId = await this.store.findUserSession(userId, now);
    const session = sessionId === null ? null : await this.store.load(sessionId, [], now);
    if (session === null) throw new TesseraError('not-found', `user "${userId}" has no live session`);
    return session;
  }

  /**
   * Ends the user's session: every device is logged out. Idempotent: a user
   * with no live session is already logged out everywhere.
   */
  async logoutUser(userId: string): Promise<void> {
    const now = this.now();
    const sessionId = await this.store.findUserSession(userId, now);
    if (sessionId === null) return;
    await this.#adminApply(sessionId, { kind: 'session.end', reason: 'admin' });
  }

  /** An operator's (or the service's own) change to a session, made and published like any other. */
  async #adminApply(sessionId: string, op: Operation): Promise<ApplyResult> {
    const { result } = await this.#apply(sessionId, { kind: 'admin' }, op, this.#applyOptions());
    if (result.status === 'applied') this.clock.observe(result.hlc);
    return result;
  }

  /**
   * Applies an operation: an auth change at the session's home in the
   * global mode (`ChangeSink.order`), anything else here, published with its
   * part's class. Resolves to the result and, when published, where.
   */
  async #apply(sessionId: string, caller: Caller, op: Operation, options: ApplyOptions): Promise<{ result: ApplyResult; consistency?: string }> {
    const part = partOf(op);
    if (this.replication !== null && part === 'devices') {
      try {
        const ordered = await this.replication.order(sessionId, caller, op, options);
        return ordered.consistency === undefined ? { result: ordered.result } : { result: ordered.result, consistency: ordered.consistency };
      } catch (error) {
        throw unavailable(error);
      }
    }
    const result = await this.store.apply(sessionId, caller, op, options);
    const consistency = result.status === 'applied' ? await this.#publish(result.records, result.hlc, part) : null;
    return consistency === null ? { result } : { result, consistency };
  }

  /**
   * A load for a token check: in the global mode, from a copy that can be
   * trusted for auth, or from the home. Not `async`: single-region, the
   * store's promise is handed back, without another await on every request.
   */
  #load(parsed: ParsedToken, parts: readonly DataPart[], now: number): Promise<LoadedSession | null> {
    const credential = parsed.gen === undefined ? { deviceId: parsed.deviceId, hash: parsed.hash } : { deviceId: parsed.deviceId, hash: parsed.hash, gen: parsed.gen };
    if (this.replication === null) return this.store.load(parsed.sessionId, parts, now, { credential });
    return this.replication.loadForAuth(parsed.sessionId, parts, now, credential).catch((error: unknown) => {
      throw unavailable(error);
    });
  }

  /**
   * In the global mode, a user who already has a session: the new device
   * joins it by an auth change ordered at that session's home. Null when the
   * user has none here (a new session starts, homed in this region).
   */
  async #joinElsewhere(
    userId: string,
    deviceId: string,
    device: DeviceState,
    atDeviceLimit: DeviceLimitAction | undefined,
    now: number,
  ): Promise<(CreateResult & { consistency?: string }) | null> {
    if (this.replication === null) return null;
    const existing = await this.store.findUserSession(userId, now);
    if (existing === null) return null;
    const { result, consistency } = await this.#apply(existing, { kind: 'admin' }, deviceAddOf({ deviceId, device, atDeviceLimit }), this.#applyOptions());
    switch (result.status) {
      case 'applied':
        return { status: 'joined', session: result.session, records: result.records, hlc: result.hlc, ...(consistency === undefined ? {} : { consistency }) };
      case 'rejected':
        return result;
      default:
        // Gone meanwhile (ended, expired): start afresh.
        return null;
    }
  }

  /**
   * Publishes a committed change (global mode). Global-class changes that
   * could not be made durable across regions answer 503: the change is
   * stored here and will still travel (the relay ships the whole feed), but
   * the caller must not take it as done everywhere.
   */
  async #publish(records: readonly ChangeRecord[], hlc: Hlc, part: PartName): Promise<string | null> {
    const first = records[0];
    if (this.replication === null || first === undefined) return null;
    const change: Change = { sessionId: first.sessionId, hlc, origin: this.settings.region, records };
    try {
      return await this.replication.publish(change, part);
    } catch (error) {
      throw new TesseraError(
        'unavailable',
        'the change is stored in this region, but a majority of regions did not acknowledge it in time; it will reach them, and retrying is safe',
        { cause: error },
      );
    }
  }

  /**
   * Everything stored about a user, for a privacy request (GDPR art. 15):
   * every session of theirs — live, expired, ended — with its devices
   * (token hashes and secrets left out), cart, preferences and history.
   */
  async exportUser(userId: string): Promise<UserExport> {
    const now = this.now();
    const ids = await this.store.userSessions(userId);
    const snapshots = await Promise.all(ids.map((id) => this.store.snapshot(id)));
    const sessions = snapshots
      .filter((snapshot): snapshot is NonNullable<typeof snapshot> => snapshot !== null && snapshot.meta.userId === userId)
      .map((snapshot) => exportedSession(snapshot, now, this.settings))
      .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0));
    return { userId, exportedAt: new Date(now).toISOString(), sessions };
  }

  /**
   * Erases what is stored about a user (GDPR art. 17): their live session ends
   * (every device logged out), and every session of theirs keeps only a
   * tombstone that names no one. Idempotent. Returns how many sessions were
   * erased here. In the global mode every region erases before the answer,
   * and the tombstones travel, so that a late change cannot name the user again.
   */
  async eraseUser(userId: string): Promise<number> {
    const erased = await this.store.eraseUser(userId, this.now(), this.clock.now());
    if (this.replication !== null) {
      try {
        await this.replication.eraseElsewhere(userId);
      } catch (error) {
        throw new TesseraError('unavailable', 'the user is erased in this region, but not every other region confirmed it in time; retry (erasing again is harmless)', { cause: error });
      }
    }
    return erased;
  }

  #applyOptions(ifVersion?: string, seen?: Seen): { now: number; hlc: Hlc; ifVersion?: string; seen?: Seen } {
    const options = { now: this.now(), hlc: this.clock.now(), ...(seen === undefined ? {} : { seen }) };
    return ifVersion === undefined ? options : { ...options, ifVersion };
  }

  /** A device label as stored: its address truncated (dropped when it is not an IP address). */
  #label(label: DeviceLabel = {}): DeviceLabel {
    if (label.ip === undefined) return label;
    const { ip, ...rest } = label;
    const kept = truncateAddress(ip, this.settings.addressPrefixes);
    return kept === undefined ? rest : { ...rest, ip: kept };
  }

  /** Where a request came from, as stored: the address truncated. */
  #seen(seen: Seen | undefined): Seen | undefined {
    if (seen === undefined) return undefined;
    const ip = seen.ip === undefined ? undefined : truncateAddress(seen.ip, this.settings.addressPrefixes);
    const kept: Seen = { ...(ip !== undefined ? { ip } : {}), ...(seen.country !== undefined ? { country: seen.country } : {}) };
    return kept.ip === undefined && kept.country === undefined ? undefined : kept;
  }

  /** A sign-in's level, and — transient — its own limits, each capped by the session's. */
  #authOptions(request: SignInRequest, now: number): DeviceAuthOptions {
    const { transient, idleTimeoutMs, absoluteTimeoutMs } = this.settings;
    return {
      ...(request.authLevel !== undefined ? { authLevel: request.authLevel } : {}),
      ...(request.persistent === false
        ? {
            transient: {
              idleTimeoutMs: Math.min(transient.idleTimeoutMs, idleTimeoutMs),
              absoluteExpiresAt: now + Math.min(transient.absoluteTimeoutMs, absoluteTimeoutMs),
            },
          }
        : {}),
    };
  }

  async #applied(result: ApplyResult, parsed: ParsedToken): Promise<LoadedSession> {
    switch (result.status) {
      case 'applied':
        this.clock.observe(result.hlc);
        return result.session;
      case 'unauthorized':
        await this.#revokeIfReused(parsed);
        throw invalidToken();
      case 'not-found':
        throw invalidToken();
      case 'version-mismatch':
        throw new TesseraError('version-mismatch', `the part is at version ${result.version}; read it again and retry`);
      case 'rejected':
        throw new TesseraError(result.code, result.detail);
    }
  }

  async #requireCsrf(parsed: ParsedToken, presented: string): Promise<void> {
    const now = this.now();
    const session = await this.#load(parsed, [], now);
    if (session === null || !isAccepted(session.credential)) {
      if (session?.credential === 'reused') await this.#revokeStolenFamily(parsed);
      throw invalidToken();
    }
    if (csrfOf(session, parsed, presented) !== 'valid') {
      throw new TesseraError('csrf-mismatch', 'the Tessera-CSRF header does not belong to this session and device');
    }
  }

  async #revokeIfReused(parsed: ParsedToken): Promise<void> {
    const now = this.now();
    const session = await this.#load(parsed, [], now);
    if (session?.credential === 'reused') {
      await this.#revokeStolenFamily(parsed);
    }
  }

  /** A rotated-out token came back after its grace window: treat the family as stolen. */
  async #revokeStolenFamily(parsed: ParsedToken): Promise<void> {
    this.events.tokenReuse({ sessionId: parsed.sessionId, deviceId: parsed.deviceId });
    await this.#adminApply(parsed.sessionId, { kind: 'device.revoke', deviceId: parsed.deviceId, reason: 'reuse' });
  }

  async #liveGuest(guestToken: string, now: number): Promise<{ parsed: ParsedToken; session: LoadedSession } | null> {
    const parsed = parseToken(guestToken);
    if (parsed === null) return null;
    const session = await this.#load(parsed, ['cart', 'history'], now);
    if (session === null) return null;
    // A guest cookie is a presentation of the token like any other: a rotated-out one is theft.
    if (session.credential === 'reused') {
      await this.#revokeStolenFamily(parsed);
      return null;
    }
    if (session.meta.userId !== null) return null;
    return isAccepted(session.credential) ? { parsed, session } : null;
  }

  /** Joins the guest's cart and history into the user's session, then retires the guest session. */
  async #absorbGuest(
    target: LoadedSession,
    guest: { parsed: ParsedToken; session: LoadedSession },
    now: number,
  ): Promise<{ session: LoadedSession; consistency: string | null }> {
    const hlc = this.clock.now();
    const sessionId = target.meta.id;
    const origin = this.settings.region;
    const records: ChangeRecord[] = [];
    if (guest.session.cart) {
      records.push({ sessionId, part: 'cart', state: rebaseCart(guest.session.cart, `guest-${guest.parsed.sessionId}`), hlc, origin });
    }
    if (guest.session.history) records.push({ sessionId, part: 'history', state: guest.session.history, hlc, origin });
    await this.store.merge(records, now);
    const consistency = await this.#publish(records, hlc, 'cart');
    // The guest session ends as merged into this one: what an event about it tells.
    await this.#adminApply(guest.parsed.sessionId, { kind: 'session.end', reason: `merged:${sessionId}` });
    return { session: (await this.store.load(sessionId, [], now)) ?? target, consistency };
  }
}

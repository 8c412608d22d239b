/**
 * The use cases of Tessera — sign in, validate, change a part, rotate, revoke,
 * log out — over a `SessionStore`. Knows nothing of HTTP: failures are
 * `TesseraError`s with catalogued codes, which the edge renders.
 */
import { rebaseCart } from '../domain/cart.js';
import type { DeviceAuthOptions, DeviceLabel, RevokeReason, Seen } from '../domain/devices.js';
import { isLive, newDevice } from '../domain/devices.js';
import { TesseraError } from '../domain/errors.js';
import type { Limits } from '../domain/limits.js';
import { validateOperation } from '../domain/validate.js';
import type { Hlc, HybridLogicalClock } from '../domain/hlc.js';
import type { DeviceLimitAction, Operation } from '../domain/operations.js';
import type { ChangeRecord, DataPart } from '../domain/parts.js';
import type { SessionMeta } from '../domain/session.js';
import type { ApplyResult, Caller, LoadedSession, SessionStore } from '../store/session-store.js';
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
}

export interface Authenticated {
  readonly session: LoadedSession;
  readonly deviceId: string;
  readonly csrf: CsrfCheck;
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

export class SessionService {
  constructor(
    private readonly store: SessionStore,
    private readonly clock: HybridLogicalClock,
    private readonly settings: ServiceSettings,
    private readonly events: ServiceEvents,
    private readonly now: () => number = Date.now,
  ) {}

  /** How answers show stored details (addresses truncated to the configured prefixes). */
  get views(): ViewSettings {
    return { addressPrefixes: this.settings.addressPrefixes };
  }

  async signIn(request: SignInRequest): Promise<SignedIn> {
    const now = this.now();
    const guest = request.userId !== undefined && request.guestToken !== undefined ? await this.#liveGuest(request.guestToken, now) : null;
    const sessionId = newSessionId();
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
    const created = await this.store.create({ meta, deviceId, device, atDeviceLimit }, { now, hlc });
    if (created.status === 'rejected') throw new TesseraError(created.code, created.detail);
    let session = created.session;
    this.clock.observe(session.meta.t);
    if (guest !== null) session = await this.#absorbGuest(session, guest, now);
    this.events.sessionCreated({ sessionId: session.meta.id, joined: created.status === 'joined', guestMerged: guest !== null });
    return {
      // A device that joined the user's session gets a token naming that session.
      token: formatToken(session.meta.id, deviceId, 0, secret),
      csrfToken: csrfToken(session.meta.csrfSecret, session.meta.id, deviceId),
      session: sessionInfo(session, deviceId),
    };
  }

  /**
   * The session behind a token, with the named parts. Throws `invalid-token`.
   * `seen`: where the request came from, recorded with the device's activity when it is due.
   */
  async authenticate(token: string | undefined, parts: readonly DataPart[], csrf?: string, seen?: Seen): Promise<Authenticated> {
    const parsed = parseToken(token);
    if (parsed === null) throw invalidToken();
    const now = this.now();
    const session = await this.store.load(parsed.sessionId, parts, now, { credential: parsed });
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
    return { session, deviceId: parsed.deviceId, csrf: csrfOf(session, parsed, csrf) };
  }

  /** Applies an operation for the token's device: one store round trip (two with a CSRF header). */
  async mutate(token: string | undefined, op: Operation, options: MutationOptions = {}): Promise<Authenticated> {
    const parsed = parseToken(token);
    if (parsed === null) throw invalidToken();
    const invalid = validateOperation(op, this.settings.limits);
    if (invalid !== null) throw new TesseraError(invalid.code, invalid.detail);
    if (options.csrf !== undefined) await this.#requireCsrf(parsed, options.csrf);
    const caller: Caller = { kind: 'device', deviceId: parsed.deviceId, tokenHash: parsed.hash, ...(parsed.gen === undefined ? {} : { gen: parsed.gen }) };
    const result = await this.store.apply(parsed.sessionId, caller, op, this.#applyOptions(options.ifVersion, this.#seen(options.seen)));
    return { session: await this.#applied(result, parsed), deviceId: parsed.deviceId, csrf: options.csrf === undefined ? 'absent' : 'valid' };
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
    const { session } = await this.mutate(
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
    };
  }

  async logout(token: string | undefined, csrf?: string): Promise<void> {
    const parsed = parseToken(token);
    if (parsed === null) throw invalidToken();
    await this.mutate(token, { kind: 'device.revoke', deviceId: parsed.deviceId, reason: 'logout' }, csrf === undefined ? {} : { csrf });
  }

  /** Revokes one device of the token's session (the token's own: a logout). */
  async revokeDevice(token: string | undefined, deviceId: string, options: MutationOptions = {}): Promise<void> {
    const parsed = parseToken(token);
    if (parsed === null) throw invalidToken();
    const reason: RevokeReason = deviceId === parsed.deviceId ? 'logout' : 'revoked';
    await this.mutate(token, { kind: 'device.revoke', deviceId, reason }, options);
  }

  /** Logs every device out: the session ends. */
  async logoutEverywhere(token: string | undefined, options: MutationOptions = {}): Promise<void> {
    await this.mutate(token, { kind: 'session.end', reason: 'ended' }, options);
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
    await this.store.apply(sessionId, { kind: 'admin' }, { kind: 'session.end', reason: 'admin' }, this.#applyOptions());
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
   * tombstone that names no one. Idempotent. Returns how many sessions were erased.
   */
  async eraseUser(userId: string): Promise<number> {
    return this.store.eraseUser(userId, this.now(), this.clock.now());
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
    const session = await this.store.load(parsed.sessionId, [], now, { credential: parsed });
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
    const session = await this.store.load(parsed.sessionId, [], now, { credential: parsed });
    if (session?.credential === 'reused') {
      await this.#revokeStolenFamily(parsed);
    }
  }

  /** A rotated-out token came back after its grace window: treat the family as stolen. */
  async #revokeStolenFamily(parsed: ParsedToken): Promise<void> {
    await this.store.apply(parsed.sessionId, { kind: 'admin' }, { kind: 'device.revoke', deviceId: parsed.deviceId, reason: 'reuse' }, this.#applyOptions());
    this.events.tokenReuse({ sessionId: parsed.sessionId, deviceId: parsed.deviceId });
  }

  async #liveGuest(guestToken: string, now: number): Promise<{ parsed: ParsedToken; session: LoadedSession } | null> {
    const parsed = parseToken(guestToken);
    if (parsed === null) return null;
    const session = await this.store.load(parsed.sessionId, ['cart', 'history'], now, { credential: parsed });
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
  ): Promise<LoadedSession> {
    const hlc = this.clock.now();
    const sessionId = target.meta.id;
    const origin = this.settings.region;
    const records: ChangeRecord[] = [];
    if (guest.session.cart) {
      records.push({ sessionId, part: 'cart', state: rebaseCart(guest.session.cart, `guest-${guest.parsed.sessionId}`), hlc, origin });
    }
    if (guest.session.history) records.push({ sessionId, part: 'history', state: guest.session.history, hlc, origin });
    await this.store.merge(records, now);
    // The guest session ends as merged into this one: what an event about it tells.
    await this.store.apply(guest.parsed.sessionId, { kind: 'admin' }, { kind: 'session.end', reason: `merged:${sessionId}` }, this.#applyOptions());
    return (await this.store.load(sessionId, [], now)) ?? target;
  }
}

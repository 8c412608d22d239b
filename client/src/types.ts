/**
 * The shapes of API v1 as the SDK returns them. Times are ISO 8601 strings,
 * exactly as sent; versions are opaque strings to pass back as `ifMatch`.
 */

/** The parts of a session that can be read and versioned separately. */
export type SessionPart = 'cart' | 'prefs' | 'history' | 'devices';

export const SESSION_PARTS: readonly SessionPart[] = ['cart', 'prefs', 'history', 'devices'];

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface SessionInfo {
  readonly id: string;
  /** The signed-in user, or null for a guest session. */
  readonly userId?: string | null;
  readonly deviceId: string;
  readonly createdAt: string;
  readonly lastActiveAt: string;
  readonly expiresAt: string;
  /** When the user last proved who they are on this device (sign-in or `reauthenticate`); absent from a Tessera older than this SDK. */
  readonly authenticatedAt?: string;
  /** How, as the app said at sign-in or re-authentication (`pwd`, `otp`, `webauthn`, …). */
  readonly authLevel?: string;
  /** False for a transient sign-in ("remember me" unticked). */
  readonly persistent?: boolean;
}

/** Browser or operating system, as parsed from a device's user agent. */
export interface Software {
  readonly name: string;
  readonly version?: string;
}

export interface Device {
  readonly id: string;
  readonly name?: string;
  readonly kind?: string;
  readonly browser?: Software;
  readonly os?: Software;
  /** `desktop`, `mobile`, `tablet`, `tv` or `bot`. */
  readonly platform?: string;
  /** The address it signed in from, truncated (by default to a /24 or /48). */
  readonly ip?: string;
  /** The address it was last seen from, truncated alike. */
  readonly lastIp?: string;
  readonly country?: string;
  readonly lastCountry?: string;
  readonly createdAt: string;
  readonly lastActiveAt: string;
  readonly authenticatedAt?: string;
  readonly authLevel?: string;
  readonly persistent?: boolean;
  /** True for the device whose token made the request. */
  readonly current: boolean;
}

/** How a new device describes itself; shown in "my devices" lists. */
export interface DeviceLabel {
  readonly name?: string;
  readonly kind?: string;
  readonly userAgent?: string;
  /** The address it signs in from; Tessera keeps it truncated. */
  readonly ip?: string;
  /** The country or region it signs in from, ISO 3166 (`DE`, `US-CA`). */
  readonly country?: string;
}

export interface CartItem {
  readonly sku: string;
  readonly quantity: number;
  readonly attributes?: JsonObject;
  readonly addedAt: string;
}

/** A cart, items in the order first added, with the version to use as `ifMatch`. */
export interface Cart {
  readonly items: CartItem[];
  readonly version: string;
}

export interface Prefs {
  readonly prefs: JsonObject;
  readonly version: string;
}

export interface HistoryItem {
  readonly productId: string;
  readonly viewedAt: string;
}

/** Recently viewed products, newest first. */
export interface History {
  readonly items: HistoryItem[];
  readonly version: string;
}

export interface DeviceList {
  readonly devices: Device[];
  /** The devices part's version (the answer's ETag). */
  readonly version: string | undefined;
}

/** What sign-in, guest creation and rotation return: the device's new credentials. */
export interface Credentials {
  /** The end-user token (`tss1_…`): hand it to the browser or app, never log it. */
  readonly token: string;
  /** Bound to this session and device; send it back as `csrfToken` on mutations. */
  readonly csrfToken: string;
  readonly session: SessionInfo;
}

/** The server's verdict on the `csrfToken` passed to `getSession`. */
export type CsrfState = 'valid' | 'invalid' | 'absent';

/** The shape of each part inside a whole-session answer. */
export interface PartShapes {
  cart: { items: CartItem[] };
  prefs: JsonObject;
  history: { items: HistoryItem[] };
  devices: Device[];
}

/** `GET /v1/session`: the session and the parts that were asked for. */
export type SessionView<P extends SessionPart = never> = {
  readonly session: SessionInfo;
  readonly versions: Partial<Record<SessionPart, string>>;
  readonly csrf: CsrfState;
} & { readonly [K in P]: PartShapes[K] } & { readonly [K in Exclude<SessionPart, P>]?: PartShapes[K] };

export interface UserDevices {
  readonly sessionId: string;
  readonly devices: Device[];
}

/** A device in a privacy export: everything stored of it but its token hashes. */
export interface ExportedDevice extends Omit<Device, 'current'> {
  readonly userAgent?: string;
  readonly revokedAt?: string;
  readonly revokedFor?: string;
}

/** Everything Tessera holds about a user (`exportUser`). */
export interface UserExport {
  readonly userId: string;
  readonly exportedAt: string;
  readonly sessions: Array<{
    readonly id: string;
    readonly state: 'live' | 'ended' | 'expired' | 'merged';
    readonly createdAt: string;
    readonly lastActiveAt: string;
    readonly expiresAt: string;
    readonly endedAt?: string;
    readonly mergedInto?: string;
    readonly devices: ExportedDevice[];
    readonly cart: { readonly items: CartItem[] };
    readonly prefs: JsonObject;
    readonly history: { readonly items: HistoryItem[] };
  }>;
}

/** What a session event is about; see docs/sdk.md#session-events. */
export type SessionEventType =
  | 'session.signed_in'
  | 'session.rotated'
  | 'session.token_reused'
  | 'session.device_revoked'
  | 'session.logged_out'
  | 'session.ended'
  | 'session.guest_merged';

/** A session event, as a webhook delivers it (`verifyWebhook` returns it). */
export interface SessionEvent {
  /** The delivery's `webhook-id`: the same on every retry of the event, so de-duplicate by it. */
  readonly id: string;
  readonly type: SessionEventType;
  /** When the change behind it was made. */
  readonly timestamp: string;
  readonly data: {
    readonly sessionId: string;
    readonly userId: string | null;
    readonly deviceId?: string;
    readonly device?: { readonly name?: string; readonly kind?: string; readonly country?: string };
    readonly generation?: number;
    readonly authenticatedAt?: string;
    readonly authLevel?: string;
    readonly persistent?: boolean;
    /** `session.device_revoked`: `revoked`, `admin` or `limit`; `session.ended`: `ended`, `admin` or `erased`. */
    readonly reason?: string;
    readonly revokedAt?: string;
    readonly deviceIds?: readonly string[];
    readonly guestSessionId?: string;
    readonly endedAt?: string;
  };
}

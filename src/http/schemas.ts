/**
 * JSON schemas of API v1 (TypeBox). Fastify validates requests and serializes
 * responses with them, and `/openapi.json` is generated from them.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { ProblemCode } from '../domain/errors.js';
import { MAX_ATTRIBUTE_KEYS, PRINTABLE_ID as PRINTABLE_ID_RULE } from '../domain/validate.js';
import { PROBLEMS } from './problems.js';
import { DATA_PARTS } from '../domain/parts.js';
import type { Limits } from '../domain/limits.js';
import { COUNTRY } from '../service/addresses.js';

declare module 'fastify' {
  interface FastifySchema {
    /**
     * Request headers the route reads, for OpenAPI only: Fastify does not
     * validate them (the handlers parse them, request-context.ts), so reads
     * pay nothing for the documentation.
     */
    documentedHeaders?: TSchema;
    /** The request body may be left out (OpenAPI `requestBody.required: false`). */
    'x-optional-body'?: boolean;
  }
}

/** Printable ASCII, no leading or trailing space (the domain's rule, `validateOperation`, as a schema pattern). */
const PRINTABLE_ID = PRINTABLE_ID_RULE.source;

export const Id = (description: string, limits: Limits) =>
  Type.String({ minLength: 1, maxLength: limits.idLength, pattern: PRINTABLE_ID, description });

export const Timestamp = Type.String({ format: 'date-time' });

/** ISO 3166-1 alpha-2, optionally with a subdivision (`DE`, `US-CA`): as a CDN's geo header gives it. */
export const Country = (description: string) => Type.String({ pattern: COUNTRY.source, maxLength: 6, description });

/** The app's name for how the user authenticated: letters, digits and `._:-`, up to 32. */
export const AuthLevel = Type.String({
  pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,31}$',
  description: 'How the user authenticated, as the app names it (an acr/amr-like value: `pwd`, `otp`, `webauthn`, `aal2`…).',
});

export const DeviceLabel = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    kind: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
    userAgent: Type.Optional(Type.String({ maxLength: 512 })),
    ip: Type.Optional(Type.String({ maxLength: 64, description: 'The address the user signs in from. Kept truncated (TESSERA_IPV4_PREFIX, TESSERA_IPV6_PREFIX; /24 and /48 by default); a value that is not an IP address is not kept.' })),
    country: Type.Optional(Country('Country or region the user signs in from, as the app knows it (e.g. its CDN’s geo header).')),
  },
  { additionalProperties: false },
);

export const SessionInfo = Type.Object(
  {
    id: Type.String(),
    userId: Type.Union([Type.String(), Type.Null()]),
    deviceId: Type.String(),
    createdAt: Timestamp,
    lastActiveAt: Timestamp,
    expiresAt: Timestamp,
    authenticatedAt: Type.String({ format: 'date-time', description: 'When the user last proved who they are on this device: sign-in or re-authentication.' }),
    authLevel: Type.Optional(Type.String({ description: 'How, as the app said at sign-in or re-authentication.' })),
    persistent: Type.Boolean({ description: 'False for a transient sign-in ("remember me" unticked): keep its cookie for the browser session only.' }),
  },

);

const Software = Type.Object({ name: Type.String(), version: Type.Optional(Type.String()) });

export const Device = Type.Object(
  {
    id: Type.String(),
    name: Type.Optional(Type.String()),
    kind: Type.Optional(Type.String()),
    browser: Type.Optional(Software),
    os: Type.Optional(Software),
    platform: Type.Optional(Type.String({ description: '`desktop`, `mobile`, `tablet`, `tv` or `bot`, as the user agent tells.' })),
    ip: Type.Optional(Type.String({ description: 'The address it signed in from, truncated.' })),
    lastIp: Type.Optional(Type.String({ description: 'The address it was last seen from (recorded with its activity), truncated.' })),
    country: Type.Optional(Type.String()),
    lastCountry: Type.Optional(Type.String()),
    createdAt: Timestamp,
    lastActiveAt: Timestamp,
    authenticatedAt: Timestamp,
    authLevel: Type.Optional(Type.String()),
    persistent: Type.Boolean(),
    current: Type.Boolean(),
  },

);

/** A device in a privacy export: a Device with what else is stored of it (never token hashes). */
export const ExportedDevice = Type.Object({
  ...Type.Omit(Device, ['current']).properties,
  userAgent: Type.Optional(Type.String()),
  revokedAt: Type.Optional(Timestamp),
  revokedFor: Type.Optional(Type.String({ description: '`logout`, `revoked`, `admin`, `reuse`, `limit`, `ended`, `erased` or `merged:<sessionId>`' })),
});

export const Attributes = Type.Object({}, { additionalProperties: true, maxProperties: MAX_ATTRIBUTE_KEYS });

export const CartItem = Type.Object({
  sku: Type.String(),
  quantity: Type.Integer(),
  attributes: Type.Optional(Attributes),
  addedAt: Timestamp,
});

export const CartItems = Type.Object({ items: Type.Array(CartItem) });
export const Cart = Type.Object({ items: Type.Array(CartItem), version: Type.String() });

export const AnyObject = Type.Object({}, { additionalProperties: true });
export const Prefs = Type.Object({ prefs: AnyObject, version: Type.String() });

export const HistoryItem = Type.Object({ productId: Type.String(), viewedAt: Timestamp });
export const History = Type.Object({ items: Type.Array(HistoryItem), version: Type.String() });

export const Versions = Type.Object(Object.fromEntries(DATA_PARTS.map((p) => [p, Type.String()])) as Record<string, TSchema>);

/** `GET /v1/session`: the parts asked for, every version and the CSRF check. */
export const SessionRead = Type.Object({
  session: SessionInfo,
  cart: Type.Optional(CartItems),
  prefs: Type.Optional(AnyObject),
  history: Type.Optional(Type.Object({ items: Type.Array(HistoryItem) })),
  devices: Type.Optional(Type.Array(Device)),
  versions: Versions,
  csrf: Type.Union([Type.Literal('valid'), Type.Literal('invalid'), Type.Literal('absent')]),
});

export const SignedIn = Type.Object({
  token: Type.String({ description: 'The end-user token (tss1_…). Returned once; Tessera stores only its hash.' }),
  csrfToken: Type.String(),
  session: SessionInfo,
});

/** The problem document (RFC 9457); shared by every route's error answers as `#/components/schemas/Problem`. */
export const Problem = Type.Object(
  {
    type: Type.String({ description: '`/problems/<code>`; GET it for what the code means' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    instance: Type.Optional(Type.String()),
  },
  { $id: 'Problem', title: 'Problem' },
);

/** Problem answers of the routes, by status; `application/problem+json` as problem.ts sends them. */
export function problemResponses(codes: readonly ProblemCode[]): Record<number, object> {
  const byStatus = new Map<number, ProblemCode[]>();
  for (const code of new Set(codes)) {
    const { status } = PROBLEMS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus].sort(([a], [b]) => a - b).map(([status, list]) => [
      status,
      {
        description: list.map((code) => `\`/problems/${code}\`: ${PROBLEMS[code].title}`).join('; '),
        content: { 'application/problem+json': { schema: Type.Ref(Problem) } },
      },
    ]),
  );
}

/** What every /v1 route may answer: bad query or parameters, API key or its scopes, admission control, store down. */
export const CALLER_PROBLEMS: readonly ProblemCode[] = ['validation-failed', 'invalid-api-key', 'forbidden', 'rate-limited', 'unavailable'];
/** Routes that need the end-user token. */
export const TOKEN_PROBLEMS: readonly ProblemCode[] = [...CALLER_PROBLEMS, 'invalid-token'];
/** Routes whose request is parsed for a body (even one that must be empty). */
export const BODY_PROBLEMS: readonly ProblemCode[] = ['payload-too-large', 'unsupported-media-type'];
/** Changes to a part: CSRF and If-Match apply. */
export const MUTATION_PROBLEMS: readonly ProblemCode[] = [...TOKEN_PROBLEMS, ...BODY_PROBLEMS, 'csrf-mismatch', 'version-mismatch'];

/** A 200 answer that carries its part's version as ETag. */
export function withETag(schema: TSchema, description: string): object {
  return {
    description,
    headers: { etag: Type.String({ description: "The part's version as a strong entity tag (a digest of the part, the same in every region); send it as If-Match to change the part only if it has not moved on." }) },
    content: { 'application/json': { schema } },
  };
}

/** What a change of a part answers: the part's document (200), or its new version alone (204) when the caller prefers a minimal answer. */
export function changedPart(schema: TSchema, description: string): Record<200 | 204, object> {
  return {
    200: withETag(schema, description),
    204: {
      type: 'null',
      description: 'Applied, answered minimally (the request said Prefer: return=minimal): no body',
      headers: {
        etag: Type.String({ description: "The part's new version as a strong entity tag, as the 200 answer's ETag." }),
        'preference-applied': Type.Literal('return=minimal'),
      },
    },
  };
}

const PreferHeader = Type.String({
  maxLength: 256,
  description:
    'RFC 7240. `return=minimal`: answer 204 with the part\'s new version as ETag and no body — the part is not rendered, for callers that do not need it. Other preferences are ignored.',
});

const CsrfHeader = Type.String({
  description: 'The csrfToken of sign-in or rotation. On a mutation a wrong one is 403 csrf-mismatch; on GET /v1/session it is reported in `csrf`. Empty counts as absent.',
});
const IfMatchHeader = Type.String({
  description: 'A version (ETag) of the part: if the part has moved on, nothing is written and the answer is 412 version-mismatch. `*` or absent: no condition.',
});

const ClientIpHeader = Type.String({
  description:
    "The end user's address (e.g. the BFF's req.ip): recorded, truncated, as where the device was last seen when its activity is recorded (at most once per TESSERA_SLIDE_AFTER). Must be an IP address.",
});
const ClientCountryHeader = Type.String({
  pattern: COUNTRY.source,
  description: "The end user's country or region (ISO 3166, e.g. from a CDN's geo header), recorded alike.",
});
const SeenHeaders = { 'tessera-client-ip': Type.Optional(ClientIpHeader), 'tessera-client-country': Type.Optional(ClientCountryHeader) };
const ConsistencyHeader = Type.String({
  maxLength: 512,
  description:
    "Global mode: the Tessera-Consistency answers of this session's writes, comma-separated — the latest per stream (`<region>.<g|r>.<shard>`), up to 8; the SDK keeps and sends them for you. A region that has not applied them yet waits up to TESSERA_CONSISTENCY_WAIT, then answers with `Tessera-Stale: true` if it still has not. Unknown or malformed entries are ignored.",
});

/** Headers of GET /v1/session, rotation and logout (documentation only). */
export const CsrfHeaders = Type.Object({ 'tessera-csrf': Type.Optional(CsrfHeader), 'tessera-consistency': Type.Optional(ConsistencyHeader), ...SeenHeaders });
/** Headers of a change to a part (documentation only). */
export const MutationHeaders = Type.Object({ 'tessera-csrf': Type.Optional(CsrfHeader), 'if-match': Type.Optional(IfMatchHeader), ...SeenHeaders });
/** Headers of a change to the cart, preferences or history: a mutation's, and Prefer (documentation only). */
export const PartChangeHeaders = Type.Object({ ...MutationHeaders.properties, prefer: Type.Optional(PreferHeader) });
/** Headers of a read of one part (documentation only). */
export const ReadHeaders = Type.Object({ 'tessera-consistency': Type.Optional(ConsistencyHeader), ...SeenHeaders });

/** A route that takes no query parameters: any is refused. */
export const NoQuery = Type.Object({}, { additionalProperties: false });

export function signInBody(limits: Limits) {
  return Type.Object(
    {
      userId: Type.Optional(Id('The signed-in user; omit for a guest session.', limits)),
      device: Type.Optional(DeviceLabel),
      guestToken: Type.Optional(Type.String({ maxLength: 256 })),
      persistent: Type.Optional(
        Type.Boolean({
          description:
            'False: a transient sign-in ("remember me" unticked). Its device gets its own, shorter idle timeout and lifetime (TESSERA_TRANSIENT_IDLE_TIMEOUT, TESSERA_TRANSIENT_ABSOLUTE_TIMEOUT). Default true.',
        }),
      ),
      authLevel: Type.Optional(AuthLevel),
      atDeviceLimit: Type.Optional(
        Type.Union([Type.Literal('refuse'), Type.Literal('end-least-recent')], {
          description:
            "When the user's session already has TESSERA_MAX_DEVICES devices: refuse (413), or log out the least recently active device to make room. Default: TESSERA_DEVICE_LIMIT_ACTION.",
        }),
      ),
    },
    { additionalProperties: false },
  );
}

/** `POST /v1/session/reauthenticate`: how the user just proved who they are. */
export const ReauthenticateBody = Type.Object({ authLevel: Type.Optional(AuthLevel) }, { additionalProperties: false });
export type ReauthenticateBodyT = Static<typeof ReauthenticateBody>;

export function addItemBody(limits: Limits) {
  return Type.Object(
    {
      sku: Id('Stock-keeping unit.', limits),
      quantity: Type.Optional(Type.Integer({ minimum: 1, maximum: limits.maxQuantity, default: 1 })),
      attributes: Type.Optional(Attributes),
    },
    { additionalProperties: false },
  );
}

export function setItemBody(limits: Limits) {
  return Type.Object(
    {
      quantity: Type.Integer({ minimum: 1, maximum: limits.maxQuantity }),
      attributes: Type.Optional(Attributes),
    },
    { additionalProperties: false },
  );
}

export function skuParams(limits: Limits) {
  return Type.Object({ sku: Id('Stock-keeping unit.', limits) });
}

export function historyBody(limits: Limits) {
  return Type.Object(
    {
      productId: Id('Product viewed.', limits),
      viewedAt: Type.Optional(Timestamp),
    },
    { additionalProperties: false },
  );
}

const PART = `(?:${DATA_PARTS.join('|')})`;
/** Known parts, comma-separated, none named twice (the lookahead refuses a part that comes back later in the list). */
const PARTS_PATTERN = `^(?!(?:[a-z]+,)*(${DATA_PARTS.join('|')}),(?:[a-z]+,)*\\1(?:,|$))${PART}(?:,${PART})*$`;

export const PartsQuery = Type.Object(
  {
    parts: Type.Optional(
      Type.String({
        maxLength: 64,
        pattern: PARTS_PATTERN,
        description: 'Comma-separated parts to return, each at most once: cart, prefs, history, devices. Default: none.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const DeviceParams = Type.Object({ deviceId: Type.String({ minLength: 1, maxLength: 128 }) });

/** `DELETE /v1/session/devices`: `except=current` keeps the caller's device (and the session). */
export const LogoutDevicesQuery = Type.Object(
  {
    except: Type.Optional(
      Type.Literal('current', { description: 'Keep this device signed in (and the session alive): log out every other device.' }),
    ),
  },
  { additionalProperties: false },
);

export type SignInBody = Static<ReturnType<typeof signInBody>>;
export type AddItemBody = Static<ReturnType<typeof addItemBody>>;
export type SetItemBody = Static<ReturnType<typeof setItemBody>>;
export type HistoryBody = Static<ReturnType<typeof historyBody>>;
export type PartsQueryT = Static<typeof PartsQuery>;
export type LogoutDevicesQueryT = Static<typeof LogoutDevicesQuery>;

/**
 * JSON schemas of API v1 (TypeBox). Fastify validates requests and serializes
 * responses with them, and `/openapi.json` is generated from them.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { DATA_PARTS } from '../domain/parts.js';
import type { Limits } from '../domain/limits.js';

/** Printable ASCII, no leading or trailing space. */
const PRINTABLE_ID = '^[\\x21-\\x7E](?:[\\x20-\\x7E]*[\\x21-\\x7E])?$';

export const Id = (description: string, limits: Limits) =>
  Type.String({ minLength: 1, maxLength: limits.idLength, pattern: PRINTABLE_ID, description });

export const Timestamp = Type.String({ format: 'date-time' });

export const DeviceLabel = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    kind: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
    userAgent: Type.Optional(Type.String({ maxLength: 512 })),
    ip: Type.Optional(Type.String({ maxLength: 64 })),
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
  },

);

export const Device = Type.Object(
  {
    id: Type.String(),
    name: Type.Optional(Type.String()),
    kind: Type.Optional(Type.String()),
    createdAt: Timestamp,
    lastActiveAt: Timestamp,
    current: Type.Boolean(),
  },

);

export const Attributes = Type.Object({}, { additionalProperties: true, maxProperties: 32 });

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

export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    instance: Type.Optional(Type.String()),
  },

);

export const TokenHeaders = Type.Object({
  'tessera-token': Type.Optional(Type.String({ description: 'End-user token (tss1_…)' })),
  'tessera-csrf': Type.Optional(Type.String({ maxLength: 128 })),
  'if-match': Type.Optional(Type.String({ maxLength: 128 })),
});

export function signInBody(limits: Limits) {
  return Type.Object(
    {
      userId: Type.Optional(Id('The signed-in user; omit for a guest session.', limits)),
      device: Type.Optional(DeviceLabel),
      guestToken: Type.Optional(Type.String({ maxLength: 256 })),
    },
    { additionalProperties: false },
  );
}

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

export const PartsQuery = Type.Object(
  {
    parts: Type.Optional(
      Type.String({
        maxLength: 64,
        pattern: `^(?:${DATA_PARTS.join('|')})(?:,(?:${DATA_PARTS.join('|')}))*$`,
        description: 'Comma-separated parts to return: cart, prefs, history, devices. Default: none.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const DeviceParams = Type.Object({ deviceId: Type.String({ minLength: 1, maxLength: 128 }) });

export type SignInBody = Static<ReturnType<typeof signInBody>>;
export type AddItemBody = Static<ReturnType<typeof addItemBody>>;
export type SetItemBody = Static<ReturnType<typeof setItemBody>>;
export type HistoryBody = Static<ReturnType<typeof historyBody>>;
export type PartsQueryT = Static<typeof PartsQuery>;

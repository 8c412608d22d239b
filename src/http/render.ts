/**
 * Answers that carry session parts, rendered to JSON text by hand around the
 * parts' own JSON (`domain/part-json.ts`; L1 hands over the text it keeps
 * as `LoadedSession.rendered`), so a read served from L1, and a write through
 * it, serialize only the small envelope.
 * Fastify's schema serializer is bypassed for these answers because rendering
 * open-ended JSON (preferences, cart attributes) through it cost a quarter of
 * a read's CPU (docs/PERFORMANCE.md). The route schemas still describe the
 * answers (OpenAPI), and `test/http/render.test.ts` holds every rendered
 * answer to its schema.
 */
import type { FastifyReply } from 'fastify';
import type { DataPart } from '../domain/parts.js';
import type { CsrfCheck } from '../tokens/csrf.js';
import type { LoadedSession } from '../store/session-store.js';
import { devicesView, sessionInfo, type ViewSettings } from '../service/views.js';
import { cartItemsJson, historyItemsJson, prefsJson } from '../domain/part-json.js';
import type { Authenticated } from '../service/session-service.js';
import { announce, etag } from './request-context.js';

const JSON_TYPE = 'application/json; charset=utf-8';

// Text L1 already holds is used as it is; the state (parsed from L1's text on first use) only when there is none.
const itemsOfCart = (session: LoadedSession): string => session.rendered?.cart ?? (session.cart ? cartItemsJson(session.cart) : '[]');
const objectOfPrefs = (session: LoadedSession): string => session.rendered?.prefs ?? (session.prefs ? prefsJson(session.prefs) : '{}');
const itemsOfHistory = (session: LoadedSession): string =>
  session.rendered?.history ?? (session.history ? historyItemsJson(session.history) : '[]');

/** `SessionInfo` as JSON (`service/views.ts`), in its key order. */
function sessionInfoJson(session: LoadedSession, deviceId: string): string {
  const info = sessionInfo(session, deviceId);
  const userId = info.userId === null ? 'null' : JSON.stringify(info.userId);
  const level = info.authLevel === undefined ? '' : `,"authLevel":${JSON.stringify(info.authLevel)}`;
  return (
    `{"id":${JSON.stringify(info.id)},"userId":${userId},"deviceId":${JSON.stringify(info.deviceId)},"createdAt":"${info.createdAt}",` +
    `"lastActiveAt":"${info.lastActiveAt}","expiresAt":"${info.expiresAt}","authenticatedAt":"${info.authenticatedAt}"${level},"persistent":${info.persistent}}`
  );
}

/** The versions object; a version is 16 hex digits (`domain/versions.ts`), never anything to escape. */
function versionsJson({ cart, prefs, history, devices }: LoadedSession['versions']): string {
  return `{"cart":"${cart}","prefs":"${prefs}","history":"${history}","devices":"${devices}"}`;
}

/** `GET /v1/session`: the session, the named parts, every version and the CSRF check. */
export function sessionJson(session: LoadedSession, parts: readonly DataPart[], deviceId: string, csrf: CsrfCheck, views: ViewSettings): string {
  let json = `{"session":${sessionInfoJson(session, deviceId)}`;
  if (parts.includes('cart')) json += `,"cart":{"items":${itemsOfCart(session)}}`;
  if (parts.includes('prefs')) json += `,"prefs":${objectOfPrefs(session)}`;
  if (parts.includes('history')) json += `,"history":{"items":${itemsOfHistory(session)}}`;
  if (parts.includes('devices')) json += `,"devices":${JSON.stringify(devicesView(session, deviceId, views).devices)}`;
  return `${json},"versions":${versionsJson(session.versions)},"csrf":"${csrf}"}`;
}

/** The Cart document: `{ items, version }`. */
export function cartJson(session: LoadedSession): string {
  return `{"items":${itemsOfCart(session)},"version":${JSON.stringify(session.versions.cart)}}`;
}

/** The preferences document: `{ prefs, version }`. */
export function prefsDocumentJson(session: LoadedSession): string {
  return `{"prefs":${objectOfPrefs(session)},"version":${JSON.stringify(session.versions.prefs)}}`;
}

/** The history document: `{ items, version }`, newest first. */
export function historyJson(session: LoadedSession): string {
  return `{"items":${itemsOfHistory(session)},"version":${JSON.stringify(session.versions.history)}}`;
}

/** The parts with a document and a route of their own. */
export type DocumentPart = 'cart' | 'prefs' | 'history';
const PART_DOCUMENTS: Readonly<Record<DocumentPart, (session: LoadedSession) => string>> = { cart: cartJson, prefs: prefsDocumentJson, history: historyJson };

/** The answer to a read of a part: its document with its version as ETag, and how consistent the read was. */
export function sendPart(reply: FastifyReply, part: DocumentPart, answer: Authenticated): FastifyReply {
  announce(reply, answer);
  return sendRendered(reply, PART_DOCUMENTS[part](answer.session), answer.session.versions[part]);
}

/**
 * The answer to a change of a part: its document, or — when the caller asked
 * for `Prefer: return=minimal` — 204 with the part's new version as ETag and
 * nothing rendered (RFC 7240; `Preference-Applied` says it was honoured).
 */
export function sendPartChanged(reply: FastifyReply, part: DocumentPart, answer: Authenticated, minimal: boolean): FastifyReply {
  if (!minimal) return sendPart(reply, part, answer);
  announce(reply, answer);
  return reply.code(204).header('etag', etag(answer.session.versions[part])).header('preference-applied', 'return=minimal').send();
}

/** Sends rendered JSON as it is (Fastify does not serialize a string sent with a JSON type), with the part's ETag. */
export function sendRendered(reply: FastifyReply, json: string, version?: string): FastifyReply {
  if (version !== undefined) reply.header('etag', etag(version));
  return reply.type(JSON_TYPE).send(json);
}
